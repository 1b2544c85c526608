//! Handshake errors, by whose fault they are.
//!
//! - [`HandshakeError`]: a client's request that a server must refuse. Each
//!   carries the HTTP status to answer with and a ready-made response.
//! - [`ResponseError`]: a server's response that a client must refuse (RFC
//!   6455 §4.1: the client "MUST _Fail the WebSocket Connection_").
//! - [`HandshakeUsageError`]: the caller asked for something the handshake
//!   cannot send (a subprotocol the client never offered, a header with a
//!   line break in it, …).

#[allow(unused_imports)]
use crate::prelude::*;
use thiserror::Error;

use super::http1::{HttpRequest, write_header, write_status_line};
use crate::headers::Headers;

/// A client's request that the server refuses; answer with
/// [`HandshakeError::response`] and close the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not a valid HTTP/1.x request head (400).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The head is longer than the configured cap (431).
    #[error("request head longer than {limit} bytes")]
    HeadTooLarge {
        /// The configured `max_head_size`.
        limit: usize,
    },
    /// More header fields than the configured cap (431).
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The configured `max_headers`.
        limit: usize,
    },
    /// A line longer than the configured cap (431).
    #[error("a header line longer than {limit} bytes")]
    LineTooLong {
        /// The configured `max_line_length`.
        limit: usize,
    },
    /// A valid HTTP request that does not ask for a WebSocket upgrade (no
    /// `Upgrade: websocket`). The request is kept so a server can answer it
    /// as plain HTTP; the ready-made response is 426 Upgrade Required.
    #[error("not a WebSocket upgrade request")]
    NotWebSocket(Box<HttpRequest>),
    /// An upgrade request with a method other than GET (405, `Allow: GET`).
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// An upgrade request over HTTP/1.0 (400).
    #[error("HTTP/1.1 or later required")]
    UnsupportedHttpVersion,
    /// No `Host` header (400).
    #[error("missing Host header")]
    MissingHost,
    /// A header that may appear only once appeared more often (400).
    #[error("repeated {0} header")]
    DuplicateHeader(&'static str),
    /// `Connection` does not list `Upgrade` (400).
    #[error("Connection header does not contain Upgrade")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` missing or not 13 (426 with
    /// `Sec-WebSocket-Version: 13`).
    #[error("unsupported WebSocket version (13 required)")]
    UnsupportedVersion,
    /// No `Sec-WebSocket-Key` (400).
    #[error("missing Sec-WebSocket-Key header")]
    MissingKey,
    /// A `Sec-WebSocket-Key` that is not base64 for 16 bytes (400).
    #[error("Sec-WebSocket-Key is not base64 for 16 bytes")]
    InvalidKey,
    /// A `Sec-WebSocket-Protocol` element that is not a token (400).
    #[error("malformed Sec-WebSocket-Protocol header")]
    InvalidProtocols,
    /// A subprotocol offered more than once in `Sec-WebSocket-Protocol`
    /// (400); holds the first repeated value. RFC 6455 §4.1: the elements
    /// "MUST all be unique strings".
    #[error("subprotocol {0:?} offered more than once")]
    DuplicateProtocol(String),
    /// A `Sec-WebSocket-Extensions` value outside the §9.1 grammar (400).
    #[error("malformed Sec-WebSocket-Extensions header")]
    InvalidExtensions,
    /// The [`OriginPolicy`](super::OriginPolicy) refused the request's
    /// `Origin` (403). Holds the origin, if there was exactly one.
    #[error("origin refused")]
    OriginRefused(Option<String>),
}

impl HandshakeError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        use HandshakeError::*;
        match self {
            HeadTooLarge { .. } | TooManyHeaders { .. } | LineTooLong { .. } => 431,
            NotWebSocket(_) | UnsupportedVersion => 426,
            MethodNotAllowed(_) => 405,
            OriginRefused(_) => 403,
            // RFC 6455 §4.2.1: "the server MUST stop processing the client's
            // handshake and return an HTTP response with an appropriate error
            // code (such as 400 Bad Request)". HTTP/1.0 gets 400 too, not
            // 505: 505 means the server refuses the request's *major* version
            // (RFC 7231 §6.6.6), and 1.0 and 1.1 share one.
            Malformed(_)
            | UnsupportedHttpVersion
            | MissingHost
            | DuplicateHeader(_)
            | MissingConnectionUpgrade
            | MissingKey
            | InvalidKey
            | InvalidProtocols
            | DuplicateProtocol(_)
            | InvalidExtensions => 400,
        }
    }

    /// The request, when it was valid HTTP but not a WebSocket upgrade.
    pub fn request(&self) -> Option<&HttpRequest> {
        match self {
            HandshakeError::NotWebSocket(request) => Some(request),
            _ => None,
        }
    }

    /// Header fields the response must carry besides the framing ones.
    pub(super) fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        // RFC 7231 §6.5.15: "The server MUST send an Upgrade header field in
        // a 426 response"; RFC 7230 §6.7: a sender of Upgrade "MUST also send
        // a Connection header field that contains an "upgrade" connection
        // option".
        const UPGRADE: &[(&str, &str)] = &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade, close"),
            ("Sec-WebSocket-Version", "13"),
        ];
        match self {
            HandshakeError::NotWebSocket(_) | HandshakeError::UnsupportedVersion => UPGRADE,
            // RFC 7231 §6.5.5: "The origin server MUST generate an Allow
            // header field in a 405 response".
            HandshakeError::MethodNotAllowed(_) => &[("Allow", "GET"), ("Connection", "close")],
            _ => &[("Connection", "close")],
        }
    }

    /// A complete HTTP response to send before closing the connection: the
    /// status, the headers the status requires, and the reason as a short
    /// text body.
    pub fn response(&self) -> Vec<u8> {
        let body = format!("{self}\n");
        let mut out = Vec::with_capacity(160 + body.len());
        write_status_line(&mut out, self.http_status());
        for (name, value) in self.extra_headers() {
            write_header(&mut out, name, value);
        }
        write_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
        write_header(&mut out, "Content-Length", &body.len().to_string());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        out
    }
}

