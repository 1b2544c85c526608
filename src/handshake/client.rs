//! The client side: write the upgrade request, then validate the server's
//! response as it arrives.

#[cfg(feature = "std")]
use super::accept::generate_key;
use super::accept::{accept_key, key_from_nonce};
use super::error::{HandshakeUsageError, HttpResponse, ResponseError};
use super::head::{HeadError, HeadScanner, StartLine};
use super::http1::{httparse_reason, write_header};
use super::response::{check_header, check_not_reserved};
use super::url::WsUrl;
use crate::headers::{Extension, Headers, is_token, parse_extensions, trim_ows};
#[allow(unused_imports)]
use crate::prelude::*;
use crate::{HandshakeLimits, Parsed};

/// What a client asks for: target, origin, subprotocols, extensions, extra
/// headers. [`ClientRequest::build`] turns it into request bytes plus the
/// [`ClientHandshake`] that checks the answer.
///
/// ```
/// use wsproto::handshake::ClientRequest;
/// let (bytes, _handshake) = ClientRequest::from_url("ws://server.example.com/chat")?
///     .origin("http://example.com")
///     .protocol("chat")
///     .protocol("superchat")
///     .build_with_nonce(*b"the sample nonce")?;
/// assert_eq!(bytes, b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n");
/// # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
    host: String,
    resource: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    headers: Vec<(String, String)>,
    limits: HandshakeLimits,
    secure: bool,
}

impl ClientRequest {
    /// A request for a `ws://` or `wss://` URL: `Host` and the request line
    /// come from it. Connecting (and TLS for `wss`) is the caller's job; see
    /// [`WsUrl`] for the host and port.
    pub fn from_url(url: &str) -> Result<ClientRequest, HandshakeUsageError> {
        let url = WsUrl::parse(url)?;
        let mut request = ClientRequest::new(url.host_header(), url.resource());
        request.secure = url.secure();
        Ok(request)
    }

    /// A request from parts: the `Host` header value (with `:port` when not
    /// the default) and the resource name (path and query, starting `/`).
    /// Both are checked by [`ClientRequest::build`].
    pub fn new(host: impl Into<String>, resource: impl Into<String>) -> ClientRequest {
        ClientRequest {
            host: host.into(),
            resource: resource.into(),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
            headers: Vec::new(),
            limits: HandshakeLimits::default(),
            secure: false,
        }
    }

    /// Sends an `Origin` header, as a browser would.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol; offers go out in the order added (preference).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Offers an extension; offers go out in the order added (preference).
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Offers permessage-deflate (RFC 7692) with these preferences (see
    /// [`DeflateConfig::offer`](crate::deflate::DeflateConfig::offer)). The
    /// server's answer is checked against them: one the offer did not allow
    /// fails the handshake with [`ResponseError::DeflateRefused`];
    /// [`Established::deflate`] says what was agreed.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: crate::deflate::DeflateConfig) -> Self {
        self.extensions.push(config.offer());
        self.deflate = Some(config);
        self
    }

