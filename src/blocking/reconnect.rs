//! [`ReconnectingClient`]'s methods that wait, on this thread; the
//! connecting, the retries and the backoff are the shared driver's.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::maybe_tls::MaybeTlsStream;
use super::runtime::{Blocking, block_on};
use super::{ReconnectingClient, WebSocket};
use crate::driver::error::Error;
use crate::driver::reconnect::OnConnect;
use crate::driver::recv::Received;
use crate::handshake::Established;
use crate::{CloseCode, Message};

/// The connection a [`ReconnectingClient`] holds.
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// The blocking hook is a plain closure.
impl<F> OnConnect<MaybeTlsStream<TcpStream>, Blocking> for F
where
    F: FnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    async fn call(&mut self, ws: &mut Ws, response: &Established) -> Result<(), Error> {
        self(ws, response)
    }
}

impl<F> ReconnectingClient<F>
where
    F: FnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    /// A client for the builder's URL and settings; `on_connect` runs on
    /// every new connection. Nothing is connected until the first call.
    pub fn new(builder: super::ClientBuilder, on_connect: F) -> Self {
        ReconnectingClient::with_hook(builder, on_connect)
    }

    /// Connects now unless connected, retrying with the backoff. Fails
    /// only when the attempts run out or the error cannot be retried.
    pub fn connect(&mut self) -> Result<&mut Ws, Error> {
        block_on(self.connect_on())
    }

    /// The next message, reconnecting as often as needed. After
    /// [`close`](Self::close), returns the end of that connection instead
    /// of reconnecting.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wsproto::blocking::{ClientBuilder, Message, ReconnectingClient};
    ///
    /// let mut client = ReconnectingClient::new(
    ///     ClientBuilder::new("ws://127.0.0.1:9001/feed"),
    ///     |ws, _response| ws.send(r#"{"auth":"token","subscribe":["prices"]}"#),
    /// )
    /// .heartbeat(Duration::from_secs(20), Duration::from_secs(10));
    /// loop {
    ///     if let Message::Text(update) = client.read()? {
    ///         println!("{update}");
    ///     }
    /// }
    /// # Ok::<(), wsproto::blocking::Error>(())
    /// ```
    pub fn read(&mut self) -> Result<Message, Error> {
        match block_on(self.recv_on(None)) {
            Received::Message(message) => Ok(message),
            Received::Ended { error, .. } | Received::Failed(error) => Err(error),
            Received::WouldBlock(e) => Err(Error::Io(e)),
            Received::Idle => Err(Error::Io(std::io::ErrorKind::WouldBlock.into())),
        }
    }

    /// The next message within `timeout`: `Ok(None)` when none arrived
    /// in time (reconnecting as [`read`](Self::read) does meanwhile; the
    /// bound applies to each connection's wait, not to reconnecting).
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let until = Some(Instant::now() + timeout);
        match block_on(self.recv_on(until)) {
            Received::Message(message) => Ok(Some(message)),
            Received::Idle => Ok(None),
            Received::Ended { error, .. } | Received::Failed(error) => Err(error),
            Received::WouldBlock(e) => Err(Error::Io(e)),
        }
    }

    /// Sends on the current connection, connecting first if needed. On a
    /// failure the connection is dropped and the error returned; the next
    /// call reconnects.
    ///
    /// While the server is away this blocks for the whole outage —
    /// retrying with the backoff, forever when
    /// [`Backoff::max_attempts`](crate::adapter::Backoff::max_attempts) is
    /// `None` — so that nothing is sent into a dead socket. To skip
    /// sending instead, use [`try_send`](Self::try_send).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let result = self.connect()?.send(message);
        self.unless_fatal(result)
    }

    /// Sends on the current connection without connecting: an
    /// [`Error::Io`] with `NotConnected` when there is none (a drop was
    /// seen and the next `read` or `send` will reconnect).
    pub fn try_send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let Some(ws) = self.current() else {
            return Err(Error::Io(std::io::ErrorKind::NotConnected.into()));
        };
        let result = ws.send(message);
        self.unless_fatal(result)
    }

    /// Closes for good: sends a Close and stops reconnecting. Keep calling
    /// [`read`](Self::read) until [`Error::ConnectionClosed`].
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        match self.start_closing() {
            Some(ws) => ws.close(code, reason),
            None => Ok(()),
        }
    }
}
