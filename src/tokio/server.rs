//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`]'s
//! `accept` and `accept_with`; the decisions and the order of the checks
//! are the shared driver's.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{ServerBuilder, WebSocket};
use crate::driver::error::Error;
use crate::driver::server::{Decision, Request};

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
#[doc(alias = "accept_async")]
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(stream).await
}

/// Accepts or refuses after `decide` has seen the request: see
/// [`ServerBuilder`] for the order of the checks.
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
#[doc(alias = "accept_hdr_async")]
pub async fn accept_with<S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(Request<'_>) -> Decision,
{
    ServerBuilder::new().accept_with(stream, decide).await
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
    /// at it, and upgrades or answers accordingly (the steps are on
    /// [`ServerBuilder`]).
    ///
    /// Not cancel safe: dropping the future drops the handshake (the
    /// stream is the future's).
    pub async fn accept_with<S, F>(&self, stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(Request<'_>) -> Decision,
    {
        self.accept_with_on(stream, decide).await
    }
}
