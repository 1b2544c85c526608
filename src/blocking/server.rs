//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`]'s
//! `accept` and `accept_with`; the decisions and the order of the checks
//! are the shared driver's.

use super::runtime::block_on;
use super::stream::Stream;
use super::{ServerBuilder, WebSocket};
use crate::driver::error::Error;
use crate::driver::server::{Decision, Request};

/// Accepts a WebSocket on a stream whose client is about to send its
/// handshake: default [`Config`](crate::Config), any `Origin`, no
/// subprotocol, 10 s handshake timeout. An invalid request is answered
/// with the matching HTTP error before the error is returned.
pub fn accept<S: Stream>(stream: S) -> Result<WebSocket<S>, Error> {
    ServerBuilder::new().accept(stream)
}

/// Accepts or refuses after `decide` has seen the request: see
/// [`ServerBuilder`] for the order of the checks.
///
/// ```no_run
/// # let stream = std::net::TcpStream::connect("127.0.0.1:9001")?;
/// use wsproto::blocking::{Decision, accept_with};
///
/// let ws = accept_with(stream, |request| match request.query_param("token") {
///     Some(token) if token == "s3cret" => Decision::accept(),
///     _ => Decision::reject(401).header("WWW-Authenticate", "Bearer"),
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "accept_hdr")]
pub fn accept_with<S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: Stream,
    F: FnOnce(Request<'_>) -> Decision,
{
    ServerBuilder::new().accept_with(stream, decide)
}

impl ServerBuilder {
    /// Accepts every valid upgrade request; see [`accept`].
    pub fn accept<S: Stream>(&self, stream: S) -> Result<WebSocket<S>, Error> {
        self.accept_with(stream, |_| Decision::accept())
    }

    /// Reads the request, lets `decide` look at it, and upgrades or
    /// answers accordingly (the steps are on [`ServerBuilder`]).
    pub fn accept_with<S, F>(&self, stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: Stream,
        F: FnOnce(Request<'_>) -> Decision,
    {
        block_on(self.accept_with_on(stream, decide))
    }
}
