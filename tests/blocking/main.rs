//! The blocking adapter over real sockets, and the examples run as
//! processes. One test binary for all of them (each file of `tests/` is
//! a binary that links the whole dependency graph on its own); a module
//! per subject, each with its own docs. Run one with `cargo test --test
//! blocking -- split::`.
//!
//! What measures the process (heap, threads, descriptors) stays in a
//! binary of its own, where no other test runs meanwhile:
//! `blocking_memory.rs`.

#[path = "../support/mod.rs"]
mod support;

mod echo;
mod examples;
mod messages;
mod read_bounds;
mod reconnect;
mod split;
mod timeouts;
mod tls;
mod write_failures;
