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
//!   [`into_split`](WebSocket::into_split) it into a reader and a writer for two
//!   threads. [`Message`]'s constructors take borrowed data (copied) or
//!   owned data (moved): `Message::binary(&buf[..n])`,
//!   `Message::ping(&label)`.
//! - [`ReconnectingClient`]: reconnect with exponential backoff and jitter,
//!   a hook on every (re)connect, heartbeat while connected.
//!
//! **The same names as [`tokio`](crate::tokio)**, with one deliberate
//! difference: a blocking read returns `Result<Message, Error>` and the
//! normal end of a connection is `Err(`[`Error::ConnectionClosed`]`)`, on
//! that call and every later one, so that `?` in a read loop stops it
//! (tungstenite's shape); the tokio `recv` returns
//! `Option<Result<Message, Error>>` and the normal end is `None` (the
//! shape of a `Stream`, and of axum's socket). `read_timeout` bounds a
//! read of one's own; `feed` queues without writing; `into_split` gives
//! the halves for two threads.
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
mod maybe_tls;
mod reconnect;
mod runtime;
mod server;
mod shutdown;
mod stream;
#[cfg(feature = "tls")]
mod tls;
mod websocket;

pub use crate::Message;
pub use crate::adapter::{Backoff, DEFAULT_TIMEOUT, Decision, Error, Refusal, Request};
pub use client::{client_handshake, connect};
pub use maybe_tls::{MaybeTlsReader, MaybeTlsStream, MaybeTlsWriter};
#[cfg(feature = "tls")]
pub use maybe_tls::{accept_tls, connect_tls};
pub use runtime::Blocking;
pub use server::{accept, accept_with};
pub use stream::{ReadHalf, SplitStream, Stream, WriteHalf};
#[cfg(feature = "tls")]
pub use tls::{TlsReader, TlsStream, TlsWriter};

/// A WebSocket connection over a blocking stream `S`: the shared
/// [`WebSocket`](crate::adapter::WebSocket) with the blocking runtime.
///
/// Obtained from [`connect`], [`accept`] and friends, or from
/// [`WebSocket::from_stream`] for a stream whose handshake happened
/// elsewhere. This type moves bytes and turns the core's deadlines into
/// read timeouts on the stream.
///
/// ```no_run
/// use wsproto::blocking::{connect, Message};
///
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/")?;
/// ws.send(Message::text("hello"))?;
/// loop {
///     match ws.read() {
///         Ok(Message::Text(text)) => println!("{text}"),
///         Ok(_) => {}
///         Err(e) if e.is_closed() => break,
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type WebSocket<S> = crate::driver::socket::WebSocket<S, Blocking>;

/// The reading half of a split [`WebSocket`]: receives messages and
/// answers Pings and the peer's Close (through the shared write half).
pub type WebSocketReader<S> = crate::driver::split::WebSocketReader<
    <S as SplitStream>::Reader,
    <S as SplitStream>::Writer,
    Blocking,
>;

/// The writing half of a split [`WebSocket`]. Cheap to clone: clones send
/// on the same connection, in the order their calls take the lock.
pub type WebSocketWriter<S> =
    crate::driver::split::WebSocketWriter<<S as SplitStream>::Writer, Blocking>;

/// Everything a blocking client can ask for; see
/// [`adapter::ClientBuilder`](crate::adapter::ClientBuilder).
pub type ClientBuilder = crate::driver::client::ClientBuilder<Blocking>;

/// Server settings shared by every accepted connection; see
/// [`adapter::ServerBuilder`](crate::adapter::ServerBuilder).
pub type ServerBuilder = crate::driver::server::ServerBuilder<Blocking>;

/// A blocking client that reconnects by itself; see
/// [`adapter::ReconnectingClient`](crate::adapter::ReconnectingClient).
pub type ReconnectingClient<F> =
    crate::driver::reconnect::ReconnectingClient<MaybeTlsStream<std::net::TcpStream>, Blocking, F>;

/// The connections of a blocking server, closed together on shutdown; see
/// [`adapter::ConnectionSet`](crate::adapter::ConnectionSet).
pub type ConnectionSet = crate::driver::shutdown::ConnectionSet<Blocking>;
