//! The server side of the opening handshake, once for every adapter: what
//! `accept_with` decides given the bytes read so far ([`ServerStep`]), and
//! the accept plan that reads the head within the deadline, answers, and
//! lingers after a refusal. The adapters only say how to wait.

use std::borrow::Cow;
use std::time::Duration;

use super::budget::MemoryBudget;
use super::error::{Error, Refusal};
use super::head::Head;
use super::runtime::{ReadIo, WriteIo};
use super::shutdown::ConnectionSet;
use super::socket::WebSocket;
use super::{Setup, Upgraded};
use crate::handshake::{
    AcceptOptions, HandshakeError, HttpRequest, OriginPolicy, QueryPairs, RequestParser,
    UpgradeRequest, http_response, reason_phrase,
};
use crate::{Config, HandshakeLimits, Parsed, Role};

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
/// of `accept_with` ([blocking](crate::blocking::accept_with) or
/// [tokio](crate::tokio::accept_with)).
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
    /// [`respond`](Self::respond)). `accept_with` then returns
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
    /// own, or a page for a plain HTTP request. `accept_with` then
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

/// Server settings shared by every accepted connection, whatever the
/// runtime: each layer's settings, and an optional [`OriginPolicy`]
/// checked before the decision.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) setup: Setup,
    pub(crate) origin: Option<OriginPolicy>,
}

impl ServerSettings {
    /// Default [`Config`], 10 s handshake timeout, any `Origin`.
    pub(crate) fn new() -> Self {
        ServerSettings {
            setup: Setup {
                message_timeout: Some(super::SERVER_MESSAGE_TIMEOUT),
                ..Setup::default()
            },
            origin: None,
        }
    }
}

/// What a server adapter does next with the head it has read so far.
#[derive(Debug)]
pub(crate) enum ServerStep {
    /// The head is not complete: read more (within the deadline) and step
    /// again.
    Partial,
    /// Write `response` (a refusal, an error, a page), shut the write half
    /// down, linger, and return `error`.
    Refuse {
        /// The complete HTTP response (empty in the unreachable case that
        /// not even a 500 can be written).
        response: Vec<u8>,
        /// What `accept_with` returns.
        error: Error,
    },
    /// Write `response` (the `101`) and start the connection.
    Upgrade {
        /// The `101 Switching Protocols` response.
        response: Vec<u8>,
        /// The negotiated connection.
        upgraded: Upgraded,
    },
}

/// The decision logic of `accept_with`, fed the growing head.
pub(crate) struct ServerHandshake<'s, F> {
    settings: &'s ServerSettings,
    parser: RequestParser,
    decide: Option<F>,
}

