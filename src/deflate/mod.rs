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
//!   frame), control frames and messages under the
//!   [`threshold`](DeflateConfig::threshold) never; received messages with RSV1 are inflated
//!   in bounded steps, and [`Config::max_message_size`](crate::Config)
//!   applies to the *inflated* size, checked as the bytes come out, so a
//!   small frame that would inflate to gigabytes fails with 1009 after at
//!   most the limit has been produced.
//!
//! # Backend
//!
//! `zlib-rs`, pure Rust (no C toolchain, no `unsafe` in this crate): its
//! own safe API for compressing (for zlib's `memLevel`, which `flate2`
//! does not expose), and `flate2` over it for inflating. Unlike
//! `miniz_oxide`, it honours a window smaller than 32 KiB when
//! *compressing* (window bits 9..=15), which `server_max_window_bits` /
//! `client_max_window_bits` may require of us. Inflating never needs
//! that: a larger window decodes data made with a smaller one. zlib (and
//! zlib-rs) refuse a raw-deflate window of 8 bits; when the peer limits us
//! to 8, messages are sent as *stored* deflate blocks (level 0), which
//! contain no back-references and so fit any window: correct, just not
//! smaller.
//!
//! # Memory per connection
//!
//! Measured with a counting allocator (`tests/alloc.rs`,
//! `benches/deflate_table.rs`; the table is in docs/PERFORMANCE.md), heap
//! a server connection holds after a ~4 KB message each way:
//!
//! | mode | per connection |
//! |---|---:|
//! | [`ServerMode::Stateless`] (the default): `server_no_context_takeover` and `client_no_context_takeover` agreed | **0**: nothing between messages (0.5 KiB in all, less than a plain connection keeps) |
//! | the same with a [`DeflatePool`] | **0**; the pool holds at most `max_idle` compressors and decompressors for the whole server |
//! | context takeover both ways, 15 window bits, memLevel 5 ([`ServerMode::ContextTakeover`], default windows and memLevel) | 320 KiB: compressor 273, decompressor 46 |
//! | context takeover both ways, 15 window bits, memLevel 8 (zlib's defaults; this crate's before) | 418 KiB: compressor 371, decompressor 46 |
//! | context takeover both ways, 12 bits, memLevel 5 | 208 KiB: compressor 161, decompressor 46 |
//!
//! A zlib-rs compressor holds `4 × 2^window_bits` bytes (window and chain)
//! plus `7 × 2^(mem_level + 6)` (literal buffers: 112 KiB at memLevel 8,
//! 14 KiB at 5) plus a **fixed 128 KiB hash table** (zlib scales it with
//! memLevel; zlib-rs always has 65,536 entries): at least 134 KiB whatever
//! the settings. A decompressor holds 46.4 KiB whatever the window (zlib-rs
//! always gives it 32 KiB). So no setting brings a connection that keeps
//! its compression context under ~180 KiB, and the default keeps none: a
//! state is taken for one message (from the pool, or allocated) and given
//! back (or freed) after it. Both states are created on first use: a
//! connection that has sent and received nothing holds none. Inflated
//! output is bounded by `max_message_size`.
//!
//! What it costs: the ratio of each message alone. On a single ~4 KB chat
//! message that is the same (0.170 of the text either way); on a stream
//! of similar messages context takeover does much better (0.063 on the
//! chat corpus): a server that can afford 320 KiB per connection sets
//! [`ServerMode::ContextTakeover`]. And CPU: about 1.1–1.3× the time per
//! ~4 KB message of context takeover (a message compressed alone finds
//! fewer long matches, and each starts with a reset or a new state);
//! messages under the [`threshold`](DeflateConfig::threshold) (1 KiB) are
//! not compressed at all.
//!
//! # Broadcasts
//!
//! A [`PreparedMessage`](crate::PreparedMessage) sent to connections that
//! agreed `server_no_context_takeover` is compressed once (per window
//! size) and the same compressed bytes go to all of them: see
//! [`Connection::send_prepared`](crate::Connection::send_prepared).

mod codec;
mod params;
mod pool;

pub(crate) use codec::{Deflater, Inflater, Settings};
pub use params::{DeflateConfig, DeflateParams, ServerMode};
pub use pool::DeflatePool;

/// The extension token (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

#[cfg(test)]
mod tests;
