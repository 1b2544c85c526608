//! The browser's WebSocket from Rust (feature `wasm`, for
//! `wasm32-unknown-unknown`): `web_sys::WebSocket` under the tokio
//! adapter's names and shapes, so that one client compiles for both.
//!
//! ```text
//! cargo build --target wasm32-unknown-unknown --no-default-features --features wasm
//! ```
//!
//! - [`connect`] a `ws://` or `wss://` URL, or configure with
//!   [`ClientBuilder`] (subprotocols, the write-buffer cap). The socket
//!   comes alone: a page sees no response headers.
//! - [`WebSocket`]: [`recv`](WebSocket::recv) →
//!   `Option<Result<Message, Error>>`, [`send`](WebSocket::send),
//!   [`close`](WebSocket::close)`(code, reason)`, `Stream` + `Sink`,
//!   [`into_split`](WebSocket::into_split).
//! - [`ReconnectingClient`] with the same [`Backoff`] and
//!   [`ReconnectPolicy`] as the other adapters.
//!
//! **What the browser does, and cannot do.** The protocol is the
//! browser's own: it masks, answers Pings, validates UTF-8 and echoes the
//! Close; this module brings the crate's API, [`Message`], close-code
//! rules, back-pressure and reconnecting. A page cannot set headers on the
//! upgrade (no `Authorization`: see [`ClientBuilder`] for the ways to pass
//! a token), cannot send Pings or Pongs ([`Error::Unsupported`]), sees no
//! HTTP status of a refused upgrade ([`Error::ConnectFailed`]), and may
//! close only with 1000 or 3000–4999 (checked before the browser would
//! throw: [`Error::Usage`]).
//!
//! **No silent failure.** A send on a closing or closed socket is
//! [`Error::ConnectionClosed`]; a send waits while the browser's
//! `bufferedAmount` is over the cap; an unclean end is
//! [`Error::ConnectionLost`] with the code the browser reports (1006);
//! dropping a [`WebSocket`] closes it with 1000 and frees its callbacks.
//!
//! The module compiles on every target (the browser's functions exist
//! only in a browser, and panic elsewhere), so that the same code checks
//! for both, and `--all-features` builds document it.
//!
//! ```no_run
//! use wsproto::wasm::{ClientBuilder, Message};
//!
//! # async fn run() -> Result<(), wsproto::wasm::Error> {
//! let mut ws = ClientBuilder::new("ws://127.0.0.1:8080/ws")
//!     .protocol("chat")
//!     .connect()
//!     .await?;
//! ws.send("hello").await?;
//! while let Some(message) = ws.recv().await {
//!     match message? {
//!         Message::Text(text) => println!("{text}"),
//!         Message::Close(frame) => println!("closed: {} {}", frame.code, frame.reason),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod callback;
mod client;
mod error;
mod reconnect;
mod socket;
mod timer;
mod websocket;

pub use crate::backoff::{Backoff, ReconnectPolicy};
pub use crate::{CloseCode, CloseFrame, Message};
#[doc(hidden)]
pub use callback::live_callbacks;
pub use client::{ClientBuilder, connect};
pub use error::{Error, Result};
pub use reconnect::ReconnectingClient;
pub use websocket::{WebSocket, WebSocketReader, WebSocketWriter};
