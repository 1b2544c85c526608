//! The server side: parse and validate the client's request, then accept or
//! refuse it.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::borrow::Cow;
use alloc::collections::BTreeSet;

use super::accept::{accept_key, is_valid_key};
use super::error::{HandshakeError, HandshakeUsageError};
use super::head::{HeadError, HeadScanner, StartLine};
use super::http1::{HttpRequest, parse_head, write_header, write_status_line};
use super::query::QueryPairs;
use super::response::{check_header, check_not_reserved, http_response};
use crate::headers::{Extension, Headers, is_token, parse_extensions, parse_protocols, trim_ows};
use crate::{HandshakeLimits, Parsed};

/// Reads a client's request head as it arrives, in linear time.
///
/// Pass the whole buffer received so far on each call (the same bytes plus
/// more). The parser remembers how far it has already looked for the blank
/// line that ends the head, enforces the [`HandshakeLimits`] while looking,
/// and parses the head once it is complete. Bytes after the head (a client
/// may send its first frames right away) stay with the caller.
///
/// After a `Complete` or an error the parser starts afresh, so it can read
/// the next request of a keep-alive connection from `buf[consumed..]`.
///
/// ```
/// use wsproto::handshake::{AcceptOptions, RequestParser};
/// use wsproto::Parsed;
///
/// let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let mut parser = RequestParser::default();
/// assert!(parser.parse(&request[..10])?.is_partial());
/// let Parsed::Complete((upgrade, used)) = parser.parse(request)? else { unreachable!() };
/// assert_eq!((upgrade.path(), used), ("/chat", request.len()));
/// let accepted = upgrade.accept(AcceptOptions::new()).expect("nothing to misuse");
/// assert!(accepted.response().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// # Ok::<(), wsproto::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    scanner: HeadScanner,
    limits: HandshakeLimits,
}

impl Default for RequestParser {
    /// A parser with the default [`HandshakeLimits`].
    fn default() -> Self {
        RequestParser::new(HandshakeLimits::default())
    }
}

impl RequestParser {
    /// A parser that enforces `limits` (usually `config.handshake`).
    pub fn new(limits: HandshakeLimits) -> Self {
        RequestParser {
            scanner: HeadScanner::new(limits, StartLine::Request),
            limits,
        }
    }

    /// Bytes examined so far over the parser's life. Feeding a head of `n`
    /// bytes in any number of pieces examines exactly `n`: the work is linear.
    /// Exported as `wsproto::__private::request_bytes_scanned` for tests.
    pub(crate) fn bytes_scanned(&self) -> u64 {
        self.scanner.scanned()
    }

    /// Parses the request at the start of `buf`.
    ///
    /// `Partial` until the head is complete; then a validated upgrade
    /// request and the number of bytes its head used. A valid HTTP request
    /// that is not an upgrade comes back as [`HandshakeError::NotWebSocket`]
    /// holding the request, so it can be answered as plain HTTP.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed<(UpgradeRequest, usize)>, HandshakeError> {
        let scanned = self.scanner.scan(buf);
        let fields = self.scanner.fields();
        let len = match scanned {
            Ok(None) => return Ok(Parsed::Partial),
            Ok(Some(len)) => len,
            Err(e) => {
                self.scanner.reset();
                return Err(self.limit_error(e));
            }
        };
        self.scanner.reset();
        let http = parse_head(&buf[..len], fields).map_err(HandshakeError::Malformed)?;
        let request = UpgradeRequest::validate_http1(http)?;
        Ok(Parsed::Complete((request, len)))
    }

    /// The caps this parser enforces.
    #[cfg(feature = "http")]
    pub(super) fn limits(&self) -> &HandshakeLimits {
        &self.limits
    }

    fn limit_error(&self, e: HeadError) -> HandshakeError {
        match e {
            HeadError::TooLarge => HandshakeError::HeadTooLarge {
                limit: self.limits.max_head_size,
            },
            HeadError::TooManyHeaders => HandshakeError::TooManyHeaders {
                limit: self.limits.max_headers,
            },
            HeadError::LineTooLong => HandshakeError::LineTooLong {
                limit: self.limits.max_line_length,
            },
            HeadError::BadStartLine(why) => HandshakeError::Malformed(why),
        }
    }
}

/// A valid WebSocket upgrade request (RFC 6455 §4.2.1), ready to be accepted
/// or refused after the application has looked at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    http: HttpRequest,
    key: String,
    shape: Shape,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
}

