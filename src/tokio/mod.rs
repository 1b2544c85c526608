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
mod driver;
mod handshake_io;
mod maybe_tls;
mod proxy;
mod reconnect;
mod server;
mod split;
#[cfg(feature = "tls")]
pub mod tls;
mod websocket;

pub use crate::Message;
pub use crate::driver::DEFAULT_TIMEOUT;
pub use crate::driver::error::{Error, HandshakeFailure, Refusal};
pub use crate::driver::reconnect::Backoff;
pub use client::{ClientBuilder, client_handshake, connect};
pub use maybe_tls::MaybeTlsStream;
pub use reconnect::ReconnectingClient;
pub use server::{Decision, Request, ServerBuilder, accept, accept_with};
pub use split::{WebSocketReader, WebSocketWriter};
pub use websocket::WebSocket;