impl<'s, F> ServerHandshake<'s, F>
where
    F: FnOnce(Request<'_>) -> Decision,
{
    pub(crate) fn new(settings: &'s ServerSettings, decide: F) -> Self {
        ServerHandshake {
            settings,
            parser: RequestParser::new(settings.setup.limits),
            decide: Some(decide),
        }
    }

    /// Looks at everything read so far (the whole buffer, each time). In
    /// order:
    ///
    /// - an invalid upgrade request is answered with its HTTP error
    ///   without asking `decide` ([`Error::Handshake`]);
    /// - then the origin policy, if any: 403 ([`Refusal::Origin`]);
    /// - then `decide`: accept (with permessage-deflate when the config
    ///   offers it and the client asked), or its response
    ///   ([`Refusal::Decided`]); a decision that cannot be sent as given
    ///   is answered with 500 and returned as [`Error::InvalidRequest`];
    /// - a plain HTTP request goes to `decide` as [`Request::Http`];
    ///   accepting it answers 426.
    ///
    /// After anything but [`ServerStep::Partial`], do not call again.
    pub(crate) fn step(&mut self, buf: &[u8]) -> ServerStep {
        let (upgrade, used) = match self.parser.parse(buf) {
            Ok(Parsed::Partial) => return ServerStep::Partial,
            Ok(Parsed::Complete(done)) => done,
            Err(HandshakeError::NotWebSocket(http)) => {
                return match self.decide(Request::Http(&http)) {
                    Decision::Respond {
                        status,
                        headers,
                        body,
                    } => respond(status, &headers, &body),
                    Decision::Accept(_) => refuse(HandshakeError::NotWebSocket(http)),
                };
            }
            Err(error) => return refuse(error),
        };
        if let Some(policy) = &self.settings.origin {
            if let Err(error) = policy.check(&upgrade) {
                let origin = match error {
                    HandshakeError::OriginRefused(origin) => origin,
                    _ => None,
                };
                return ServerStep::Refuse {
                    response: policy.refusal_response(),
                    error: Error::Refused(Refusal::Origin(origin)),
                };
            }
        }
        match self.decide(Request::Upgrade(&upgrade)) {
            Decision::Accept(accept) => {
                // permessage-deflate when the configuration offers it and
                // the client asked (the first acceptable offer is taken).
                #[cfg(feature = "deflate")]
                let accept = match self.settings.setup.deflate {
                    Some(deflate) => accept.deflate(deflate),
                    None => accept,
                };
                match upgrade.accept(accept) {
                    Ok(negotiated) => ServerStep::Upgrade {
                        upgraded: Upgraded {
                            role: Role::Server,
                            config: self.settings.setup.connection_config(),
                            write_timeout: self.settings.setup.write_timeout,
                            protocol: negotiated.protocol().map(str::to_owned),
                            #[cfg(feature = "deflate")]
                            deflate: negotiated.deflate(),
                            // RFC 6455 lets a client send frames right
                            // after its head.
                            used,
                        },
                        response: negotiated.into_response(),
                    },
                    // The decision asked for something the handshake
                    // cannot send: our fault, so 500.
                    Err(usage) => server_error(usage.into()),
                }
            }
            Decision::Respond {
                status,
                headers,
                body,
            } => match upgrade.reject(status, &pairs(&headers), &body) {
                Ok(response) => ServerStep::Refuse {
                    response,
                    error: Error::Refused(Refusal::Decided { status }),
                },
                Err(usage) => server_error(usage.into()),
            },
        }
    }

    fn decide(&mut self, request: Request<'_>) -> Decision {
        match self.decide.take() {
            Some(decide) => decide(request),
            // Only reachable by stepping after the end; refuse again.
            None => Decision::reject(500),
        }
    }
}

/// What a server whose set is shutting down answers a new upgrade.
pub(crate) fn shutting_down_response() -> Vec<u8> {
    let headers = [
        ("Retry-After", "1"),
        ("Content-Type", "text/plain; charset=utf-8"),
    ];
    http_response(503, &headers, b"503 the server is shutting down\n").unwrap_or_default()
}

fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// Answers an invalid request with its ready-made error response.
fn refuse(error: HandshakeError) -> ServerStep {
    ServerStep::Refuse {
        response: error.response(),
        error: Error::Handshake(error),
    }
}

/// Answers with the decision's response (500 when it cannot be sent as
/// given).
fn respond(status: u16, headers: &[(String, String)], body: &[u8]) -> ServerStep {
    match http_response(status, &pairs(headers), body) {
        Ok(response) => ServerStep::Refuse {
            response,
            error: Error::Refused(Refusal::Decided { status }),
        },
        Err(usage) => server_error(usage.into()),
    }
}

/// A 500 for a decision that cannot be sent; the error is ours.
fn server_error(error: Error) -> ServerStep {
    ServerStep::Refuse {
        response: http_response(500, &[], b"").unwrap_or_default(),
        error,
    }
}

/// Server settings shared by every accepted connection: the [`Config`],
/// the handshake timeout, and an optional [`OriginPolicy`] checked before
/// the decision. Cheap to clone into each connection's thread or task.
///
/// Name it through an adapter, `wsproto::blocking::ServerBuilder` or
/// `wsproto::tokio::ServerBuilder`, which adds `accept` and `accept_with`
/// (blocking, or `async`). Both take the same steps, in this order:
///
/// - The request head is read within the handshake timeout; a client that
///   sends nothing, or too slowly, is dropped with
///   [`Error::HandshakeTimeout`].
/// - An invalid upgrade request is answered with its HTTP error (400, 405,
///   426, 431) without asking the decision; the result is
///   [`Error::Handshake`]: the peer's
///   fault.
/// - Then the [`origin_policy`](Self::origin_policy), if any: a refused
///   `Origin` is answered with 403 without asking the decision; the result
///   is [`Error::Refused`] with [`Refusal::Origin`].
/// - Then the decision. Accepting upgrades (with permessage-deflate when
///   the config offers it and the client asked). A refusal
///   ([`Decision::reject`], [`Decision::respond`]) is sent as decided and
///   the result is [`Error::Refused`] with [`Refusal::Decided`]: the
///   request was valid, and this is not a failure. A decision that cannot
///   be sent (a malformed header) is answered with 500 and returned as
///   [`Error::InvalidRequest`].
/// - A plain HTTP request is shown to the decision as [`Request::Http`];
///   [`Decision::respond`] answers it (accepting it answers 426, an
///   [`Error::Handshake`]).
/// - After a refusal the write half is shut down and what the client still
///   sends is drained (until it closes, at most 256 KiB and 1 s: a
///   lingering close, so that closing with unread input does not reset the
///   connection and destroy the response) before the stream is dropped.
/// - Bytes the client sent after its head (early frames) are kept and
///   processed by the connection.
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
pub struct ServerBuilder<R> {
    pub(crate) settings: ServerSettings,
    set: Option<ConnectionSet<R>>,
    budget: Option<MemoryBudget>,
}

impl<R> Clone for ServerBuilder<R> {
    fn clone(&self) -> Self {
        ServerBuilder {
            settings: self.settings.clone(),
            set: self.set.clone(),
            budget: self.budget.clone(),
        }
    }
}

impl<R> std::fmt::Debug for ServerBuilder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("settings", &self.settings)
            .finish()
    }
}