impl UpgradeRequest {
    /// Checks the RFC 6455 §4.2.1 requirements, in an order that gives the
    /// most useful answer first.
    pub(super) fn validate_http1(http: HttpRequest) -> Result<UpgradeRequest, HandshakeError> {
        let h = http.headers();
        // RFC 6455 §4.2.1: "An |Upgrade| header field containing the value
        // "websocket", treated as an ASCII case-insensitive value."
        // Without it this is plain HTTP, which the caller may want to serve.
        if !http.is_websocket_upgrade() {
            return Err(HandshakeError::NotWebSocket(Box::new(http)));
        }
        // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
        if http.method() != "GET" {
            return Err(HandshakeError::MethodNotAllowed(http.method().to_owned()));
        }
        if http.minor_version() < 1 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        check_host(h)?;
        // RFC 6455 §4.2.1: "A |Connection| header field that includes the
        // token "Upgrade", treated as an ASCII case-insensitive value."
        if !h.contains_token("Connection", "Upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        UpgradeRequest::validate_fields(http, Shape::Http1)
    }

    /// The checks both request shapes share, from the version on: the
    /// HTTP/1.1 `GET` (with a key) and the RFC 8441 extended `CONNECT`
    /// (without). The caller has checked the method, the `Upgrade` or
    /// `:protocol`, and `Host`.
    pub(super) fn validate_fields(
        http: HttpRequest,
        shape: Shape,
    ) -> Result<UpgradeRequest, HandshakeError> {
        let h = http.headers();
        // Checked before the key: a client of another version may not send
        // a key of this version's form, and deserves a 426 telling it ours.
        // RFC 6455 §4.2.2: "If this version does not match a version
        // understood by the server, the server MUST abort the WebSocket
        // handshake [...] and instead send an appropriate HTTP error code
        // (such as 426 Upgrade Required) and a |Sec-WebSocket-Version|
        // header field".
        let versions = {
            let mut it = h.get_all("Sec-WebSocket-Version");
            (it.next(), it.next())
        };
        match versions {
            (Some(v), None) if trim_ows(v) == b"13" => {}
            // RFC 6455 §11.3.5: "the |Sec-WebSocket-Version| header field
            // MUST NOT appear more than once in an HTTP request."
            (Some(_), Some(_)) => {
                return Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Version"));
            }
            _ => return Err(HandshakeError::UnsupportedVersion),
        }
        let key = match shape {
            Shape::Http1 => String::from_utf8_lossy(check_key(h)?).into_owned(),
            // RFC 8441 §5: "The Sec-WebSocket-Key and Sec-WebSocket-Accept
            // header fields are not used"; §4: "the :protocol pseudo-header
            // field ... MUST be included" (checked by the caller).
            Shape::ExtendedConnect => String::new(),
        };
        let protocols = parse_protocols(h.get_all("Sec-WebSocket-Protocol"))
            .map_err(|()| HandshakeError::InvalidProtocols)?;
        // RFC 6455 §4.1, item 10 of the client's request: "The elements
        // that comprise this value MUST be non-empty strings with characters
        // in the range U+0021 to U+007E not including separator characters
        // as defined in [RFC2616] and MUST all be unique strings." A tree
        // set keeps the check O(n log n) (a head can hold thousands of
        // elements) without the hasher a `no_std` build lacks.
        let mut seen = BTreeSet::new();
        if let Some(repeated) = protocols.iter().find(|p| !seen.insert(p.as_str())) {
            return Err(HandshakeError::DuplicateProtocol(repeated.clone()));
        }
        let mut extensions = Vec::new();
        for value in h.get_all("Sec-WebSocket-Extensions") {
            parse_extensions(value, &mut extensions)
                .map_err(|()| HandshakeError::InvalidExtensions)?;
        }
        Ok(UpgradeRequest {
            http,
            key,
            shape,
            protocols,
            extensions,
        })
    }

    /// The underlying HTTP request.
    pub fn http(&self) -> &HttpRequest {
        &self.http
    }

    /// The path part of the target, e.g. `/chat`.
    pub fn path(&self) -> &str {
        self.http.path()
    }

    /// The query after `?` (where tokens are often passed), still
    /// percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.http.query()
    }

