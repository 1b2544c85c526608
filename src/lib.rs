//! A sans-IO WebSocket ([RFC 6455](https://www.rfc-editor.org/rfc/rfc6455)) core.
//!
//! The core does no I/O and reads no clock: bytes go in, bytes and events
//! come out, and time is an argument. Any I/O loop — blocking threads, mio,
//! tokio, an embedded loop — drives it and inherits its conformance.
//!
//! The pieces, from the wire up:
//! - [`frame`]: the frame header codec and payload masking (§5.2, §5.3).
//! - [`handshake`]: the opening handshake for both roles, without I/O (§4).
//! - [`Connection`]: the state machine of one connection, either role:
//!   messages, control frames, closing, limits and deadlines (§5–§8).
//! - `deflate` (feature `deflate`): permessage-deflate (RFC 7692).
//! - [`proxy`]: tunnels through HTTP (`CONNECT`) and SOCKS5 proxies, and
//!   the proxy an environment (`HTTPS_PROXY`, `NO_PROXY`, …) picks.
//!
//! - [`blocking`] (feature `blocking`, on by default): thin adapters over
//!   `std::io` / `std::net` — `connect`, `accept`, a `WebSocket` with
//!   split halves, timeouts, TLS (feature `tls`) and a reconnecting client.
//! - `tokio` (feature `tokio`): the same on tokio, cancel-safe, with
//!   `Stream` + `Sink`, split halves without a lock held across an await,
//!   and no heap held while a connection waits for input.
//! - `axum` (feature `axum`): `WebSocketUpgrade`, an extractor for axum
//!   0.8 with the feel of axum's own, over the tokio adapter; HTTP/1.1
//!   and HTTP/2 (RFC 8441 extended CONNECT) requests alike. The handshake
//!   in `http` crate types alone is feature `http` (see [`handshake`]).
//!
//! Decoders return [`Parsed::Partial`] when input ends early: incomplete input
//! is never an error. Errors say whose fault they are: [`ProtocolError`]
//! (the peer's, with the close code to send), [`HandshakeError`] (a refused
//! request, with its HTTP status and response) and [`UsageError`] (the
//! caller's). A connection that one of its own deadlines ended (an
//! unanswered keepalive, a Close never echoed) reports a [`Timeout`]: no
//! one's fault on the wire.
//!
//! # The sans-IO loop
//!
//! After the handshake, a driver owns one [`Connection`] per socket and
//! repeats: feed what it read, tell the time, take the events, issue
//! commands, write what the connection hands out, sleep until the socket or
//! the deadline wakes it. Here two connections stand in for the two ends of
//! a socket:
//!
//! ```
//! use std::io::{IoSlice, Write};
//! use std::time::Instant;
//! use wsproto::{Config, Connection, Message, Role};
//!
//! /// Writes what `conn` has to send into `socket` (here a `Vec`): the
//! /// waiting bytes as slices for a vectored write, then how many went out.
//! fn write_out(conn: &mut Connection, socket: &mut impl Write) -> std::io::Result<()> {
//!     loop {
//!         let mut slices = [IoSlice::new(&[]); 16];
//!         let n = conn.transmit_slices(&mut slices);
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         let written = socket.write_vectored(&slices[..n])?;
//!         conn.advance_transmit(written);
//!     }
//! }
//!
//! let now = Instant::now();
//! let mut client = Connection::new_at(Role::Client, Config::default(), now);
//! let mut server = Connection::new_at(Role::Server, Config::default(), now);
//! client.send_text("hello")?;
//!
//! // Whatever the client writes is what the server's socket reads.
//! let mut wire = Vec::new();
//! write_out(&mut client, &mut wire)?;
//! server.receive_data(&wire)?;            // 1. input
//! server.handle_timeout(Instant::now());  //    and the time
//! while let Some(event) = server.poll_event() {  // 2. events
//!     if let Message::Text(text) = event {
//!         server.send_text(text)?;        // 3. commands (an echo)
//!     }
//! }
//! let mut back = Vec::new();
//! write_out(&mut server, &mut back)?;     // 4. output
//! // (`poll_transmit` says when to shut the write half down.)
//! let deadline = server.poll_timeout();   // 5. when to wake if nothing comes
//! # let _ = deadline;
//! client.receive_data(&back)?;
//! assert!(matches!(client.poll_event(), Some(Message::Text(t)) if t == "hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing a driver for another runtime (mio, smol, glommio, …)
//!
//! The blocking and tokio adapters drive it through one shared driver
//! (the read loop, the write engine, the handshakes are written once;
//! each adapter only says how to wait, see [`adapter`]); a driver of your
//! own follows the same steps on every wake-up:
//!
//! 1. **Events first.** Hand out [`Connection::poll_event`] until it is
//!    empty. After each, write what it queued (the Pong to a Ping, the echo
//!    of the peer's Close) with [`transmit_slices`](Connection::transmit_slices)
//!    and [`advance_transmit`](Connection::advance_transmit); a write that
//!    would block leaves the bytes queued, nothing else to remember.
//! 2. **Time, then input.** Call [`handle_timeout`](Connection::handle_timeout)
//!    with the current time (it may queue a keepalive Ping, or end the
//!    connection: [`Connection::timed_out`]), then read once: into
//!    [`receive_buf_mut`](Connection::receive_buf_mut) followed by
//!    [`receive_commit`](Connection::receive_commit) (no copy, no
//!    zero-filling), or from a buffer of your own with
//!    [`receive_data`](Connection::receive_data). End of stream is
//!    [`receive_eof`](Connection::receive_eof). Loop to 1.
//! 3. **Wait.** When the read would block, arm a timer at
//!    [`poll_timeout`](Connection::poll_timeout) and sleep until the socket
//!    or the timer wakes you. To hold no heap while waiting, call
//!    [`release_buffers`](Connection::release_buffers) first.
//! 4. **The end.** Once [`state`](Connection::state) is
//!    [`State::Closed`], write what is left, take [`Transmit::Shutdown`]
//!    from [`poll_transmit`](Connection::poll_transmit) and shut the write
//!    side down; a client then reads (discarding) until end of stream or
//!    the close deadline, [`is_finished`](Connection::is_finished).
//!
//! Everything partial lives in the `Connection`, so a driver that keeps
//! nothing else between wake-ups is cancel-safe for free: that is how the
//! tokio adapter's `recv` can be dropped at any await point. A write error
//! is best treated as fatal (a frame may be half on the wire); reads are
//! exact and can be retried.
//!
//! # Coming from tokio-tungstenite or axum
//!
//! The tokio adapter and the axum extractor keep the names and shapes
//! those users know; what differs is here. axum's documented patterns
//! (`socket.recv()`, `socket.send(..)`, `socket.split()` into a
//! `SplitSink` / `SplitStream` with `futures::StreamExt`) compile with only
//! the import changed from `axum::extract::ws` to `wsproto::axum`.
//!
//! | tokio-tungstenite / axum | wsproto |
//! |---|---|
//! | `accept_async(stream)`, `accept_hdr_async` | [`tokio::accept`], [`tokio::accept_with`] (a decision that sees the request) |
//! | `connect_async(url)` | [`tokio::connect`], or [`tokio::ClientBuilder`] for headers, subprotocols, a proxy |
//! | `ws.next().await`, `socket.recv().await` | `ws.recv().await` (or `StreamExt::next`): `Option<Result<Message>>` |
//! | `ws.send(msg).await`, `ws.feed(msg)` | the same (inherent, or `SinkExt`'s through the `Sink` impl) |
//! | `ws.split()` (`StreamExt`) | the same; [`into_split`](adapter::WebSocket) for halves without a lock held across an await |
//! | `ws.close(None).await` (`SinkExt::close`) | `ws.close(code, reason).await`; `SinkExt::close(&mut ws)` sends 1000 |
//! | `Message::Text(s.into())`, `Message::Binary(b)` | the same ([`Utf8Bytes`] from `String`/`&str`, [`Bytes`]) |
//! | `Message::Close(Option<CloseFrame>)` | `Message::Close(CloseFrame)`; no code reads as [`CloseCode::NO_STATUS`] (1005) |
//! | `CloseCode::Normal`, `close_code::NORMAL` | [`CloseCode::NORMAL`], `CloseCode::new(4000)`; compares with a `u16` |
//! | `msg.into_text()`, `msg.to_text()` | [`Message::as_text`], [`Message::into_data`] |
//! | `Message::Frame(_)` | not exposed: fragments are reassembled by the core |
//! | `WebSocketConfig { max_message_size, .. }` | [`Config`] with chaining setters |
//! | `tungstenite::Error::ConnectionClosed` | `recv()` returns `None`; the blocking adapter's `read()` returns [`Error::ConnectionClosed`](adapter::Error::ConnectionClosed) |
//!
//! The same masked frame by hand, one layer down:
//!
//! ```
//! use wsproto::frame::{apply_mask, FrameHeader, OpCode};
//! use wsproto::Parsed;
//!
//! // RFC 6455 §5.7: a single-frame masked text message "Hello".
//! let mut bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let Parsed::Complete((header, used)) = FrameHeader::decode(&bytes)? else { unreachable!() };
//! assert_eq!(header.opcode, OpCode::Text);
//! let payload = &mut bytes[used..used + header.payload_len as usize];
//! apply_mask(payload, header.mask.unwrap());
//! assert_eq!(payload, b"Hello");
//! # Ok::<(), wsproto::ProtocolError>(())
//! ```

