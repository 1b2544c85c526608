//! Async adapters on tokio (feature `tokio`): the same thin driving of the
//! sans-IO [`Connection`](crate::Connection) as [`blocking`](crate::blocking),
//! with `poll_*` functions that return `Pending` instead of blocking.
//!
//! **Cancel safety.** Every `async fn` here may be dropped at any await
//! point (inside `tokio::select!`, under `tokio::time::timeout`) without
//! losing a byte or a message: a future holds no protocol state, all of
//! it lives in the `Connection`. A dropped [`recv`](WebSocket::recv)
//! leaves a partial frame where the next one goes on from; a dropped
//! [`send`](WebSocket::send) has queued its message whole or not at all.

mod driver;
mod split;
mod websocket;

pub use crate::Message;
pub use crate::driver::error::{Error, HandshakeFailure, Refusal};
pub use split::{WebSocketReader, WebSocketWriter};
pub use websocket::WebSocket;
