//! What only the tokio adapter has: echo and split halves from tasks,
//! broadcast, the handshake on paused time, deadlines on tokio's clock,
//! interop with tokio-tungstenite. One test binary for all of them (each
//! file of `tests/` is a binary that links the whole dependency graph on
//! its own); a module per subject, each with its own docs. Run one with
//! `cargo test --all-features --test tokio -- interop::`.
//!
//! What measures the process stays in a binary of its own:
//! `tokio_memory.rs` (heap), `tokio_many.rs` (RSS, open files).

#[path = "../support/mod.rs"]
mod support;

mod broadcast;
mod echo;
mod handshake;
mod interop;
mod timeouts;
