//! The opening handshake in the `http` crate's types (feature `http`), for
//! servers and clients built on hyper, axum, or anything else that parses
//! HTTP itself: both request shapes, the same checks, the same answers.
//!
//! - **HTTP/1.1** (RFC 6455 §4): `GET` with `Upgrade: websocket`,
//!   `Connection: Upgrade` and a `Sec-WebSocket-Key`; answered `101` with
//!   `Sec-WebSocket-Accept`.
//! - **HTTP/2** (RFC 8441, and HTTP/3 by RFC 9220): an extended `CONNECT`
//!   whose `:protocol` pseudo-header is `websocket` (hyper hands it over
//!   as `hyper::ext::Protocol` in the request's extensions); no key, and
//!   answered `200`.
//!
//! Every other check is the same for both: `Sec-WebSocket-Version: 13`
//! (426), the [`OriginPolicy`](super::OriginPolicy) (403), subprotocol and
//! extension offers (400 when malformed), permessage-deflate, and the
//! [`HandshakeLimits`] on the headers (431).

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};

use super::client::{ClientHandshake, ClientRequest, Established};
use super::error::{HandshakeError, HandshakeUsageError, HttpResponse, ResponseError};
use super::http1::request_from_parts;
use super::origin::OriginPolicy;
use super::server::{AcceptOptions, Negotiated, RequestParser, Shape, UpgradeRequest, check_host};
use crate::HandshakeLimits;
use crate::headers::Headers;

/// Headers that name the connection, not the message: forbidden in
/// HTTP/2 (RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2
/// message containing connection-specific header fields").
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
];

impl RequestParser {
    /// Reads an upgrade request that an HTTP server has parsed already,
    /// with this parser's [`HandshakeLimits`] applied to its headers.
    ///
    /// `protocol` is the `:protocol` pseudo-header of an RFC 8441 extended
    /// `CONNECT`, which the `http` types do not carry themselves; hyper
    /// puts it in the extensions:
    /// `parts.extensions.get::<hyper::ext::Protocol>().map(|p| p.as_str())`.
    /// Pass `None` for HTTP/1.1.
    ///
    /// The result is accepted with [`UpgradeRequest::accept_http`]; an
    /// error is answered with [`HandshakeError::to_http_response`].
    ///
    /// ```
    /// use wsproto::handshake::{AcceptOptions, RequestParser};
    ///
    /// // HTTP/2: CONNECT with `:protocol = websocket`, no key; answered 200.
    /// let request = http::Request::connect("https://example.com/chat")
    ///     .version(http::Version::HTTP_2)
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-protocol", "chat")
    ///     .body(())?;
    /// let (parts, ()) = request.into_parts();
    /// let upgrade = RequestParser::default().parse_http(&parts, Some("websocket"))?;
    /// assert!(upgrade.is_extended_connect());
    /// assert_eq!((upgrade.path(), upgrade.host()), ("/chat", Some("example.com")));
    /// let (response, _negotiated) = upgrade.accept_http(AcceptOptions::new().protocol("chat"))?;
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_http(
        &self,
        parts: &http::request::Parts,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, HandshakeError> {
        from_http(
            &parts.method,
            &parts.uri,
            parts.version,
            &parts.headers,
            protocol,
            self.limits(),
        )
    }

    /// [`parse_http`](Self::parse_http) for a whole request (the body is
    /// not looked at).
    pub fn parse_http_request<B>(
        &self,
        request: &Request<B>,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, HandshakeError> {
        from_http(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
            protocol,
            self.limits(),
        )
    }
}

fn from_http(
    method: &Method,
    uri: &Uri,
    version: Version,
    map: &HeaderMap,
    protocol: Option<&str>,
    limits: &HandshakeLimits,
) -> Result<UpgradeRequest, HandshakeError> {
    let mut headers = Headers::new();
    for (name, value) in map {
        headers.push(name.as_str(), value.as_bytes());
    }
    check_limits(&headers, limits)?;
    let target = match uri.path_and_query() {
        Some(pq) => pq.as_str(),
        None => "/",
    };
    let extended_connect = method == Method::CONNECT && version >= Version::HTTP_2;
    if !extended_connect {
        // HTTP/1.0 is 0; HTTP/1.1 is 1, and so is anything later here: a
        // GET over HTTP/2 cannot carry `Upgrade` (RFC 9113 §8.2.2) and is
        // plain HTTP below.
        let minor = u8::from(version != Version::HTTP_10 && version != Version::HTTP_09);
        let http = request_from_parts(method.as_str(), target, minor, headers);
        return UpgradeRequest::validate_http1(http);
    }
    // RFC 8441 §4: "the :authority pseudo-header field ... conveys the
    // authority"; it stands in for `Host`, which HTTP/2 requests carry
    // only by exception.
    if let Some(authority) = uri.authority() {
        if headers.count("Host") == 0 {
            headers.push("host", authority.as_str().as_bytes());
        }
    }
    let http = request_from_parts(method.as_str(), target, 1, headers);
    // RFC 8441 §4: "On requests that contain the :protocol pseudo-header
    // field, ... the :protocol pseudo-header field MUST be included".
    // Another protocol (or none: a plain CONNECT tunnel) is not ours.
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeError::NotWebSocket(Box::new(http)));
    }
    check_host(http.headers())?;
    UpgradeRequest::validate_fields(http, Shape::ExtendedConnect)
}

