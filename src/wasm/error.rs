//! The browser client's errors: what went wrong, said in terms of what the
//! browser lets a page see (a close code, a reason, `wasClean`; never the
//! HTTP status of a refused upgrade).

use crate::prelude::*;
use crate::{CloseFrame, UsageError};

/// What can go wrong with a browser WebSocket.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL or a subprotocol was refused before connecting: not
    /// `ws://` or `wss://`, malformed, or a subprotocol that is not a
    /// token (the browser's `SyntaxError`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The connection never opened: refused, unreachable, the upgrade
    /// refused (a 403, a 404…), or the handshake failed. The browser does
    /// not say which (its console does).
    #[error("could not connect to {url} (the browser gives no reason)")]
    ConnectFailed {
        /// The URL asked for.
        url: String,
    },
    /// The connection ended without a closing handshake (`wasClean`
    /// false): the server vanished, the network dropped, or a protocol
    /// error. `code` is usually 1006.
    #[error("connection lost (code {code}{})", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    ConnectionLost {
        /// The close code the browser reports (1006 when no Close frame
        /// came).
        code: u16,
        /// The reason the browser reports, often empty.
        reason: String,
    },
    /// The connection is closing or closed: a send or close after the
    /// closing handshake started (the browser would drop the message
    /// without a word).
    #[error("connection closed")]
    ConnectionClosed,
    /// The server closed with a code that the
    /// [`ReconnectPolicy`](super::ReconnectPolicy) says not to reconnect
    /// after (from [`ReconnectingClient`](super::ReconnectingClient)).
    #[error("the server closed the connection: {} {}", .0.code, .0.reason)]
    ServerClosed(CloseFrame),
    /// The caller's mistake, caught before the browser would throw: a
    /// close code or reason that may not be sent (see
    /// [`WebSocket::close`](super::WebSocket::close)).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// Something a page cannot do: send a Ping or a Pong (the browser
    /// answers Pings itself and sends none of its own).
    #[error("not possible from a browser: {0}")]
    Unsupported(&'static str),
    /// The browser threw an exception this crate did not foresee; its
    /// message.
    #[error("JavaScript error: {0}")]
    Js(String),
}

impl Error {
    /// Whether the connection is over (closed, lost or never opened).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::ConnectFailed { .. }
                | Error::ConnectionLost { .. }
                | Error::ConnectionClosed
                | Error::ServerClosed(_)
        )
    }

    /// An exception thrown by the browser, as an [`Error::Js`].
    pub(crate) fn js(value: wasm_bindgen::JsValue) -> Error {
        use wasm_bindgen::JsCast;
        let message = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        Error::Js(message)
    }
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