/// A response the server sent instead of `101 Switching Protocols`: an
/// authentication challenge, a redirect (not followed), an error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// The status code, e.g. 401 or 302.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Every header field (`Location`, `WWW-Authenticate`, …).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The bytes after the head that had arrived when the head completed;
    /// the rest of the body, if any, is still on the wire.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// A server's response that the client refuses. RFC 6455 §4.1: if it fails
/// validation, "the client MUST _Fail the WebSocket Connection_".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not a valid HTTP/1.x response head.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The head is longer than the configured cap.
    #[error("response head longer than {limit} bytes")]
    HeadTooLarge {
        /// The configured `max_head_size`.
        limit: usize,
    },
    /// More header fields than the configured cap.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The configured `max_headers`.
        limit: usize,
    },
    /// A line longer than the configured cap.
    #[error("a header line longer than {limit} bytes")]
    LineTooLong {
        /// The configured `max_line_length`.
        limit: usize,
    },
    /// A status other than 101: the handshake did not happen and HTTP
    /// semantics apply. The response is kept for the caller.
    #[error("server answered {} {} instead of 101", .0.status, .0.reason)]
    NotSwitching(Box<HttpResponse>),
    /// A 101 over HTTP/1.0.
    #[error("101 response over HTTP/1.0")]
    UnsupportedHttpVersion,
    /// `Upgrade` missing or without `websocket`.
    #[error("Upgrade header does not contain websocket")]
    MissingUpgrade,
    /// `Connection` missing or without `Upgrade`.
    #[error("Connection header does not contain Upgrade")]
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Accept`.
    #[error("missing Sec-WebSocket-Accept header")]
    MissingAccept,
    /// A `Sec-WebSocket-Accept` that does not match our key.
    #[error("Sec-WebSocket-Accept does not match the key sent")]
    WrongAccept,
    /// A header that may appear only once in a response appeared more often.
    #[error("repeated {0} header")]
    DuplicateHeader(&'static str),
    /// The server chose a subprotocol we did not offer (or none was
    /// offered at all).
    #[error("server chose subprotocol {0:?}, which was not offered")]
    ProtocolNotOffered(String),
    /// The server named an extension we did not offer.
    #[error("server chose extension {0:?}, which was not offered")]
    ExtensionNotOffered(String),
    /// A `Sec-WebSocket-Extensions` value outside the §9.1 grammar.
    #[error("malformed Sec-WebSocket-Extensions header")]
    InvalidExtensions,
    /// The server's permessage-deflate answer is not one our offer allowed
    /// (RFC 7692 §5: the client "MUST _Fail the WebSocket Connection_").
    #[error("unacceptable permessage-deflate answer: {0}")]
    DeflateRefused(&'static str),
}

/// The caller asked the handshake for something it cannot send. Nothing is
/// sent; fix the call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeUsageError {
    /// A subprotocol to accept that the client did not offer. RFC 6455
    /// §4.2.2: "The value chosen MUST be derived from the client's
    /// handshake".
    #[error("subprotocol {0:?} was not offered by the client")]
    ProtocolNotOffered(String),
    /// An extension to accept that the client did not offer. RFC 6455 §9:
    /// "A server MUST NOT respond with any extension not requested by the
    /// client."
    #[error("extension {0:?} was not offered by the client")]
    ExtensionNotOffered(String),
    /// A subprotocol that is not a token.
    #[error("subprotocol {0:?} is not a token")]
    InvalidProtocol(String),
    /// A subprotocol offered twice. RFC 6455 §4.1: the elements "MUST all
    /// be unique strings".
    #[error("subprotocol {0:?} is offered twice")]
    DuplicateProtocol(String),
    /// An extension whose name, parameter names or values are not tokens.
    #[error("extension {0:?} is not made of tokens")]
    InvalidExtension(String),
    /// A header name that is not a token, or a value with CR, LF or NUL.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// An extra header that the handshake writes itself.
    #[error("header {0:?} is written by the handshake")]
    ReservedHeader(String),
    /// A status outside 100–999, or a refusal with a status below 200.
    #[error("invalid status {0}")]
    InvalidStatus(u16),
    /// A body for a status that has none (1xx, 204, 304).
    #[error("status {0} cannot carry a body")]
    BodyNotAllowed(u16),
    /// A URL that is not a valid `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL: {0}")]
    InvalidUrl(&'static str),
    /// A `Host` or resource name that cannot go in a request line.
    #[error("invalid {0}")]
    InvalidTarget(&'static str),
    /// An origin for an allow-list that is not `scheme://host[:port]`.
    #[error("invalid origin {0:?}")]
    InvalidOrigin(String),
}