// `wasm` needs the standard library (wasm-bindgen does) but not the
// `std` feature, which brings `rand`.
#![cfg_attr(not(any(feature = "std", feature = "wasm", test)), no_std)]
#![deny(missing_docs, unreachable_pub, unsafe_code)]
#![warn(rust_2018_idioms)]
// docs.rs builds with every feature and `--cfg docsrs`: each item behind a
// feature is marked with it.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs are written for the full build (docs.rs, `--all-features`,
// checked with `-D warnings` in CI): they name the adapters and the items
// of other features, which a build with fewer features lacks. Those links
// are not broken there, only absent from a smaller build's docs.
#![cfg_attr(
    not(all(
        feature = "blocking",
        feature = "tls",
        feature = "deflate",
        feature = "tokio",
        feature = "axum",
        feature = "wasm"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

/// The README's code, compiled and run as doctests (with every feature, as
/// the README's test command runs them), so the first code a user copies
/// works.
#[cfg(all(doctest, feature = "blocking", feature = "deflate", feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

extern crate alloc;

/// What the standard prelude brings and a `no_std` build must import.
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
#[cfg(any(feature = "blocking", feature = "tokio"))]
pub mod adapter;
#[cfg(feature = "axum")]
pub mod axum;
/// Backoff and the reconnect policy: a core leaf (no I/O, randomness
/// passed in), named through the adapters.
#[cfg(any(feature = "blocking", feature = "tokio", feature = "wasm"))]
mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod driver;
mod error;
pub mod frame;
pub mod handshake;
/// Header value parsing shared by the handshake and its extensions: a leaf,
/// so that permessage-deflate can read extension offers without the
/// handshake and the handshake can negotiate deflate.
mod headers;
mod message;
pub mod proxy;
mod reassembly;
mod role;
mod status;
pub mod time;
#[cfg(all(feature = "tls", any(feature = "blocking", feature = "tokio")))]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "wasm")]
pub mod wasm;
// One of the two modules allowed `unsafe` (with `frame::mask`): the
// unchecked `&str` view of text validated once; see its header.
#[allow(unsafe_code)]
mod utf8;

/// The shared byte buffer that payloads come in ([`Message::Binary`],
/// [`Message::Binary`], …), re-exported so that no direct dependency on
/// `bytes` is needed to name or build one.
pub use bytes::Bytes;
pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::{Config, HandshakeLimits};
pub use connection::{
    BinaryPayload, Connection, Delivery, MaskSource, PreparedMessage, State, TextPayload, Transmit,
};
pub use error::{ProtocolError, Timeout, UsageError};
pub use handshake::HandshakeError;
pub use message::Message;
pub use role::Role;
pub use status::Parsed;
pub use utf8::Utf8Bytes;
