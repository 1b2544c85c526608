//! The server side of the opening handshake, without I/O: what both
//! adapters' `accept_with` decide, given the bytes read so far. The
//! adapters only read the head within the deadline, write what a
//! [`ServerStep`] says, and linger after a refusal.
//!
//! [`Request`] and [`Decision`] live here and are re-exported by
//! `wsproto::blocking` and `wsproto::tokio`.

use std::borrow::Cow;
use std::time::Duration;

use super::Upgraded;
use super::error::{Error, HandshakeFailure, Refusal};
use crate::handshake::{
    AcceptOptions, HandshakeError, HttpRequest, OriginPolicy, QueryPairs, RequestParser,
    UpgradeRequest, http_response, reason_phrase,
};
use crate::{Config, Parsed, Role};

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
/// runtime: the [`Config`], the handshake timeout, and an optional
/// [`OriginPolicy`] checked before the decision.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) config: Config,
    pub(crate) handshake_timeout: Duration,
    pub(crate) origin: Option<OriginPolicy>,
}

impl ServerSettings {
    /// Default [`Config`], 10 s handshake timeout, any `Origin`.
    pub(crate) fn new() -> Self {
        ServerSettings {
            config: Config::default(),
            handshake_timeout: super::DEFAULT_TIMEOUT,
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
            parser: RequestParser::new(settings.config.handshake),
            decide: Some(decide),
        }
    }

    /// Looks at everything read so far (the whole buffer, each time). In
    /// order:
    ///
    /// - an invalid upgrade request is answered with its HTTP error
    ///   without asking `decide` ([`HandshakeFailure::Request`]);
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
                let accept = match self.settings.config.deflate {
                    Some(deflate) => accept.deflate(deflate),
                    None => accept,
                };
                match upgrade.accept(accept) {
                    Ok(negotiated) => ServerStep::Upgrade {
                        upgraded: Upgraded {
                            role: Role::Server,
                            config: self.settings.config.clone(),
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
        error: HandshakeFailure::Request(error).into(),
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

/// A `ServerBuilder` (with the docs given) over [`ServerSettings`], its
/// constructor and setters, written once for the blocking and the tokio
/// builder; the docs after `origin_policy:` end those of that method (its
/// example). Each adapter accepts in an `impl` of its own.
macro_rules! server_builder {
    (
        $(#[$doc:meta])* pub struct ServerBuilder;
        origin_policy: $(#[$origin_example:meta])*
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct ServerBuilder {
            settings: $crate::driver::server::ServerSettings,
        }

        impl Default for ServerBuilder {
            fn default() -> Self {
                ServerBuilder::new()
            }
        }

        impl ServerBuilder {
            /// Default [`Config`](crate::Config), 10 s handshake timeout, any
            /// `Origin`.
            pub fn new() -> Self {
                ServerBuilder {
                    settings: $crate::driver::server::ServerSettings::new(),
                }
            }

            /// The connection's limits, timeouts and keepalive (and the
            /// handshake's head limits).
            pub fn config(mut self, config: $crate::Config) -> Self {
                self.settings.config = config;
                self
            }

            /// Bound on the whole opening handshake; a client that stalls is
            /// dropped (default 10 s).
            pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.settings.handshake_timeout = timeout;
                self
            }

            /// Checks the `Origin` of every upgrade request with `policy`
            /// **before** the decision callback of [`accept_with`](Self::accept_with)
            /// runs. A refused origin is answered with 403 Forbidden (the policy's
            /// [`refusal_response`](crate::handshake::OriginPolicy::refusal_response), whose body
            /// [`OriginPolicy::refusal_body`](crate::handshake::OriginPolicy::refusal_body) chooses) and the result is
            /// [`Error::Refused`] with [`Refusal::Origin`]; the callback is not
            /// asked. So a request with a foreign `Origin` *and* a wrong token gets
            /// 403, never the 401 the callback would have chosen. Plain HTTP
            /// requests ([`Request::Http`]) are not checked. To let credentials
            /// answer first, leave this unset and call
            /// [`OriginPolicy::check`](crate::handshake::OriginPolicy::check)
            /// from the callback.
            $(#[$origin_example])*
            pub fn origin_policy(mut self, policy: $crate::handshake::OriginPolicy) -> Self {
                self.settings.origin = Some(policy);
                self
            }
        }
    };
}
pub(crate) use server_builder;

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
            let (_, protocol) = upgraded.connection(std::time::Instant::now());
            assert_eq!(protocol.as_deref(), Some("chat"));
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
        assert!(
            matches!(error, Error::Handshake(HandshakeFailure::Request(_))),
            "{error:?}"
        );
    }
}
