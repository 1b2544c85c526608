//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`].

use std::time::{Duration, Instant};

use super::handshake_io::HeadReader;
use super::stream::Stream;
use super::websocket::WebSocket;
use crate::driver::error::Error;
#[cfg(doc)]
use crate::driver::error::{HandshakeFailure, Refusal};
pub use crate::driver::server::{Decision, Request};
use crate::driver::server::{ServerHandshake, ServerStep, server_builder};
#[cfg(doc)]
use crate::{Config, handshake::OriginPolicy};

/// Accepts a WebSocket on a stream whose client is about to send its
/// handshake: default [`Config`], any `Origin`, no subprotocol, 10 s
/// handshake timeout. An invalid request is answered with the matching
/// HTTP error before the error is returned.
///
/// ```no_run
/// use std::net::TcpListener;
/// use wsproto::blocking::accept;
///
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// for stream in listener.incoming() {
///     std::thread::spawn(move || -> Result<(), wsproto::blocking::Error> {
///         let mut ws = accept(stream?)?;
///         loop {
///             let message = ws.read()?;
///             if message.is_data() {
///                 ws.send(message)?;
///             }
///         }
///     });
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn accept<S: Stream>(stream: S) -> Result<WebSocket<S>, Error> {
    ServerBuilder::new().accept(stream)
}

/// Accepts or refuses after `decide` has seen the request: see
/// [`ServerBuilder::accept_with`].
pub fn accept_with<S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: Stream,
    F: FnOnce(Request<'_>) -> Decision,
{
    ServerBuilder::new().accept_with(stream, decide)
}

server_builder! {
    /// Server settings shared by every accepted connection: the [`Config`],
    /// the handshake timeout, and an optional [`OriginPolicy`] checked before
    /// the decision.
    ///
    /// ```no_run
    /// use std::net::TcpListener;
    /// use wsproto::blocking::{Decision, ServerBuilder};
    /// use wsproto::handshake::OriginPolicy;
    ///
    /// let server = ServerBuilder::new()
    ///     .origin_policy(OriginPolicy::new().same_origin(true));
    /// let listener = TcpListener::bind("127.0.0.1:8080")?;
    /// let (stream, _) = listener.accept()?;
    /// let ws = server.accept_with(stream, |request| match request.path() {
    ///     "/ws" => Decision::accept(),
    ///     "/" => Decision::respond(200, &[("Content-Type", "text/html")], "<h1>hi</h1>"),
    ///     _ => Decision::reject(404),
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct ServerBuilder;
    origin_policy:
    /// ```
    /// # use std::io::{Cursor, Read, Write};
    /// # struct Memory(Cursor<Vec<u8>>);
    /// # impl Read for Memory {
    /// #     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> { self.0.read(buf) }
    /// # }
    /// # impl Write for Memory {
    /// #     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { Ok(buf.len()) }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # impl wsproto::blocking::Stream for Memory {}
    /// use wsproto::blocking::{Decision, Error, Refusal, ServerBuilder};
    /// use wsproto::handshake::OriginPolicy;
    ///
    /// let server = ServerBuilder::new()
    ///     .origin_policy(OriginPolicy::new().allow("https://app.example")?);
    /// // A foreign page, and a wrong token: the policy answers first.
    /// let stream = Memory(Cursor::new(
    ///     b"GET /?token=wrong HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\
    ///       Upgrade: websocket\r\nConnection: Upgrade\r\n\
    ///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ///         .to_vec(),
    /// ));
    /// let result = server.accept_with(stream, |request| match request.query_param("token") {
    ///     Some(token) if token == "s3cret" => Decision::accept(),
    ///     _ => unreachable!("not asked: it would have answered 401"),
    /// });
    /// let Err(Error::Refused(refusal)) = result else { unreachable!() };
    /// assert_eq!(refusal, Refusal::Origin(Some("https://evil.example".into())));
    /// assert_eq!(refusal.http_status(), 403);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
}

impl ServerBuilder {
    /// Accepts every valid upgrade request; see [`accept`].
    pub fn accept<S: Stream>(&self, stream: S) -> Result<WebSocket<S>, Error> {
        self.accept_with(stream, |_| Decision::accept())
    }

    /// Reads the request, lets `decide` look at it, and upgrades or
    /// answers accordingly.
    ///
    /// In order:
    ///
    /// - An invalid upgrade request is answered with its HTTP error (400,
    ///   405, 426, 431) without asking `decide`; the result is
    ///   [`Error::Handshake`] with [`HandshakeFailure::Request`]: the peer's
    ///   fault.
    /// - Then the [`origin_policy`](Self::origin_policy), if any: a refused
    ///   `Origin` is answered with 403 without asking `decide`; the result
    ///   is [`Error::Refused`] with [`Refusal::Origin`].
    /// - Then `decide`. Accepting upgrades. A refusal
    ///   ([`Decision::reject`], [`Decision::respond`]) is sent as decided
    ///   and the result is [`Error::Refused`] with [`Refusal::Decided`]: the
    ///   request was valid, and this is not a failure.
    /// - A plain HTTP request is shown to `decide` as [`Request::Http`];
    ///   [`Decision::respond`] answers it, and the result is
    ///   [`Error::Refused`] with [`Refusal::Decided`] and the status sent
    ///   (accepting it answers 426, a [`HandshakeFailure::Request`]).
    /// - A refusal is written to the client, then the write half is shut
    ///   down and what the client still sends is drained (until it closes,
    ///   at most 256 KiB and 1 s: a lingering close, so that closing with
    ///   unread input does not reset the connection and destroy the
    ///   response) before the stream is dropped.
    /// - Bytes the client sent after its head (early frames) are kept and
    ///   processed by the connection.
    pub fn accept_with<S, F>(&self, mut stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: Stream,
        F: FnOnce(Request<'_>) -> Decision,
    {
        let mut head = HeadReader::start(&mut stream, self.settings.handshake_timeout)?;
        let mut handshake = ServerHandshake::new(&self.settings, decide);
        loop {
            head.read_more(&mut stream)?;
            match handshake.step(&head.buf) {
                ServerStep::Partial => {}
                ServerStep::Refuse { response, error } => {
                    send_and_close(&mut stream, &head, &response);
                    return Err(error);
                }
                ServerStep::Upgrade { response, upgraded } => {
                    head.write(&mut stream, &response)?;
                    HeadReader::done(&mut stream)?;
                    let used = upgraded.used;
                    let (conn, protocol) = upgraded.connection(Instant::now());
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

/// Writes a response, then shuts the write half down so the client sees
/// the end of it, and lingers. Errors do not matter: the connection is
/// being dropped.
fn send_and_close<S: Stream>(stream: &mut S, head: &HeadReader, bytes: &[u8]) {
    if head.write(stream, bytes).is_ok() && stream.shutdown_write().is_ok() {
        linger(stream);
    }
}

/// How long and how much a refused connection is drained before it is
/// dropped.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 << 10;

/// Lingering close, as HTTP servers do: closing a socket with unread
/// input (a request body, early frames) sends a reset, which can destroy
/// the response before the client has read it. So what the client still
/// sends is read and discarded until it closes, bounded in bytes and time.
fn linger<S: Stream>(stream: &mut S) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut buf = [0u8; 4 << 10];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
