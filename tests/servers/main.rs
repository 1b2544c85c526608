//! Servers as applications write them: the axum extractor (HTTP/1.1 and
//! HTTP/2), axum's own documented patterns, two `axum_chat --redis`
//! instances, a server-wide memory budget, graceful shutdown through a
//! `ConnectionSet`. One test binary for all of them (each file of
//! `tests/` is a binary that links the whole dependency graph on its
//! own); a module per subject, each with its own docs and the features
//! it needs. Run one with `cargo test --all-features --test servers --
//! shutdown::`.
//!
//! The shutdown's leak check counts this process's threads and
//! descriptors, so it stays in a binary of its own: `shutdown_leaks.rs`.

#[path = "../support/mod.rs"]
mod support;

#[cfg(all(feature = "http2", feature = "deflate"))]
mod axum_extractor;
// The example is built by `cargo test`; alone, `cargo build --all-features
// --example axum_chat` first.
#[cfg(all(feature = "http2", feature = "tls"))]
mod axum_chat_redis;
#[cfg(feature = "axum")]
mod axum_dropin;
#[cfg(all(feature = "blocking", feature = "tokio", feature = "axum"))]
mod memory_budget;
#[cfg(all(feature = "blocking", feature = "tokio"))]
mod shutdown;