    /// The first value of the query parameter `name`, percent-decoded: see
    /// [`HttpRequest::query_param`].
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.http.query_param(name)
    }

    /// Every query parameter, decoded: see [`HttpRequest::query_pairs`].
    pub fn query_pairs(&self) -> QueryPairs<'_> {
        self.http.query_pairs()
    }

    /// Every header field (`Authorization`, `Cookie`, …), repeats included.
    pub fn headers(&self) -> &Headers {
        self.http.headers()
    }

    /// The first field called `name` (any case), if UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.http.header(name)
    }

    /// The `Host` header (exactly one is guaranteed), if UTF-8.
    pub fn host(&self) -> Option<&str> {
        self.header("Host")
    }

    /// The `Origin` header when there is exactly one (browsers always send
    /// one). Use [`OriginPolicy`](super::OriginPolicy) to check it.
    pub fn origin(&self) -> Option<&str> {
        match self.headers().count("Origin") {
            1 => self.header("Origin"),
            _ => None,
        }
    }

    /// The `Sec-WebSocket-Key` as sent, whitespace trimmed; empty for an
    /// RFC 8441 extended `CONNECT`, which has none.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the request is an RFC 8441 extended `CONNECT` (HTTP/2 or
    /// later, `:protocol = websocket`), answered `200` instead of `101`.
    /// Only requests built from `http` types can be.
    pub fn is_extended_connect(&self) -> bool {
        self.shape == Shape::ExtendedConnect
    }

    /// The subprotocols offered, in the client's order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered, in the client's order of preference.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Accepts the upgrade: the `101 Switching Protocols` response to send,
    /// and what was agreed. Create the connection with the server role next.
    ///
    /// A subprotocol or extension the client did not offer, or an extra
    /// header that is malformed or written by the handshake itself, is the
    /// caller's mistake and returns an error (nothing to send).
    ///
    /// For an extended `CONNECT` (from `http` types) the bytes are the
    /// `200` such a request is answered with, written as HTTP/1.1; answer
    /// it through the HTTP/2 server with `accept_http` (feature `http`).
    pub fn accept(&self, accept: AcceptOptions) -> Result<Negotiated, HandshakeUsageError> {
        let (mut negotiated, headers) = self.negotiate(accept)?;
        let mut out = Vec::with_capacity(160);
        if let Some(accept) = &negotiated.accept {
            // RFC 6455 §4.2.2, step 5: a 101 Status-Line, "An |Upgrade|
            // header field with value "websocket"", "A |Connection| header
            // field with value "Upgrade"", "A |Sec-WebSocket-Accept| header
            // field".
            write_status_line(&mut out, 101);
            write_header(&mut out, "Upgrade", "websocket");
            write_header(&mut out, "Connection", "Upgrade");
            write_header(&mut out, "Sec-WebSocket-Accept", accept);
        } else {
            write_status_line(&mut out, 200);
        }
        if let Some(p) = &negotiated.protocol {
            write_header(&mut out, "Sec-WebSocket-Protocol", p);
        }
        if let Some(list) = negotiated.extensions_header() {
            write_header(&mut out, "Sec-WebSocket-Extensions", &list);
        }
        for (name, value) in &headers {
            write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        negotiated.response = out;
        Ok(negotiated)
    }

    /// Checks the options against the offer and settles what is agreed;
    /// the extra headers of the response come back beside (checked), for
    /// the caller to write in its form. `response` is left empty.
    pub(super) fn negotiate(
        &self,
        #[allow(unused_mut)] mut accept: AcceptOptions,
    ) -> Result<(Negotiated, Vec<(String, String)>), HandshakeUsageError> {
        #[cfg(feature = "deflate")]
        let deflate = match accept.deflate {
            Some(config) => config.negotiate(&self.extensions).map(|(params, answer)| {
                accept.extensions.push(answer);
                params
            }),
            None => None,
        };
        if let Some(p) = &accept.protocol {
            if !is_token(p.as_bytes()) {
                return Err(HandshakeUsageError::InvalidProtocol(p.clone()));
            }
            // RFC 6455 §4.2.2: "The value chosen MUST be derived from the
            // client's handshake, specifically by selecting one of the
            // values from the |Sec-WebSocket-Protocol| field".
            if !self.protocols.contains(p) {
                return Err(HandshakeUsageError::ProtocolNotOffered(p.clone()));
            }
        }
        for e in &accept.extensions {
            if !e.is_valid() {
                return Err(HandshakeUsageError::InvalidExtension(e.to_string()));
            }
            // RFC 6455 §4.2.2: "Extensions not listed by the client MUST NOT
            // be listed."
            if !self
                .extensions
                .iter()
                .any(|o| o.name().eq_ignore_ascii_case(e.name()))
            {
                return Err(HandshakeUsageError::ExtensionNotOffered(
                    e.name().to_owned(),
                ));
            }
        }
        const RESERVED: &[&str] = &[
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
        ];
        for (name, value) in &accept.headers {
            check_header(name, value)?;
            check_not_reserved(name, RESERVED)?;
        }
        let negotiated = Negotiated {
            response: Vec::new(),
            accept: match self.shape {
                Shape::Http1 => Some(accept_key(&self.key)),
                Shape::ExtendedConnect => None,
            },
            protocol: accept.protocol,
            extensions: accept.extensions,
            #[cfg(feature = "deflate")]
            deflate,
        };
        Ok((negotiated, accept.headers))
    }

    /// Refuses the upgrade with any final status (≥ 200), headers and body,
    /// e.g. 401 with `WWW-Authenticate`, 404, or a 3xx redirect. Send the
    /// bytes, then close.
    pub fn reject(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<u8>, HandshakeUsageError> {
        if status < 200 {
            return Err(HandshakeUsageError::InvalidStatus(status));
        }
        http_response(status, headers, body)
    }
}

/// `Host` exactly once (for an extended CONNECT, the `:authority` stands
/// in for it).
pub(super) fn check_host(h: &Headers) -> Result<(), HandshakeError> {
    // RFC 6455 §4.2.1: "A |Host| header field containing the server's
    // authority." RFC 7230 §5.4 allows exactly one.
    match h.count("Host") {
        0 => Err(HandshakeError::MissingHost),
        1 => Ok(()),
        _ => Err(HandshakeError::DuplicateHeader("Host")),
    }
}

/// The `Sec-WebSocket-Key` of an HTTP/1.1 request, checked.
fn check_key(h: &Headers) -> Result<&[u8], HandshakeError> {
    // RFC 6455 §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT
    // appear more than once in an HTTP request."
    let keys = {
        let mut it = h.get_all("Sec-WebSocket-Key");
        (it.next(), it.next())
    };
    let key = match keys {
        (None, _) => return Err(HandshakeError::MissingKey),
        (Some(_), Some(_)) => return Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Key")),
        (Some(k), None) => trim_ows(k),
    };
    // RFC 6455 §4.2.1: "A |Sec-WebSocket-Key| header field with a
    // base64-encoded [...] value that, when decoded, is 16 bytes in
    // length."
    if !is_valid_key(key) {
        return Err(HandshakeError::InvalidKey);
    }
    Ok(key)
}

/// Which of the two ways to ask for a WebSocket a request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// RFC 6455 §4.1: HTTP/1.1 `GET` with `Upgrade: websocket` and a
    /// `Sec-WebSocket-Key`; answered `101`.
    Http1,
    /// RFC 8441 §4: `CONNECT` with `:protocol = websocket` over HTTP/2
    /// (RFC 9220: HTTP/3); no key, answered `200`.
    ExtendedConnect,
}

