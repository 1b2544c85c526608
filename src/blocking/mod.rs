//! Blocking adapters over `std::io` and `std::net` (feature `blocking`, on
//! by default): the thin code that drives the sans-IO [`Connection`](crate::Connection)
//! over a socket. Every protocol decision stays in the core.
//!
//! - Clients: [`connect`] a `ws://` URL (`wss://` with the `tls` feature),
//!   or configure with [`ClientBuilder`] (subprotocols, `Origin`, headers,
//!   timeouts, a proxy); [`client_handshake`] runs over a stream you
//!   connected. By default the proxy comes from `HTTPS_PROXY` /
//!   `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` as curl reads them (see
//!   [`crate::proxy`] and [`ClientBuilder::proxy`]).
//! - Servers: [`accept`] a stream, or [`accept_with`] a decision that sees
//!   the request (path, headers, `Origin`, subprotocols) and accepts it,
//!   refuses it, or answers plain HTTP on the same port; [`ServerBuilder`]
//!   holds the settings.
//! - [`WebSocket`]: [`read`](WebSocket::read) messages (Pings and the
//!   peer's Close are answered on the way), [`send`](WebSocket::send),
//!   [`send_ping`](WebSocket::send_ping), [`close`](WebSocket::close);
//!   [`split`](WebSocket::split) it into a reader and a writer for two
//!   threads. [`Message`]'s constructors take borrowed data (copied) or
//!   owned data (moved): `Message::binary(&buf[..n])`,
//!   `Message::ping(&label)`.
//! - [`ReconnectingClient`]: reconnect with exponential backoff and jitter,
//!   a hook on every (re)connect, heartbeat while connected.
//!
//! The core's deadlines (close timeout, keepalive) become read timeouts on
//! the socket, and end a connection with their own errors
//! ([`Error::CloseTimeout`], [`Error::KeepaliveTimeout`]); the opening handshake has its own timeout (10 s by
//! default). Buffers start at a few KiB and grow with need; frame headers
//! and payloads go out in one vectored write without copying the payload.
//!
//! ```
//! use std::net::TcpListener;
//! use wsproto::blocking::{accept, connect, Message};
//!
//! // A server that echoes one client.
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! std::thread::spawn(move || -> Result<(), wsproto::blocking::Error> {
//!     let mut ws = accept(listener.accept()?.0)?;
//!     loop {
//!         match ws.read()? {
//!             message if message.is_data() => ws.send(message)?,
//!             _ => {}
//!         }
//!     }
//! });
//!
//! let (mut ws, _) = connect(&format!("ws://{addr}/"))?;
//! ws.send("hello")?;
//! assert_eq!(ws.read()?, Message::text("hello"));
//! let label = String::from("are you there?");
//! ws.send_ping(&label)?; // the server answers; its Pong comes out of `read`
//! assert_eq!(ws.read()?, Message::pong(&label));
//! ws.close(1000, "done")?;
//! loop {
//!     match ws.read() {
//!         Ok(_) => {}
//!         Err(e) if e.is_closed() => break,
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod driver;
mod handshake_io;
mod maybe_tls;
mod proxy;
mod reconnect;
mod server;
mod split;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
mod websocket;

pub use crate::Message;
#[cfg(feature = "tls")]
pub use crate::blocking::tls::{TlsReader, TlsStream, TlsWriter};
pub use crate::driver::DEFAULT_TIMEOUT;
pub use crate::driver::error::{Error, HandshakeFailure, Refusal};
pub use crate::driver::reconnect::Backoff;
pub use client::{ClientBuilder, client_handshake, connect};
pub use maybe_tls::{MaybeTlsReader, MaybeTlsStream, MaybeTlsWriter};
pub use reconnect::ReconnectingClient;
pub use server::{Decision, Request, ServerBuilder, accept, accept_with};
pub use split::{WebSocketReader, WebSocketWriter};
pub use stream::{ReadHalf, SplitStream, Stream, WriteHalf};
pub use websocket::WebSocket;
