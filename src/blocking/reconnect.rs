//! [`ReconnectingClient`]: the pattern every real-time client writes by
//! hand — reconnect after a drop with exponential backoff and jitter,
//! resend the authentication or subscriptions on every (re)connect, and
//! keep a heartbeat while connected.

use std::net::TcpStream;

use super::client::ClientBuilder;
use super::maybe_tls::MaybeTlsStream;
use super::websocket::WebSocket;
use crate::CloseCode;
use crate::Message;
use crate::driver::error::Error;
#[cfg(doc)]
use crate::driver::reconnect::Backoff;
use crate::driver::reconnect::{Retries, reconnecting_client};
use crate::handshake::Established;

/// The connection a [`ReconnectingClient`] holds.
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

reconnecting_client! {
    /// A client that reconnects by itself.
    ///
    /// [`read`](Self::read) returns messages from whichever connection is
    /// current; when a connection ends (dropped, lost, refused, closed by the
    /// server, keepalive timeout) it reconnects with [`Backoff`] and calls the
    /// `on_connect` hook on the new connection before reading on — the place
    /// to send an authentication message or resubscribe. The hook runs on the
    /// first connection too. Keepalive comes from the builder's
    /// [`Config::ping_interval`](crate::Config::ping_interval), or
    /// [`heartbeat`](Self::heartbeat).
    ///
    /// Not retried: an invalid URL, `wss://` without the `tls` feature, and a
    /// server refusal with a 4xx status (wrong path or credentials: retrying
    /// would not help). [`send`](Self::send) on a dropped connection returns
    /// the error (the message is not resent); the next call reconnects.
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
    pub struct ReconnectingClient<F>;
}

impl<F> ReconnectingClient<F>
where
    F: FnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    /// A client for the builder's URL and settings; `on_connect` runs on
    /// every new connection. Nothing is connected until the first call.
    pub fn new(builder: ClientBuilder, on_connect: F) -> Self {
        ReconnectingClient::with_hook(builder, on_connect)
    }

    /// Connects now unless connected, retrying with the backoff. Fails
    /// only when the attempts run out or the error cannot be retried.
    pub fn connect(&mut self) -> Result<&mut Ws, Error> {
        if self.ws.is_none() {
            self.ws = Some(self.establish()?);
        }
        self.current()
    }

    /// The next message, reconnecting as often as needed (see the type's
    /// docs). After [`close`](Self::close), returns the end of that
    /// connection instead of reconnecting.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if self.closing {
                return match self.ws.as_mut() {
                    Some(ws) => ws.read(),
                    None => Err(Error::ConnectionClosed),
                };
            }
            let ws = self.connect()?;
            match ws.read() {
                Ok(message) => return Ok(message),
                Err(e) if !e.is_fatal() => return Err(e),
                Err(_) => self.ws = None,
            }
        }
    }

    /// Sends on the current connection (connecting first if needed). On a
    /// failure the connection is dropped and the error returned; the next
    /// call reconnects.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let result = self.connect()?.send(message);
        self.unless_fatal(result)
    }

    /// Closes for good: sends a Close and stops reconnecting. Keep calling
    /// [`read`](Self::read) until [`Error::ConnectionClosed`].
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.closing = true;
        match self.ws.as_mut() {
            Some(ws) => ws.close(code, reason),
            None => Ok(()),
        }
    }

    /// Connects, retrying with the backoff, and runs the hook.
    fn establish(&mut self) -> Result<Ws, Error> {
        let mut retries = Retries::new();
        loop {
            let error = match self.builder.connect() {
                Ok((mut ws, response)) => match (self.on_connect)(&mut ws, &response) {
                    Ok(()) => {
                        self.connects += 1;
                        return Ok(ws);
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match retries.after(&error, &self.backoff, &mut self.on_retry) {
                Some(delay) => std::thread::sleep(delay),
                None => return Err(error),
            }
        }
    }
}