    /// Adds a header, e.g. `Authorization: Bearer …` or `Cookie`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Caps on the server's response head (default
    /// [`HandshakeLimits::default`]).
    pub fn limits(mut self, limits: HandshakeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The request bytes with a fresh random key (from `rand`'s thread-local
    /// CSPRNG), and the handshake that validates the response. Needs
    /// `std`; without it, use [`build_with_nonce`](Self::build_with_nonce).
    #[cfg(feature = "std")]
    pub fn build(self) -> Result<(Vec<u8>, ClientHandshake), HandshakeUsageError> {
        self.build_with_key(generate_key())
    }

    /// As [`ClientRequest::build`], with the 16-byte nonce supplied: for a
    /// caller's own random source, and for reproducible tests.
    pub fn build_with_nonce(
        self,
        nonce: [u8; 16],
    ) -> Result<(Vec<u8>, ClientHandshake), HandshakeUsageError> {
        self.build_with_key(key_from_nonce(nonce))
    }

    fn build_with_key(
        self,
        key: String,
    ) -> Result<(Vec<u8>, ClientHandshake), HandshakeUsageError> {
        self.check()?;
        // RFC 6455 §4.1: "The method of the request MUST be GET, and the
        // HTTP version MUST be at least 1.1."
        let mut out = format!("GET {} HTTP/1.1\r\n", self.resource).into_bytes();
        write_header(&mut out, "Host", &self.host);
        self.for_each_header(Some(&key), |name, value| {
            write_header(&mut out, name, value)
        });
        out.extend_from_slice(b"\r\n");
        Ok((out, self.into_handshake(Some(&key))))
    }

    /// Every header after `Host`, in order: the upgrade and the key
    /// (HTTP/1.1 only: an extended CONNECT has neither), `Origin`, the
    /// offers, the version, the caller's.
    pub(super) fn for_each_header(&self, key: Option<&str>, mut f: impl FnMut(&str, &str)) {
        if let Some(key) = key {
            f("Upgrade", "websocket");
            f("Connection", "Upgrade");
            f("Sec-WebSocket-Key", key);
        }
        if let Some(origin) = &self.origin {
            f("Origin", origin);
        }
        if !self.protocols.is_empty() {
            f("Sec-WebSocket-Protocol", &self.protocols.join(", "));
        }
        // RFC 6455 §4.1: "The value of this header field MUST be 13."
        f("Sec-WebSocket-Version", "13");
        if !self.extensions.is_empty() {
            let list: Vec<String> = self.extensions.iter().map(Extension::to_string).collect();
            f("Sec-WebSocket-Extensions", &list.join(", "));
        }
        for (name, value) in &self.headers {
            f(name, value);
        }
    }

    /// The handshake that checks the answer; `key` is `None` for an
    /// extended CONNECT (no `Sec-WebSocket-Accept` to expect).
    pub(super) fn into_handshake(self, key: Option<&str>) -> ClientHandshake {
        ClientHandshake {
            expected_accept: key.map(accept_key).unwrap_or_default(),
            protocols: self.protocols,
            extensions: self
                .extensions
                .into_iter()
                .map(|e| e.name().to_owned())
                .collect(),
            scanner: HeadScanner::new(self.limits, StartLine::Response),
            limits: self.limits,
            #[cfg(feature = "deflate")]
            deflate: self.deflate,
        }
    }

    /// The `Host` value (for HTTP/2, the `:authority`).
    #[cfg(feature = "http")]
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// The resource name: path and query.
    #[cfg(feature = "http")]
    pub(super) fn resource(&self) -> &str {
        &self.resource
    }

    /// Whether the URL was `wss://` (the `:scheme` of an extended CONNECT
    /// is then `https`).
    #[cfg(feature = "http")]
    pub(super) fn is_secure(&self) -> bool {
        self.secure
    }

    pub(super) fn check(&self) -> Result<(), HandshakeUsageError> {
        let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !visible(&self.host) {
            return Err(HandshakeUsageError::InvalidTarget("Host"));
        }
        if !self.resource.starts_with('/')
            || !visible(&self.resource)
            || self.resource.contains('#')
        {
            return Err(HandshakeUsageError::InvalidTarget("resource name"));
        }
        if let Some(origin) = &self.origin {
            check_header("Origin", origin)?;
        }
        for (i, p) in self.protocols.iter().enumerate() {
            // RFC 6455 §4.1: the elements "MUST be non-empty strings with
            // characters in the range U+0021 to U+007E not including
            // separator characters as defined in [RFC2616] and MUST all be
            // unique strings."
            if !is_token(p.as_bytes()) {
                return Err(HandshakeUsageError::InvalidProtocol(p.clone()));
            }
            if self.protocols[..i].contains(p) {
                return Err(HandshakeUsageError::DuplicateProtocol(p.clone()));
            }
        }
        for e in &self.extensions {
            if !e.is_valid() {
                return Err(HandshakeUsageError::InvalidExtension(e.to_string()));
            }
        }
        const RESERVED: &[&str] = &[
            "Host",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
            "Origin",
        ];
        for (name, value) in &self.headers {
            check_header(name, value)?;
            check_not_reserved(name, RESERVED)?;
        }
        Ok(())
    }
}

/// Checks the server's answer to a request from [`ClientRequest::build`].
///
/// Pass the whole buffer received so far on each call; like
/// [`RequestParser`](super::RequestParser) it looks at each byte once.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    expected_accept: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
    scanner: HeadScanner,
    limits: HandshakeLimits,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Accept` value the server must send.
    pub fn expected_accept(&self) -> &str {
        &self.expected_accept
    }

    /// Bytes examined so far; equals the head length however it was split.
    /// Exported as `wsproto::__private::response_bytes_scanned` for tests.
    pub(crate) fn bytes_scanned(&self) -> u64 {
        self.scanner.scanned()
    }

    /// Parses and validates the response at the start of `buf`.
    ///
    /// `Partial` until the head is complete; then what was negotiated and
    /// the number of bytes the head used. Bytes after it are the first
    /// frames of the connection (a server may send them right away).
    pub fn parse_response(
        &mut self,
        buf: &[u8],
    ) -> Result<Parsed<(Established, usize)>, ResponseError> {
        let scanned = self.scanner.scan(buf);
        let fields = self.scanner.fields();
        let len = match scanned {
            Ok(None) => return Ok(Parsed::Partial),
            Ok(Some(len)) => len,
            Err(e) => {
                self.scanner.reset();
                return Err(match e {
                    HeadError::TooLarge => ResponseError::HeadTooLarge {
                        limit: self.limits.max_head_size,
                    },
                    HeadError::TooManyHeaders => ResponseError::TooManyHeaders {
                        limit: self.limits.max_headers,
                    },
                    HeadError::LineTooLong => ResponseError::LineTooLong {
                        limit: self.limits.max_line_length,
                    },
                    HeadError::BadStartLine(why) => ResponseError::Malformed(why),
                });
            }
        };
        self.scanner.reset();
        let established = self.validate(&buf[..len], fields, &buf[len..])?;
        Ok(Parsed::Complete((established, len)))
    }

    fn validate(
        &self,
        head: &[u8],
        fields: usize,
        after: &[u8],
    ) -> Result<Established, ResponseError> {
        let mut slots = vec![httparse::EMPTY_HEADER; fields];
        let mut res = httparse::Response::new(&mut slots);
        match res.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(ResponseError::Malformed("incomplete head")),
            Err(e) => return Err(ResponseError::Malformed(httparse_reason(e))),
        }
        let (Some(version), Some(status)) = (res.version, res.code) else {
            return Err(ResponseError::Malformed("incomplete status line"));
        };
        let mut headers = Headers::new();
        for h in res.headers.iter() {
            headers.push(h.name, h.value);
        }
        // RFC 6455 §4.1: "If the status code received from the server is not
        // 101, the client handles the response per HTTP [RFC2616]
        // procedures."
        if status != 101 {
            return Err(ResponseError::NotSwitching(Box::new(HttpResponse {
                status,
                reason: res.reason.unwrap_or("").to_owned(),
                headers,
                body: after.to_vec(),
            })));
        }
        if version < 1 {
            return Err(ResponseError::UnsupportedHttpVersion);
        }
        self.check_upgrade(&headers)?;
        self.check_negotiation(headers)
    }

    /// The HTTP/1.1 switch: `Upgrade`, `Connection`, `Sec-WebSocket-Accept`.
    pub(super) fn check_upgrade(&self, headers: &Headers) -> Result<(), ResponseError> {
        // RFC 6455 §4.1: "If the response lacks an |Upgrade| header field or
        // the |Upgrade| header field contains a value that is not an ASCII
        // case-insensitive match for the value "websocket", the client MUST
        // _Fail the WebSocket Connection_."
        if !headers.contains_token("Upgrade", "websocket") {
            return Err(ResponseError::MissingUpgrade);
        }
        // RFC 6455 §4.1: "If the response lacks a |Connection| header field
        // or the |Connection| header field doesn't contain a token that is
        // an ASCII case-insensitive match for the value "Upgrade", the
        // client MUST _Fail the WebSocket Connection_."
        if !headers.contains_token("Connection", "Upgrade") {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        // RFC 6455 §11.3.3: "The |Sec-WebSocket-Accept| header MUST NOT
        // appear more than once in an HTTP response."
        let accept =
            single(headers, "Sec-WebSocket-Accept")?.ok_or(ResponseError::MissingAccept)?;
        // RFC 6455 §4.1: a value "other than the base64-encoded SHA-1 of the
        // concatenation of the |Sec-WebSocket-Key| [...] with the string
        // "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" but ignoring any leading and
        // trailing whitespace" fails the connection.
        if trim_ows(accept) != self.expected_accept.as_bytes() {
            return Err(ResponseError::WrongAccept);
        }
        Ok(())
    }

    /// What the server agreed to (subprotocol, extensions,
    /// permessage-deflate), checked against the offer; both shapes.
    pub(super) fn check_negotiation(&self, headers: Headers) -> Result<Established, ResponseError> {
        // RFC 6455 §4.1: a subprotocol "that was not present in the client's
        // handshake" fails the connection; §4.2.2: the server sends a single
        // token (and, §11.3.4, the header at most once).
        let protocol = match single(&headers, "Sec-WebSocket-Protocol")? {
            None => None,
            Some(v) => {
                let p = String::from_utf8_lossy(trim_ows(v)).into_owned();
                if !self.protocols.contains(&p) {
                    return Err(ResponseError::ProtocolNotOffered(p));
                }
                Some(p)
            }
        };
        // RFC 6455 §4.1: an extension "that was not present in the client's
        // handshake" fails the connection. Several fields are read as one
        // list (§9.1).
        let mut extensions = Vec::new();
        for v in headers.get_all("Sec-WebSocket-Extensions") {
            parse_extensions(v, &mut extensions).map_err(|()| ResponseError::InvalidExtensions)?;
        }
        if let Some(e) = extensions.iter().find(|e| {
            !self
                .extensions
                .iter()
                .any(|o| o.eq_ignore_ascii_case(e.name()))
        }) {
            return Err(ResponseError::ExtensionNotOffered(e.name().to_owned()));
        }
        #[cfg(feature = "deflate")]
        let deflate = match &self.deflate {
            Some(config) => config
                .check_extensions(&extensions)
                .map_err(ResponseError::DeflateRefused)?,
            None => None,
        };
        Ok(Established {
            protocol,
            extensions,
            headers,
            #[cfg(feature = "deflate")]
            deflate,
        })
    }
}

/// The value of a header that may appear at most once.
fn single<'a>(headers: &'a Headers, name: &'static str) -> Result<Option<&'a [u8]>, ResponseError> {
    let first_two = {
        let mut it = headers.get_all(name);
        (it.next(), it.next())
    };
    match first_two {
        (first, None) => Ok(first),
        _ => Err(ResponseError::DuplicateHeader(name)),
    }
}

/// What the server agreed to in a valid `101 Switching Protocols`
/// response: the subprotocol, the extensions and the response's headers
/// (the status is always 101, so it is not kept). Create the connection
/// with the client role next, and feed it the bytes after the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    protocol: Option<String>,
    extensions: Vec<Extension>,
    headers: Headers,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
}

impl Established {
    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions in use, in the order they apply (RFC 6455 §9.1).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The permessage-deflate parameters the server agreed to, after an
    /// offer made with [`ClientRequest::deflate`], for
    /// [`Connection::set_deflate`](crate::Connection::set_deflate).
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<crate::deflate::DeflateParams> {
        self.deflate
    }

    /// Every header of the response (`Set-Cookie`, …).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}
