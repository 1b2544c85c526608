//! The core in memory, through the public API: no sockets, no runtime.
//! One test binary for all of them (each file of `tests/` is a binary
//! that links on its own); a module per subject, each with its own docs.
//! Run one with `cargo test --test sans_io -- deflate::`.

#[path = "../support/mod.rs"]
mod support;

mod autobahn_regressions;
mod config;
mod connection;
mod deflate;
mod deflate_scale;
mod frame;
mod handshake;
#[cfg(all(feature = "http", feature = "deflate"))]
mod http_handshake;
mod pair;