/// The options of an accepted upgrade, given to [`UpgradeRequest::accept`]:
/// the subprotocol chosen, the extensions agreed, extra headers for the
/// `101` response. (Formerly `Accept`.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    protocol: Option<String>,
    extensions: Vec<Extension>,
    headers: Vec<(String, String)>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl AcceptOptions {
    /// No subprotocol, no extension, no extra header.
    pub fn new() -> Self {
        AcceptOptions::default()
    }

    /// Chooses a subprotocol; it must be one the client offered.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Agrees to an extension (with the parameters of the server's answer);
    /// its name must be one the client offered.
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds a header to the 101 response, e.g. `Set-Cookie`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Agrees to permessage-deflate (RFC 7692) if the client offered it
    /// acceptably, with these preferences: the first well-formed offer is
    /// taken, malformed ones are declined (see
    /// [`DeflateConfig::negotiate`](crate::deflate::DeflateConfig::negotiate)).
    /// [`Negotiated::deflate`] then says what was agreed.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: crate::deflate::DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }
}

/// What [`UpgradeRequest::accept`] settled: the `101` response to send and
/// what was negotiated (subprotocol, extensions, permessage-deflate).
/// (Formerly `Accepted`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub(super) response: Vec<u8>,
    /// The `Sec-WebSocket-Accept` value; `None` for an extended CONNECT.
    pub(super) accept: Option<String>,
    protocol: Option<String>,
    extensions: Vec<Extension>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
}

impl Negotiated {
    /// The `101 Switching Protocols` response bytes to send (after
    /// [`UpgradeRequest::accept`]; empty after `accept_http`, whose
    /// `http::Response` is the answer).
    pub fn response(&self) -> &[u8] {
        &self.response
    }

    /// The response bytes, by value.
    pub fn into_response(self) -> Vec<u8> {
        self.response
    }

    /// The agreed subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The agreed extensions, in the order they apply.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The `Sec-WebSocket-Extensions` value of the response, if any.
    pub(super) fn extensions_header(&self) -> Option<String> {
        if self.extensions.is_empty() {
            return None;
        }
        let list: Vec<String> = self.extensions.iter().map(Extension::to_string).collect();
        Some(list.join(", "))
    }

    /// The permessage-deflate parameters agreed through
    /// [`AcceptOptions::deflate`], for
    /// [`Connection::set_deflate`](crate::Connection::set_deflate).
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<crate::deflate::DeflateParams> {
        self.deflate
    }
}
