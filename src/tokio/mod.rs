//! Async adapters on tokio (feature `tokio`): the same thin driving of the
//! sans-IO [`Connection`](crate::Connection) as [`blocking`](crate::blocking),
//! with `poll_*` functions that return `Pending` instead of blocking.
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
//!   holds the settings. Spawn a task per connection: the handshake reads
//!   within its timeout (10 s by default, [`DEFAULT_TIMEOUT`]).
//! - [`ReconnectingClient`]: reconnect with exponential backoff and
//!   jitter, an async hook on every (re)connect, heartbeat while
//!   connected.
//!
//! **The same names as [`blocking`](crate::blocking)**, with one
//! deliberate difference: [`recv`](WebSocket::recv) returns
//! `Option<Result<Message, Error>>` and the normal end of a connection is
//! `None` (the shape of a `Stream`, and of axum's socket), where the
//! blocking `read` returns `Err(`[`Error::ConnectionClosed`]`)`.
//! `SinkExt::close(&mut ws)` (the `Sink` impl) sends a Close with 1000 and
//! flushes; the inherent [`close`](WebSocket::close) takes a code and a
//! reason.
//!
//! The handshake decisions ([`Request`], [`Decision`], the order of the
//! checks, the refusal body a client reads) are the blocking adapter's,
//! shared; only the waiting differs. Deadlines are on tokio's clock, so
//! tests with paused time see them.
//!
//! **Cancel safety.** Every `async fn` here may be dropped at any await
//! point (inside `tokio::select!`, under `tokio::time::timeout`) without
//! losing a byte or a message: a future holds no protocol state, all of
//! it lives in the `Connection`. A dropped [`recv`](WebSocket::recv)
//! leaves a partial frame where the next one goes on from; a dropped
//! [`send`](WebSocket::send) has queued its message whole or not at all.
//! The opening handshakes are the exception: they own the stream until
//! the `WebSocket` exists, so dropping one drops the connection.
//!
//! ```
//! use tokio::net::TcpListener;
//! use wsproto::tokio::{Message, accept, connect};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server that echoes one client.
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let mut ws = accept(listener.accept().await?.0).await?;
//!     while let Some(message) = ws.recv().await {
//!         let message = message?;
//!         if message.is_data() {
//!             ws.send(message).await?;
//!         }
//!     }
//!     Ok::<(), wsproto::tokio::Error>(())
//! });
//!
//! let (mut ws, _) = connect(&format!("ws://{addr}/")).await?;
//! ws.send("hello").await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! ws.close(1000, "done").await?;
//! while let Some(message) = ws.recv().await {
//!     message?;
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod maybe_tls;
mod reconnect;
mod runtime;
mod server;
mod shutdown;
#[cfg(feature = "tls")]
mod tls;
mod websocket;

pub use crate::Message;
pub use crate::adapter::{Backoff, DEFAULT_TIMEOUT, Decision, Error, Refusal, Request};
pub use client::{client_handshake, connect};
pub use maybe_tls::MaybeTlsStream;
#[cfg(feature = "tls")]
pub use maybe_tls::{TlsStream, accept_tls, connect_tls};
pub use runtime::Tokio;
pub use server::{accept, accept_with};

/// A WebSocket connection over a tokio stream `S` (a `TcpStream`, a TLS
/// stream, hyper's upgraded connection, anything `AsyncRead +
/// AsyncWrite`): the shared [`WebSocket`](crate::adapter::WebSocket) with
/// the tokio runtime.
///
/// **Cancel safety.** Every method may be dropped at any await point
/// (in `tokio::select!`, under `tokio::time::timeout`) without losing a
/// byte or a message: the futures hold no protocol state, the
/// [`Connection`](crate::Connection) does. [`recv`](WebSocket::recv)
/// dropped halfway through a frame leaves it in the connection;
/// [`send`](WebSocket::send) and [`feed`](WebSocket::feed) have queued
/// their message whole, or not at all if dropped while waiting for room;
/// what is queued goes out with the next `send`, `flush`, `close` or
/// `recv`.
///
/// It is also a [`futures_core::Stream`] of `Result<Message, Error>` and
/// a [`futures_sink::Sink<Message>`], for code written against
/// tokio-tungstenite or axum.
///
/// ```no_run
/// use wsproto::tokio::{connect, Message};
///
/// # async fn run() -> Result<(), wsproto::tokio::Error> {
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/").await?;
/// ws.send("hello").await?;
/// while let Some(message) = ws.recv().await {
///     if let Message::Text(text) = message? {
///         println!("{text}");
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub type WebSocket<S> = crate::driver::socket::WebSocket<S, Tokio>;

/// The receiving half of a split [`WebSocket`]; it also answers Pings and
/// the peer's Close. See [`WebSocket::into_split`].
pub type WebSocketReader<S> = crate::driver::split::WebSocketReader<
    ::tokio::io::ReadHalf<S>,
    ::tokio::io::WriteHalf<S>,
    Tokio,
>;

/// The sending half of a split [`WebSocket`]. Cheap to clone; clones send
/// on the same connection. See [`WebSocket::into_split`].
pub type WebSocketWriter<S> =
    crate::driver::split::WebSocketWriter<::tokio::io::WriteHalf<S>, Tokio>;

/// Everything a tokio client can ask for; see
/// [`adapter::ClientBuilder`](crate::adapter::ClientBuilder).
pub type ClientBuilder = crate::driver::client::ClientBuilder<Tokio>;

/// Server settings shared by every accepted connection; see
/// [`adapter::ServerBuilder`](crate::adapter::ServerBuilder).
pub type ServerBuilder = crate::driver::server::ServerBuilder<Tokio>;

/// A tokio client that reconnects by itself; see
/// [`adapter::ReconnectingClient`](crate::adapter::ReconnectingClient).
pub type ReconnectingClient<F> =
    crate::driver::reconnect::ReconnectingClient<MaybeTlsStream<::tokio::net::TcpStream>, Tokio, F>;

/// The connections of a tokio server (or of axum handlers), closed
/// together on shutdown; see
/// [`adapter::ConnectionSet`](crate::adapter::ConnectionSet).
pub type ConnectionSet = crate::driver::shutdown::ConnectionSet<Tokio>;
