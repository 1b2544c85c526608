//! What every adapter shares, whatever way it waits (a blocking system
//! call, or a `poll_*` that returns `Pending`): the error type, the
//! connection state an adapter keeps beside the core, and the write
//! queue. The adapters (`blocking/`, `tokio/`) only move bytes and wait.

pub(crate) mod error;
pub(crate) mod outgoing;
pub(crate) mod state;

pub(crate) use state::Driver;
