//! Connecting: [`connect`] and [`ClientBuilder`], the tokio adapter's
//! names, with what a browser lets a page choose (the URL, subprotocols)
//! and the back-pressure cap.

use super::error::Result;
use super::socket::Socket;
use super::websocket::WebSocket;
use crate::Config;
use crate::prelude::*;

/// Connects to a `ws://` or `wss://` URL and waits until the connection is
/// open: the socket alone (a page sees no response headers). See
/// [`ClientBuilder`] for subprotocols and the write-buffer cap.
///
/// The browser says nothing of why a connection failed (refused, the
/// upgrade refused with 403, TLS): all of it is
/// [`Error::ConnectFailed`](super::Error::ConnectFailed).
pub async fn connect(url: &str) -> Result<WebSocket> {
    ClientBuilder::new(url).connect().await
}

/// What a browser client can ask for.
///
/// **No custom headers**: a page cannot set `Authorization` or any other
/// header on the upgrade request. Pass credentials the way the server side
/// of this crate reads them from a browser (see `examples/auth_server.rs`):
/// a query parameter (`ws://host/?token=T`, which servers log), an offered
/// subprotocol beside the real one (`.protocol("chat").protocol("token.T")`,
/// the server answering `chat`), a cookie the browser sends by itself to
/// its own site, or a first message (`AUTH T`).
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    max_write_buffer: usize,
}

impl ClientBuilder {
    /// A client for `url` (`ws://` or `wss://`).
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            max_write_buffer: Config::default().max_write_buffer,
        }
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); call once per
    /// protocol, in order of preference.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// The most the browser may hold unsent (`bufferedAmount`) before a
    /// send waits; default 1 MiB, [`Config`]'s `max_write_buffer`. A
    /// message larger than the cap goes when the buffer is empty.
    #[must_use]
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects and waits until the connection is open. Dropping the
    /// future before then abandons the connection.
    pub async fn connect(&self) -> Result<WebSocket> {
        let socket = Socket::open(&self.url, &self.protocols, self.max_write_buffer)?;
        core::future::poll_fn(|cx| socket.poll_opened(cx)).await?;
        Ok(WebSocket::new(socket))
    }
}
