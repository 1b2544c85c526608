//! permessage-deflate ([RFC 7692](https://www.rfc-editor.org/rfc/rfc7692)),
//! behind the `deflate` feature.
//!
//! Browsers offer it on every connection; on text such as JSON it typically
//! saves 70–90 % of the bytes on the wire.
//!
//! Everything stays sans-IO:
//! - **Negotiation** (RFC 7692 §5, §7.1) is done by the handshake: a client
//!   offers with [`ClientRequest::deflate`](crate::handshake::ClientRequest::deflate)
//!   and [`Established::deflate`](crate::handshake::Established::deflate)
//!   says what the server agreed to (an answer the client did not allow
//!   fails the handshake); a server agrees with
//!   [`AcceptOptions::deflate`](crate::handshake::AcceptOptions::deflate), which picks the
//!   first acceptable offer (malformed or unsupported offers are declined),
//!   and [`Negotiated::deflate`](crate::handshake::Negotiated::deflate) says what
//!   was agreed. [`DeflateConfig`] holds each side's preferences.
//! - **Compression** is the connection's: pass the agreed [`DeflateParams`]
//!   to [`Connection::set_deflate`](crate::Connection::set_deflate). Data
//!   messages are then compressed one message at a time (RSV1 on the first
//!   frame), control frames never; received messages with RSV1 are inflated
//!   in bounded steps, and [`Config::max_message_size`](crate::Config)
//!   applies to the *inflated* size, checked as the bytes come out, so a
//!   small frame that would inflate to gigabytes fails with 1009 after at
//!   most the limit has been produced.
//!
//! # Backend
//!
//! `flate2` with the `zlib-rs` backend: pure Rust (no C toolchain, no
//! `unsafe` in this crate), and, unlike `miniz_oxide`, it honours a window
//! smaller than 32 KiB when *compressing* (window bits 9..=15), which
//! `server_max_window_bits` / `client_max_window_bits` may require of us.
//! Inflating never needs that: a larger window decodes data made with a
//! smaller one. zlib (and zlib-rs) refuse a raw-deflate window of 8 bits;
//! when the peer limits us to 8, messages are sent as *stored* deflate
//! blocks (level 0), which contain no back-references and so fit any
//! window: correct, just not smaller.
//!
//! # Memory per connection
//!
//! Measured with a counting allocator (`tests/alloc.rs`), zlib-rs, 15-bit
//! windows, default level: the compressor holds **371 KiB**, the
//! decompressor **47 KiB**, so about **420 KiB** per connection with context
//! takeover both ways. (zlib's own formula, `2^(window_bits + 2) +
//! 2^(mem_level + 9)` for deflate and `2^window_bits` + ~7 KiB for inflate,
//! gives 256 KiB + 39 KiB; zlib-rs keeps larger tables.) Smaller windows
//! shrink the window-sized parts only. Both states are created on first
//! use: a connection that has sent and received nothing holds none. With
//! *no context takeover* for a direction (`server_no_context_takeover` /
//! `client_no_context_takeover` agreed), that direction's state is dropped
//! after every message, so an idle connection holds none of it (measured:
//! under 0.5 KiB in all after a message each way): a server with many idle
//! connections sets both flags in its [`DeflateConfig`], at the cost of a
//! worse ratio and a fresh state per message. Inflated
//! output is bounded by `max_message_size`.

mod codec;
mod params;

pub(crate) use codec::{Deflater, Inflater};
pub use params::{DeflateConfig, DeflateParams};

/// The extension token (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

#[cfg(test)]
mod tests;
