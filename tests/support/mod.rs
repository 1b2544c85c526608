//! Fixtures shared by the integration tests, each written once. A test
//! file declares `mod support;` and uses the parts it needs.
//!
//! - [`wire`]: frames built by hand (never by the encoder under test) and
//!   the sample values of RFC 6455 (§1.3's nonce, §5.7's masking key).
//! - [`sans_io`]: the core in memory: a connection on the tests' clock,
//!   inputs fed whole and one byte at a time.
//! - [`alloc`]: the counting allocator (a binary that measures heap
//!   declares it its `#[global_allocator]`).
//! - [`timing`]: how long a timeout took, within bounds.
//! - [`procfs`]: resident memory, and which process holds a listening
//!   port.
//! - [`net`]: ports held by whoever uses them (a server's listener, a port
//!   kept refusing), a one-connection server.
//! - [`tls`]: self-signed certificates and the configs that trust them.
//! - [`blocking`], [`tokio_ws`]: echo and drain loops for each adapter.
//! - [`adapter`]: both adapters behind one blocking-style interface, and
//!   [`against_both_adapters!`], which makes each listed test two, one per
//!   adapter: a test written once runs against both.
//! - [`hostile`]: a server on either adapter and a raw TCP peer, for the
//!   hostile-peer suites.
//! - [`proxy`]: real proxies (tinyproxy, microsocks) started by the tests,
//!   and the echo servers behind them.
//! - [`child`]: child processes (the examples, `redis-server`) killed when
//!   dropped, and their output kept within bounds.

#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod alloc;
pub mod child;
pub mod net;
pub mod procfs;
pub mod sans_io;
pub mod timing;
pub mod wire;

#[cfg(feature = "blocking")]
pub mod adapter;
#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "blocking")]
pub mod hostile;
#[cfg(feature = "blocking")]
pub mod proxy;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio_ws;
