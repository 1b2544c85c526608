//! [`ReconnectingClient`]: reconnect after a drop with exponential
//! backoff and jitter, resend the authentication or subscriptions on every
//! (re)connect, and keep a heartbeat while connected — the blocking
//! [`ReconnectingClient`](crate::blocking::ReconnectingClient), awaiting
//! instead of blocking. The retry rules and [`Backoff`] are shared.

use tokio::net::TcpStream;

use super::client::ClientBuilder;
use super::maybe_tls::MaybeTlsStream;
use super::websocket::WebSocket;
use crate::driver::error::Error;
#[cfg(doc)]
use crate::driver::reconnect::Backoff;
use crate::driver::reconnect::{Retries, reconnecting_client};
use crate::handshake::Established;
use crate::{CloseCode, Message};

/// The connection a [`ReconnectingClient`] holds.
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

reconnecting_client! {
    /// A client that reconnects by itself.
    ///
    /// [`recv`](Self::recv) returns messages from whichever connection is
    /// current; when a connection ends (dropped, lost, refused, closed by the
    /// server, keepalive timeout) it reconnects with [`Backoff`] (sleeping on
    /// tokio's clock) and awaits the `on_connect` hook on the new connection
    /// before receiving on — the place to send an authentication message or
    /// resubscribe. The hook runs on the first connection too. Keepalive comes
    /// from the builder's [`Config::ping_interval`](crate::Config::ping_interval),
    /// or [`heartbeat`](Self::heartbeat).
    ///
    /// Not retried: an invalid URL, `wss://` without the `tls` feature, and a
    /// server refusal with a 4xx status (wrong path or credentials: retrying
    /// would not help). [`send`](Self::send) on a dropped connection returns
    /// the error (the message is not resent); the next call reconnects.
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
    pub struct ReconnectingClient<F>;
}

impl<F> ReconnectingClient<F>
where
    F: AsyncFnMut(&mut Ws, &Established) -> Result<(), Error>,
{
    /// A client for the builder's URL and settings; `on_connect` (an
    /// async closure) runs on every new connection. Nothing is connected
    /// until the first call.
    pub fn new(builder: ClientBuilder, on_connect: F) -> Self {
        ReconnectingClient::with_hook(builder, on_connect)
    }

    /// Connects now unless connected, retrying with the backoff. Fails
    /// only when the attempts run out or the error cannot be retried.
    ///
    /// Cancel safe between attempts: a dropped future leaves the client
    /// unconnected (or connected, once the hook has run), and the next
    /// call starts over.
    pub async fn connect(&mut self) -> Result<&mut Ws, Error> {
        if self.ws.is_none() {
            self.ws = Some(self.establish().await?);
        }
        self.current()
    }

    /// The next message, reconnecting as often as needed (see the type's
    /// docs); an error only when reconnecting gives up (or a non-fatal
    /// error of the connection). After [`close`](Self::close), returns the
    /// end of that connection instead of reconnecting: `None` once it is
    /// over.
    ///
    /// Cancel safe while connected (as [`WebSocket::recv`]); dropped
    /// while reconnecting, the next call starts the attempts over.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        loop {
            if self.closing {
                return match self.ws.as_mut() {
                    Some(ws) => ws.recv().await,
                    None => None,
                };
            }
            let ws = match self.connect().await {
                Ok(ws) => ws,
                Err(e) => return Some(Err(e)),
            };
            match ws.recv().await {
                Some(Ok(message)) => return Some(Ok(message)),
                Some(Err(e)) if !e.is_fatal() => return Some(Err(e)),
                Some(Err(_)) | None => self.ws = None,
            }
        }
    }

    /// Sends on the current connection (connecting first if needed). On a
    /// failure the connection is dropped and the error returned; the next
    /// call reconnects.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let result = self.connect().await?.send(message).await;
        self.unless_fatal(result)
    }

    /// Closes for good: sends a Close and stops reconnecting. Keep calling
    /// [`recv`](Self::recv) until it returns `None`.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.closing = true;
        match self.ws.as_mut() {
            Some(ws) => ws.close(code, reason).await,
            None => Ok(()),
        }
    }

    /// Connects, retrying with the backoff, and runs the hook.
    async fn establish(&mut self) -> Result<Ws, Error> {
        let mut retries = Retries::new();
        loop {
            let error = match self.builder.connect().await {
                Ok((mut ws, response)) => match (self.on_connect)(&mut ws, &response).await {
                    Ok(()) => {
                        self.connects += 1;
                        return Ok(ws);
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match retries.after(&error, &self.backoff, &mut self.on_retry) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }
}
