//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`].

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::handshake_io::{DEFAULT_TIMEOUT, HeadReader};
use super::stream::Stream;
use super::websocket::WebSocket;
use crate::driver::error::{Error, HandshakeFailure, Refusal};
use crate::handshake::{
    AcceptOptions, HandshakeError, HttpRequest, OriginPolicy, QueryPairs, RequestParser,
    UpgradeRequest, http_response, reason_phrase,
};
use crate::{Config, Connection, Parsed, Role};

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

/// The request a server's decision looks at.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Request<'a> {
    /// A valid WebSocket upgrade request (path, query, headers, `Origin`,
    /// offered subprotocols).
    Upgrade(&'a UpgradeRequest),
    /// An ordinary HTTP request on the same port (a page, a health
    /// check). Answer it with [`Decision::respond`]; accepting it sends
    /// `426 Upgrade Required`.
    Http(&'a HttpRequest),
}

impl<'a> Request<'a> {
    /// The HTTP request under either kind.
    pub fn http(&self) -> &'a HttpRequest {
        match self {
            Request::Upgrade(up) => up.http(),
            Request::Http(http) => http,
        }
    }

    /// The upgrade request, when it is one.
    pub fn upgrade(&self) -> Option<&'a UpgradeRequest> {
        match self {
            Request::Upgrade(up) => Some(up),
            Request::Http(_) => None,
        }
    }

    /// The path, still percent-encoded.
    pub fn path(&self) -> &'a str {
        self.http().path()
    }

    /// The query after `?`, still percent-encoded.
    pub fn query(&self) -> Option<&'a str> {
        self.http().query()
    }

    /// The first value of the query parameter `name`, percent-decoded
    /// (`+` is a space, `%zz` is kept, bytes that are not UTF-8 become
    /// U+FFFD): see [`HttpRequest::query_param`].
    ///
    /// ```no_run
    /// # let stream = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// use wsproto::blocking::{Decision, accept_with};
    ///
    /// let ws = accept_with(stream, |request| match request.query_param("token") {
    ///     Some(token) if token == "s3cret" => Decision::accept(),
    ///     _ => Decision::reject(401),
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.http().query_param(name)
    }

    /// Every query parameter, decoded: see [`HttpRequest::query_pairs`].
    pub fn query_pairs(&self) -> QueryPairs<'a> {
        self.http().query_pairs()
    }

    /// The first header called `name` (any case), if UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.http().header(name)
    }
}

/// What a server does with a request, returned by the `decide` callback
/// of [`accept_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Upgrade, with a subprotocol, extensions and extra headers if any.
    Accept(AcceptOptions),
    /// Answer with this HTTP response instead and close: a refusal (401,
    /// 403, 404…), or a page for a plain HTTP request.
    Respond {
        /// The status code (at least 200).
        status: u16,
        /// Extra headers; `Content-Length` is added.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

impl Decision {
    /// Upgrade with nothing negotiated.
    pub fn accept() -> Decision {
        Decision::Accept(AcceptOptions::new())
    }

    /// Upgrade and choose `protocol`, which the client must have offered.
    pub fn accept_protocol(protocol: impl Into<String>) -> Decision {
        Decision::Accept(AcceptOptions::new().protocol(protocol))
    }

    /// Refuse with `status` and its reason phrase as a text body; add
    /// headers with [`header`](Self::header) (for a body of your own, use
    /// [`respond`](Self::respond)). [`accept_with`] then returns
    /// [`Error::Refused`], not a handshake failure.
    ///
    /// ```
    /// use wsproto::blocking::Decision;
    ///
    /// let challenge = Decision::reject(401).header("WWW-Authenticate", "Bearer");
    /// assert_eq!(
    ///     challenge,
    ///     Decision::respond(
    ///         401,
    ///         &[
    ///             ("Content-Type", "text/plain; charset=utf-8"),
    ///             ("WWW-Authenticate", "Bearer"),
    ///         ],
    ///         "401 Unauthorized\n",
    ///     )
    /// );
    /// ```
    pub fn reject(status: u16) -> Decision {
        Decision::respond(
            status,
            &[("Content-Type", "text/plain; charset=utf-8")],
            format!("{status} {}\n", reason_phrase(status)),
        )
    }

    /// Answer with a complete HTTP response: a refusal with a body of your
    /// own, or a page for a plain HTTP request. [`accept_with`] then
    /// returns [`Error::Refused`].
    pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Decision {
        Decision::Respond {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        }
    }

    /// Adds a header to the response: to the refusal or page of
    /// [`reject`](Self::reject) and [`respond`](Self::respond) (e.g.
    /// `WWW-Authenticate`, `Location`), or to the `101` of an accept (as
    /// [`AcceptOptions::header`], e.g. `Set-Cookie`). Names and values are checked
    /// when the response is written: a malformed one is answered with 500
    /// and returned as [`Error::InvalidRequest`].
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Decision {
        match self {
            Decision::Accept(accept) => Decision::Accept(accept.header(name, value)),
            Decision::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Decision::Respond {
                    status,
                    headers,
                    body,
                }
            }
        }
    }
}