impl<R> Default for ServerBuilder<R> {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl<R> ServerBuilder<R> {
    /// Default [`Config`], 10 s handshake timeout, any `Origin`.
    pub fn new() -> Self {
        ServerBuilder {
            settings: ServerSettings::new(),
            set: None,
            budget: None,
        }
    }

    /// The connection's limits, close timeout and keepalive.
    pub fn config(mut self, config: Config) -> Self {
        self.settings.setup.config = config;
        self
    }

    /// Caps on the request head; beyond them the request is answered 431
    /// (defaults: 16 KiB, 128 headers, 8 KiB per line).
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.settings.setup.limits = limits;
        self
    }

    /// Agrees to permessage-deflate (RFC 7692) when the client offers it,
    /// with these preferences.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::deflate::DeflateConfig) -> Self {
        self.settings.setup.deflate = Some(deflate);
        self
    }

    /// Bounds each write that makes no progress (default 30 s; see
    /// [`WebSocket::set_write_timeout`]).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.setup.write_timeout = timeout;
        self
    }

    /// Bound on the whole opening handshake; a client that stalls is
    /// dropped (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.setup.handshake_timeout = timeout;
        self
    }

    /// Checks the `Origin` of every upgrade request with `policy`
    /// **before** the decision callback of `accept_with` runs. A refused
    /// origin is answered with 403 Forbidden (the policy's
    /// [`refusal_response`](OriginPolicy::refusal_response), whose body
    /// [`OriginPolicy::refusal_body`] chooses) and the result is
    /// [`Error::Refused`] with [`Refusal::Origin`]; the callback is not
    /// asked. So a request with a foreign `Origin` *and* a wrong token gets
    /// 403, never the 401 the callback would have chosen. Plain HTTP
    /// requests ([`Request::Http`]) are not checked. To let credentials
    /// answer first, leave this unset and call [`OriginPolicy::check`]
    /// from the callback.
    pub fn origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.settings.origin = Some(policy);
        self
    }

    /// Counts what every connection accepted from now on holds of
    /// unfinished messages against `budget`, shared by the whole server:
    /// a connection that needs more while it is spent stops reading (TCP
    /// pushes back on its peer) until memory is given back, and is closed
    /// with 1013 after the budget's wait limit. See [`MemoryBudget`].
    pub fn memory_budget(mut self, budget: &MemoryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// A received message must end this long after it began, or the
    /// connection is closed with 1008 and its bytes freed (default 60 s;
    /// `None` waits as long as it takes). A
    /// [`Config::message_timeout`](crate::Config::message_timeout) given
    /// with [`config`](Self::config) takes precedence.
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.setup.message_timeout = timeout;
        self
    }

    /// Every connection accepted from now on joins `set`, and leaves it
    /// when its closing handshake is over: a
    /// [`shutdown`](ConnectionSet::shutdown) of the set closes them all
    /// with 1001. Once the set is shutting down, requests are answered
    /// `503 Service Unavailable` with `Retry-After: 1`
    /// ([`Refusal::ShuttingDown`]).
    pub fn connection_set(mut self, set: &ConnectionSet<R>) -> Self {
        self.set = Some(set.clone());
        self
    }

    /// Reads the request, lets `decide` look at it, and upgrades or
    /// answers as the type's docs say.
    pub(crate) async fn accept_with_on<S, F>(
        &self,
        mut stream: S,
        decide: F,
    ) -> Result<WebSocket<S, R>, Error>
    where
        R: ReadIo<S> + WriteIo<S>,
        F: FnOnce(Request<'_>) -> Decision,
    {
        let mut rt = R::default();
        let mut head = Head::start::<R>(self.settings.setup.handshake_timeout);
        let mut handshake = ServerHandshake::new(&self.settings, decide);
        loop {
            head.read_more(&mut rt, &mut stream).await?;
            match handshake.step(&head.buf) {
                ServerStep::Partial => {}
                ServerStep::Refuse { response, error } => {
                    head.refuse(&mut rt, &mut stream, &response).await;
                    return Err(error);
                }
                ServerStep::Upgrade { response, upgraded } => {
                    // The place in the set is taken before the 101 goes
                    // out: a shutdown either refuses this upgrade or
                    // finds it in the set (never a `wait` that returns
                    // while it is being answered).
                    let member = match self.set.as_ref().map(ConnectionSet::admit) {
                        Some(None) => {
                            head.refuse(&mut rt, &mut stream, &shutting_down_response())
                                .await;
                            return Err(Error::Refused(Refusal::ShuttingDown));
                        }
                        Some(Some(admission)) => Some(admission.0),
                        None => None,
                    };
                    head.write(&mut rt, &mut stream, &response).await?;
                    let used = upgraded.used;
                    let mut ws = upgraded.into_socket(stream, rt, &head.buf[used..]);
                    ws.driver.member = member;
                    ws.driver.budget = self.budget.as_ref().map(MemoryBudget::join);
                    return Ok(ws);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

    /// Feeds `bytes` to a fresh step the way an adapter reads them: in
    /// pieces of `chunk` bytes, stepping over the whole buffer each time.
    /// Returns the first step that is not `Partial`, and how many bytes had
    /// been fed by then.
    fn run(bytes: &[u8], chunk: usize, decide: fn(Request<'_>) -> Decision) -> (ServerStep, usize) {
        let settings = ServerSettings::new();
        let mut handshake = ServerHandshake::new(&settings, decide);
        let mut fed = 0;
        while fed < bytes.len() {
            fed = (fed + chunk).min(bytes.len());
            match handshake.step(&bytes[..fed]) {
                ServerStep::Partial => {}
                done => return (done, fed),
            }
        }
        (ServerStep::Partial, fed)
    }

    #[test]
    fn whole_and_byte_at_a_time_give_the_same_upgrade() {
        let mut bytes = REQUEST.to_vec();
        bytes.extend_from_slice(b"early frame bytes");
        let mut seen = Vec::new();
        for chunk in [bytes.len(), 1, 7] {
            let (step, fed) = run(&bytes, chunk, |r| {
                assert_eq!(r.path(), "/chat");
                Decision::accept_protocol("chat")
            });
            let ServerStep::Upgrade { response, upgraded } = step else {
                panic!("{step:?}")
            };
            // The head ends where the request does; what follows is kept.
            assert_eq!(upgraded.used, REQUEST.len());
            assert_eq!(
                &bytes[upgraded.used..fed],
                &b"early frame bytes"[..fed - REQUEST.len()]
            );
            assert_eq!(upgraded.protocol.as_deref(), Some("chat"));
            seen.push(response);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]));
        assert!(seen[0].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    }

    #[test]
    fn a_refusal_is_the_decided_response_then_the_refused_error() {
        for chunk in [REQUEST.len(), 1] {
            let (step, _) = run(REQUEST, chunk, |_| Decision::reject(401));
            let ServerStep::Refuse { response, error } = step else {
                panic!("{step:?}")
            };
            assert!(response.starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));
            assert!(matches!(
                error,
                Error::Refused(Refusal::Decided { status: 401 })
            ));
        }
    }

    #[test]
    fn an_unsendable_decision_is_answered_with_500() {
        let (step, _) = run(REQUEST, REQUEST.len(), |_| {
            Decision::accept_protocol("not offered")
        });
        let ServerStep::Refuse { response, error } = step else {
            panic!("{step:?}")
        };
        assert_eq!(
            response,
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
        );
        assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    }

    #[test]
    fn an_invalid_request_is_the_peers_fault() {
        let request = b"POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n";
        let (step, _) = run(request, 1, |_| unreachable!("not asked"));
        let ServerStep::Refuse { error, .. } = step else {
            panic!("{step:?}")
        };
        assert!(matches!(error, Error::Handshake(_)), "{error:?}");
    }
}
