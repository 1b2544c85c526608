//! What both adapters share, over real sockets, most tests run against
//! each (`against_both_adapters!`): the opening handshake, proxies, TLS,
//! and hostile peers in the handshake and against the client. One test
//! binary for all of them (each file of `tests/` is a binary that links
//! the whole dependency graph on its own); a module per subject, each
//! with its own docs. Run one with `cargo test --test adapters --
//! proxy::`.
//!
//! The hostile suites that measure the process (a global allocator, RSS)
//! stay in binaries of their own: `hostile_frames.rs`,
//! `hostile_resources.rs`.

#[path = "../support/mod.rs"]
mod support;

mod handshake;
mod hostile_client;
mod hostile_handshake;
mod proxy;
mod tls;