impl From<AcceptOptions> for Decision {
    fn from(accept: AcceptOptions) -> Decision {
        Decision::Accept(accept)
    }
}

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
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    config: Config,
    handshake_timeout: Duration,
    origin: Option<OriginPolicy>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// Default [`Config`], 10 s handshake timeout, any `Origin`.
    pub fn new() -> Self {
        ServerBuilder {
            config: Config::default(),
            handshake_timeout: DEFAULT_TIMEOUT,
            origin: None,
        }
    }

    /// The connection's limits, timeouts and keepalive (and the
    /// handshake's head limits).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Bound on the whole opening handshake; a client that stalls is
    /// dropped (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Checks the `Origin` of every upgrade request with `policy`
    /// **before** the decision callback of [`accept_with`](Self::accept_with)
    /// runs. A refused origin is answered with 403 Forbidden (the policy's
    /// [`refusal_response`](OriginPolicy::refusal_response), whose body
    /// [`OriginPolicy::refusal_body`] chooses) and the result is
    /// [`Error::Refused`] with [`Refusal::Origin`]; the callback is not
    /// asked. So a request with a foreign `Origin` *and* a wrong token gets
    /// 403, never the 401 the callback would have chosen. Plain HTTP
    /// requests ([`Request::Http`]) are not checked. To let credentials
    /// answer first, leave this unset and call [`OriginPolicy::check`]
    /// from the callback.
    ///
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
    pub fn origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.origin = Some(policy);
        self
    }

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
        let mut head = HeadReader::start(&mut stream, self.handshake_timeout)?;
        let mut parser = RequestParser::new(self.config.handshake);
        let (upgrade, used) = loop {
            head.read_more(&mut stream)?;
            match parser.parse(&head.buf) {
                Ok(Parsed::Partial) => {}
                Ok(Parsed::Complete(done)) => break done,
                Err(HandshakeError::NotWebSocket(http)) => {
                    return Err(match decide(Request::Http(&http)) {
                        Decision::Respond {
                            status,
                            headers,
                            body,
                        } => respond(&mut stream, &head, status, &headers, &body),
                        Decision::Accept(_) => {
                            refuse(&mut stream, &head, HandshakeError::NotWebSocket(http))
                        }
                    });
                }
                Err(error) => return Err(refuse(&mut stream, &head, error)),
            }
        };
        if let Some(policy) = &self.origin {
            if let Err(error) = policy.check(&upgrade) {
                send_and_close(&mut stream, &head, &policy.refusal_response());
                let origin = match error {
                    HandshakeError::OriginRefused(origin) => origin,
                    _ => None,
                };
                return Err(Error::Refused(Refusal::Origin(origin)));
            }
        }
        match decide(Request::Upgrade(&upgrade)) {
            Decision::Accept(accept) => {
                // permessage-deflate when the configuration offers it and
                // the client asked (the first acceptable offer is taken).
                #[cfg(feature = "deflate")]
                let accept = match self.config.deflate {
                    Some(deflate) => accept.deflate(deflate),
                    None => accept,
                };
                let accepted = match upgrade.accept(accept) {
                    Ok(accepted) => accepted,
                    Err(usage) => {
                        // The decision asked for something the handshake
                        // cannot send: our fault, so 500.
                        let _ = respond(&mut stream, &head, 500, &[], b"");
                        return Err(usage.into());
                    }
                };
                head.write(&mut stream, accepted.response())?;
                HeadReader::done(&mut stream)?;
                #[allow(unused_mut)]
                let mut conn =
                    Connection::new_at(Role::Server, self.config.clone(), Instant::now());
                #[cfg(feature = "deflate")]
                if let Some(params) = accepted.deflate() {
                    conn.set_deflate(params);
                }
                let protocol = accepted.protocol().map(str::to_owned);
                // RFC 6455 lets a client send frames right after its head.
                let ws = WebSocket::from_connection(stream, conn, protocol, &head.buf[used..]);
                Ok(ws)
            }
            Decision::Respond {
                status,
                headers,
                body,
            } => {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                match upgrade.reject(status, &headers, &body) {
                    Ok(bytes) => {
                        send_and_close(&mut stream, &head, &bytes);
                        Err(Error::Refused(Refusal::Decided { status }))
                    }
                    Err(usage) => {
                        let _ = respond(&mut stream, &head, 500, &[], b"");
                        Err(usage.into())
                    }
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

/// Answers an invalid request with its ready-made error response.
fn refuse<S: Stream>(stream: &mut S, head: &HeadReader, error: HandshakeError) -> Error {
    send_and_close(stream, head, &error.response());
    HandshakeFailure::Request(error).into()
}

/// Answers with the decision's response (500 when it cannot be sent as
/// given).
fn respond<S: Stream>(
    stream: &mut S,
    head: &HeadReader,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Error {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    match http_response(status, &headers, body) {
        Ok(bytes) => {
            send_and_close(stream, head, &bytes);
            Error::Refused(Refusal::Decided { status })
        }
        Err(usage) => {
            if let Ok(bytes) = http_response(500, &[], b"") {
                send_and_close(stream, head, &bytes);
            }
            usage.into()
        }
    }
}
