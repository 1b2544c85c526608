//! [`ReconnectingClient`]'s methods that wait, as `async fn`s; the
//! connecting, the retries and the backoff are the shared driver's.

use tokio::net::TcpStream;

use super::maybe_tls::MaybeTlsStream;
use super::runtime::Tokio;
use super::{ReconnectingClient, WebSocket};
use crate::driver::error::Error;
use crate::driver::reconnect::OnConnect;
use crate::driver::recv::Received;
use crate::handshake::Established;
use crate::{CloseCode, Message};

/// The connection a [`ReconnectingClient`] holds.
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// The tokio hook is an async closure.
impl<F> OnConnect<MaybeTlsStream<TcpStream>, Tokio> for F
where
    F: AsyncFnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    async fn call(&mut self, ws: &mut Ws, response: &Established) -> Result<(), Error> {
        self(ws, response).await
    }
}

impl<F> ReconnectingClient<F>
where
    F: AsyncFnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    /// A client for the builder's URL and settings; `on_connect` runs on
    /// every new connection. Nothing is connected until the first call.
    pub fn new(builder: super::ClientBuilder, on_connect: F) -> Self {
        ReconnectingClient::with_hook(builder, on_connect)
    }

    /// Connects now unless connected, retrying with the backoff. Fails
    /// only when the attempts run out or the error cannot be retried.
    ///
    /// Cancel safe between attempts: a dropped future leaves the client
    /// unconnected (or connected, once the hook has run), and the next
    /// call starts over.
    pub async fn connect(&mut self) -> Result<&mut Ws, Error> {
        self.connect_on().await
    }

    /// The next message, reconnecting as often as needed; an error only
    /// when reconnecting gives up (or a non-fatal error of the
    /// connection). After [`close`](Self::close), returns the end of that
    /// connection instead of reconnecting: `None` once it is over.
    ///
    /// Cancel safe while connected (as [`WebSocket::recv`]); dropped while
    /// reconnecting, the next call starts the attempts over.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wsproto::tokio::{ClientBuilder, Message, ReconnectingClient};
    ///
    /// # async fn run() -> Result<(), wsproto::tokio::Error> {
    /// let mut client = ReconnectingClient::new(
    ///     ClientBuilder::new("ws://127.0.0.1:9001/feed"),
    ///     async |ws, _response| ws.send(r#"{"auth":"token","subscribe":["prices"]}"#).await,
    /// )
    /// .heartbeat(Duration::from_secs(20), Duration::from_secs(10));
    /// while let Some(message) = client.recv().await {
    ///     if let Message::Text(update) = message? {
    ///         println!("{update}");
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        match self.recv_on(None).await {
            Received::Message(message) => Some(Ok(message)),
            Received::Ended { error, first } => (first && !error.is_closed()).then_some(Err(error)),
            Received::Failed(error) => Some(Err(error)),
            Received::WouldBlock(e) => Some(Err(Error::Io(e))),
            Received::Idle => None,
        }
    }

    /// Sends on the current connection (connecting first if needed). On a
    /// failure the connection is dropped and the error returned; the next
    /// call reconnects.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let result = self.connect().await?.send(message).await;
        self.unless_fatal(result)
    }

    /// Sends on the current connection without connecting: an
    /// [`Error::Io`] with `NotConnected` when there is none (a drop was
    /// seen and the next `recv` or `send` will reconnect). `send` instead
    /// waits out an outage, retrying with the backoff.
    pub async fn try_send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let Some(ws) = self.current() else {
            return Err(Error::Io(std::io::ErrorKind::NotConnected.into()));
        };
        let result = ws.send(message).await;
        self.unless_fatal(result)
    }

    /// Closes for good: sends a Close and stops reconnecting. Keep calling
    /// [`recv`](Self::recv) until it returns `None`.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        match self.start_closing() {
            Some(ws) => ws.close(code, reason).await,
            None => Ok(()),
        }
    }
}