/// The caps of a head we parse ourselves, on the fields as they would be
/// written: `name: value` plus CRLF (431 beyond them).
fn check_limits(headers: &Headers, limits: &HandshakeLimits) -> Result<(), HandshakeError> {
    if headers.len() > limits.max_headers {
        return Err(HandshakeError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    let mut size = 0;
    for (name, value) in headers.iter() {
        let line = name.len() + 2 + value.len();
        if line > limits.max_line_length {
            return Err(HandshakeError::LineTooLong {
                limit: limits.max_line_length,
            });
        }
        size += line + 2;
        if size > limits.max_head_size {
            return Err(HandshakeError::HeadTooLarge {
                limit: limits.max_head_size,
            });
        }
    }
    Ok(())
}

impl UpgradeRequest {
    /// Checks the request's headers against `limits` (431 beyond them),
    /// for a request read with other limits than the connection's: the
    /// axum extractor reads before the handler chooses its
    /// [`Config`](crate::Config).
    pub fn check_limits(&self, limits: &HandshakeLimits) -> Result<(), HandshakeError> {
        check_limits(self.headers(), limits)
    }

    /// Accepts the upgrade, answered in the `http` crate's types: `101
    /// Switching Protocols` with `Sec-WebSocket-Accept` for HTTP/1.1, `200`
    /// for an extended CONNECT (RFC 8441 §5: "a 2xx status code"); with the
    /// agreed subprotocol and extensions and the options' extra headers.
    /// The same checks and errors as [`accept`](Self::accept).
    pub fn accept_http(
        &self,
        accept: AcceptOptions,
    ) -> Result<(Response<()>, Negotiated), HandshakeUsageError> {
        let (negotiated, extra) = self.negotiate(accept)?;
        let mut response = Response::new(());
        if let Some(accept) = &negotiated.accept {
            // RFC 6455 §4.2.2, step 5: 101, `Upgrade: websocket`,
            // `Connection: Upgrade`, `Sec-WebSocket-Accept`.
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(
                http::header::CONNECTION,
                HeaderValue::from_static("Upgrade"),
            );
            headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, value(accept)?);
        }
        let headers = response.headers_mut();
        if let Some(p) = negotiated.protocol() {
            headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, value(p)?);
        }
        if let Some(list) = negotiated.extensions_header() {
            headers.insert(http::header::SEC_WEBSOCKET_EXTENSIONS, value(&list)?);
        }
        for (name, v) in &extra {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HandshakeUsageError::InvalidHeader(name.clone()))?;
            headers.append(name, value(v)?);
        }
        Ok((response, negotiated))
    }

    /// Refuses the upgrade with any final status, headers and body (as
    /// [`reject`](Self::reject)), as an `http::Response` for this
    /// request's HTTP version.
    pub fn reject_http(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response<Vec<u8>>, HandshakeUsageError> {
        let bytes = self.reject(status, headers, body)?;
        let version = if self.is_extended_connect() {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        Ok(response_from_bytes(&bytes, version))
    }
}

fn value(v: &str) -> Result<HeaderValue, HandshakeUsageError> {
    HeaderValue::from_str(v).map_err(|_| HandshakeUsageError::InvalidHeader(v.to_owned()))
}

impl HandshakeError {
    /// The refusal of [`response`](Self::response) (same status, headers
    /// and body) as an `http::Response` for a request of `version`: over
    /// HTTP/2 and later without the connection-specific `Connection` and
    /// `Upgrade` fields that HTTP/2 forbids.
    ///
    /// ```
    /// use wsproto::handshake::RequestParser;
    ///
    /// let (parts, ()) = http::Request::get("/").header("host", "h")
    ///     .header("upgrade", "websocket").header("connection", "upgrade")
    ///     .header("sec-websocket-version", "8").body(())?.into_parts();
    /// let error = RequestParser::default().parse_http(&parts, None).unwrap_err();
    /// let response = error.to_http_response(parts.version);
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_http_response(&self, version: Version) -> Response<Vec<u8>> {
        response_from_bytes(&self.response(), version)
    }
}

impl OriginPolicy {
    /// The 403 of [`refusal_response`](Self::refusal_response) as an
    /// `http::Response` for a request of `version`.
    pub fn refusal_http_response(&self, version: Version) -> Response<Vec<u8>> {
        response_from_bytes(&self.refusal_response(), version)
    }
}

/// One of our own HTTP/1.1 responses (written by this crate, so well
/// formed) as an `http::Response`, minus what `version` forbids.
fn response_from_bytes(bytes: &[u8], version: Version) -> Response<Vec<u8>> {
    // One slot per line is enough, whatever headers a caller added.
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let mut slots = vec![httparse::EMPTY_HEADER; lines];
    let mut parsed = httparse::Response::new(&mut slots);
    let (status, head_len) = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => (parsed.code.unwrap_or(500), n),
        _ => (500, bytes.len()),
    };
    let mut response = Response::new(bytes[head_len..].to_vec());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h2 = version >= Version::HTTP_2;
    for h in parsed.headers.iter() {
        if h.name.is_empty()
            || (h2
                && CONNECTION_SPECIFIC
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(h.name)))
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

impl ClientRequest {
    /// The request as an `http::Request<()>`, for an HTTP client that
    /// writes it (hyper's), and the handshake that checks the answer with
    /// [`ClientHandshake::check_http_response`].
    ///
    /// - `Version::HTTP_11`: `GET` with the resource as the URI, `Host`,
    ///   `Upgrade`, `Connection` and a fresh `Sec-WebSocket-Key`; send it
    ///   and take the connection with `hyper::upgrade::on` after the `101`.
    /// - `Version::HTTP_2` (RFC 8441): `CONNECT` to
    ///   `http[s]://host/resource` (`https` for a `wss://` URL), no key.
    ///   The `:protocol` pseudo-header is not a header:
    ///   with hyper, insert it before sending,
    ///   `request.extensions_mut().insert(hyper::ext::Protocol::from_static("websocket"))`.
    ///   The server must have advertised `SETTINGS_ENABLE_CONNECT_PROTOCOL`.
    ///
    /// Any other version is refused ([`HandshakeUsageError::InvalidTarget`]).
    pub fn build_http(
        self,
        version: Version,
    ) -> Result<(Request<()>, ClientHandshake), HandshakeUsageError> {
        self.check()?;
        let (builder, key) = match version {
            Version::HTTP_11 => {
                let key = super::generate_key();
                let builder = Request::get(self.resource()).header("host", self.host());
                (builder, Some(key))
            }
            Version::HTTP_2 => {
                let scheme = if self.is_secure() { "https" } else { "http" };
                let uri = format!("{scheme}://{}{}", self.host(), self.resource());
                (Request::connect(uri), None)
            }
            _ => return Err(HandshakeUsageError::InvalidTarget("HTTP version")),
        };
        let mut builder = builder.version(version);
        let mut bad = None;
        self.for_each_header(key.as_deref(), |name, v| {
            match (HeaderName::from_bytes(name.as_bytes()), value(v)) {
                (Ok(name), Ok(v)) => builder = std::mem::take(&mut builder).header(name, v),
                _ => bad = Some(name.to_owned()),
            }
        });
        if let Some(name) = bad {
            return Err(HandshakeUsageError::InvalidHeader(name));
        }
        let request = builder
            .body(())
            .map_err(|_| HandshakeUsageError::InvalidTarget("Host or resource name"))?;
        Ok((request, self.into_handshake(key.as_deref())))
    }
}

impl ClientHandshake {
    /// Checks the server's answer to a request from
    /// [`ClientRequest::build_http`]: for HTTP/1.1 a `101` with the right
    /// `Sec-WebSocket-Accept`, `Upgrade` and `Connection`; for an
    /// extended CONNECT any `2xx` (RFC 8441 §5). Then, both: the
    /// subprotocol and extensions must be among those offered, and a
    /// permessage-deflate answer must fit the offer.
    ///
    /// Any other status is [`ResponseError::NotSwitching`], with the
    /// headers (the body is not read: it is the client's to read).
    pub fn check_http_response<B>(
        &self,
        response: &Response<B>,
    ) -> Result<Established, ResponseError> {
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            headers.push(name.as_str(), value.as_bytes());
        }
        let status = response.status();
        let connect = self.expected_accept().is_empty();
        let switched = if connect {
            status.is_success()
        } else {
            status == StatusCode::SWITCHING_PROTOCOLS
        };
        if !switched {
            return Err(ResponseError::NotSwitching(Box::new(HttpResponse {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                headers,
                body: Vec::new(),
            })));
        }
        if !connect {
            self.check_upgrade(&headers)?;
        }
        self.check_negotiation(headers)
    }
}
