//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`].
//! The decisions are the blocking adapter's (the same [`Request`],
//! [`Decision`] and order of checks); this file reads and writes.

use tokio::io::{AsyncRead, AsyncWrite};

use super::handshake_io::HeadReader;
use super::websocket::WebSocket;
use crate::driver::error::Error;
#[cfg(doc)]
use crate::driver::error::{HandshakeFailure, Refusal};
pub use crate::driver::server::{Decision, Request};
use crate::driver::server::{ServerHandshake, ServerStep, server_builder};

/// Accepts a WebSocket on a stream whose client is about to send its
/// handshake: default [`Config`](crate::Config), any `Origin`, no
/// subprotocol, 10 s handshake timeout. An invalid request is answered
/// with the matching HTTP error before the error is returned.
///
/// Each connection should run in its own task, so that a client that
/// stalls in its handshake holds up nobody else:
///
/// ```no_run
/// use tokio::net::TcpListener;
/// use wsproto::tokio::accept;
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut ws = accept(stream).await?;
///         while let Some(message) = ws.recv().await {
///             let message = message?;
///             if message.is_data() {
///                 ws.send(message).await?;
///             }
///         }
///         Ok::<(), wsproto::tokio::Error>(())
///     });
/// }
/// # }
/// ```
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(stream).await
}

/// Accepts or refuses after `decide` has seen the request: see
/// [`ServerBuilder::accept_with`].
///
/// ```no_run
/// use wsproto::tokio::{Decision, accept_with};
///
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), wsproto::tokio::Error> {
/// let ws = accept_with(stream, |request| match request.query_param("token") {
///     Some(token) if token == "s3cret" => Decision::accept(),
///     _ => Decision::reject(401).header("WWW-Authenticate", "Bearer"),
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub async fn accept_with<S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(Request<'_>) -> Decision,
{
    ServerBuilder::new().accept_with(stream, decide).await
}

server_builder! {
    /// Server settings shared by every accepted connection: the
    /// [`Config`](crate::Config), the handshake timeout, and an optional
    /// [`OriginPolicy`](crate::handshake::OriginPolicy) checked before the
    /// decision. Cheap to clone into each connection's task.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tokio::net::TcpListener;
    /// use wsproto::handshake::OriginPolicy;
    /// use wsproto::tokio::{Decision, ServerBuilder};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Arc::new(ServerBuilder::new().origin_policy(OriginPolicy::new().same_origin(true)));
    /// let listener = TcpListener::bind("127.0.0.1:8080").await?;
    /// loop {
    ///     let (stream, _) = listener.accept().await?;
    ///     let server = server.clone();
    ///     tokio::spawn(async move {
    ///         let ws = server
    ///             .accept_with(stream, |request| match request.path() {
    ///                 "/ws" => Decision::accept(),
    ///                 "/" => Decision::respond(200, &[("Content-Type", "text/html")], "<h1>hi</h1>"),
    ///                 _ => Decision::reject(404),
    ///             })
    ///             .await;
    ///     });
    /// }
    /// # }
    /// ```
    pub struct ServerBuilder;
    origin_policy:
    ///
    /// ```
    /// use wsproto::handshake::OriginPolicy;
    /// use wsproto::tokio::{Decision, Error, Refusal, ServerBuilder};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = ServerBuilder::new()
    ///     .origin_policy(OriginPolicy::new().allow("https://app.example")?);
    /// let (mut client, stream) = tokio::io::duplex(4096);
    /// // A foreign page, and a wrong token: the policy answers first.
    /// client
    ///     .write_all(
    ///         b"GET /?token=wrong HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\
    ///           Upgrade: websocket\r\nConnection: Upgrade\r\n\
    ///           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ///     )
    ///     .await?;
    /// client.shutdown().await?;
    /// let result = server
    ///     .accept_with(stream, |request| match request.query_param("token") {
    ///         Some(token) if token == "s3cret" => Decision::accept(),
    ///         _ => unreachable!("not asked: it would have answered 401"),
    ///     })
    ///     .await;
    /// let Err(Error::Refused(refusal)) = result else { unreachable!() };
    /// assert_eq!(refusal, Refusal::Origin(Some("https://evil.example".into())));
    /// assert_eq!(refusal.http_status(), 403);
    /// # Ok(())
    /// # }
    /// ```
}

impl ServerBuilder {
    /// Accepts every valid upgrade request; see [`accept`].
    pub async fn accept<S>(&self, stream: S) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_with(stream, |_| Decision::accept()).await
    }

    /// Reads the request within the handshake timeout, lets `decide` look
    /// at it, and upgrades or answers accordingly, as the blocking
    /// adapter does.
    ///
    /// In order:
    ///
    /// - An invalid upgrade request is answered with its HTTP error (400,
    ///   405, 426, 431) without asking `decide`; the result is
    ///   [`Error::Handshake`] with [`HandshakeFailure::Request`]. A client
    ///   that sends nothing, or too slowly, gets
    ///   [`HandshakeFailure::Timeout`] at the deadline.
    /// - Then the [`origin_policy`](Self::origin_policy), if any: a refused
    ///   `Origin` is answered with 403 without asking `decide`; the result
    ///   is [`Error::Refused`] with [`Refusal::Origin`].
    /// - Then `decide`. Accepting upgrades. A refusal
    ///   ([`Decision::reject`], [`Decision::respond`]) is sent as decided
    ///   and the result is [`Error::Refused`] with [`Refusal::Decided`]: the
    ///   request was valid, and this is not a failure. A decision that
    ///   cannot be sent (a malformed header) is answered with 500 and
    ///   returned as [`Error::InvalidRequest`].
    /// - A plain HTTP request is shown to `decide` as [`Request::Http`];
    ///   [`Decision::respond`] answers it (accepting it answers 426).
    /// - After a refusal the write half is shut down and what the client
    ///   still sends is drained (until it closes, at most 256 KiB and 1 s:
    ///   a lingering close, so that the response is not destroyed by a
    ///   reset) before the stream is dropped.
    /// - Bytes the client sent after its head (early frames) are kept and
    ///   processed by the connection.
    ///
    /// Not cancel safe: dropping the future drops the handshake (the
    /// stream is the future's).
    pub async fn accept_with<S, F>(&self, mut stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(Request<'_>) -> Decision,
    {
        let mut head = HeadReader::start(self.settings.handshake_timeout);
        let mut handshake = ServerHandshake::new(&self.settings, decide);
        loop {
            head.read_more(&mut stream).await?;
            match handshake.step(&head.buf) {
                ServerStep::Partial => {}
                ServerStep::Refuse { response, error } => {
                    head.send_and_close(&mut stream, &response).await;
                    return Err(error);
                }
                ServerStep::Upgrade { response, upgraded } => {
                    head.write(&mut stream, &response).await?;
                    let used = upgraded.used;
                    let (conn, protocol) = upgraded.connection(super::driver::now());
                    return Ok(WebSocket::from_connection(
                        stream,
                        conn,
                        protocol,
                        &head.buf[used..],
                    ));
                }
            }
        }
    }
}
