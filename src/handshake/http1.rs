//! HTTP/1.1 heads, below both roles and the errors: the parsed request
//! ([`HttpRequest`]), the status line and header writers, and the reason
//! phrases.
//!
//! A leaf: it imports no other handshake file but `headers` and `query`, so `error`,
//! `response`, `server` and `client` can all use it without importing each
//! other in a circle.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::borrow::Cow;

use super::query::{QueryPairs, query_param};
use crate::headers::Headers;

/// The reason phrase for a status code (RFC 7231 §6.1), or `""` when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Runs `httparse` once over a complete head of `fields` header lines; the
/// error says why it is malformed.
pub(super) fn parse_head(head: &[u8], fields: usize) -> Result<HttpRequest, &'static str> {
    let mut slots = vec![httparse::EMPTY_HEADER; fields];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err("incomplete head"),
        Err(e) => return Err(httparse_reason(e)),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err("incomplete request line");
    };
    let mut headers = Headers::new();
    for h in req.headers.iter() {
        headers.push(h.name, h.value);
    }
    let (path, query) = split_target(target);
    Ok(HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        minor_version: version,
        headers,
        head_len: head.len(),
    })
}

/// A request whose head another HTTP implementation parsed (hyper, h2):
/// `target` as in a request line (origin or absolute form), no head bytes.
#[cfg(feature = "http")]
pub(super) fn request_from_parts(
    method: &str,
    target: &str,
    minor_version: u8,
    headers: Headers,
) -> HttpRequest {
    let (path, query) = split_target(target);
    HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        minor_version,
        headers,
        head_len: 0,
    }
}

pub(super) fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// Splits a request-target into path and query. RFC 6455 §4.1: the
/// Request-URI is the /resource name/ "or be an absolute http/https URI"
/// — for that form the path starts after the authority.
fn split_target(target: &str) -> (&str, Option<&str>) {
    let mut rest = target;
    if !rest.starts_with('/') {
        if let Some(i) = rest.find("://") {
            let after = &rest[i + 3..];
            rest = after.find(['/', '?']).map_or("", |j| &after[j..]);
        }
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

/// A parsed HTTP/1.x request head, WebSocket or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    minor_version: u8,
    headers: Headers,
    head_len: usize,
}

impl HttpRequest {
    /// How many bytes of the buffer the head used. For a plain HTTP request
    /// any body follows; a keep-alive server reads the next request after it.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request-target exactly as sent, e.g. `/chat?token=x`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path part of the target (`/` when empty), still percent-encoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query after `?`, still percent-encoded; `None` without a `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The first value of the query parameter `name`, percent-decoded as
    /// `application/x-www-form-urlencoded` (`+` is a space; an invalid
    /// escape such as `%zz` is kept literally; bytes that are not UTF-8
    /// become U+FFFD). Names are compared after decoding, case-sensitively;
    /// a name without `=` (`?debug`) has the empty value. `None` when the
    /// parameter is absent. See [`QueryPairs`] for the exact rules.
    ///
    /// ```
    /// use wsproto::handshake::RequestParser;
    /// use wsproto::Parsed;
    ///
    /// let request = b"GET /chat?room=caf%C3%A9&name=Ann+Lee&room=2&debug HTTP/1.1\r\n\
    ///     Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    /// let Parsed::Complete((upgrade, _)) = RequestParser::default().parse(request)? else {
    ///     unreachable!()
    /// };
    /// let http = upgrade.http();
    /// assert_eq!(http.query_param("room").as_deref(), Some("café")); // the first one
    /// assert_eq!(http.query_param("name").as_deref(), Some("Ann Lee"));
    /// assert_eq!(http.query_param("debug").as_deref(), Some(""));
    /// assert_eq!(http.query_param("token"), None);
    /// # Ok::<(), wsproto::handshake::HandshakeError>(())
    /// ```
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        query_param(self.query(), name)
    }

    /// Every query parameter, in order, repeats included, decoded as by
    /// [`query_param`](Self::query_param); nothing without a query.
    pub fn query_pairs(&self) -> QueryPairs<'_> {
        QueryPairs::new(self.query().unwrap_or(""))
    }

    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Every header field, repeats included.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first field called `name` (any case), if UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// Whether the request asks for a WebSocket upgrade (`Upgrade` lists
    /// `websocket`), valid or not.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers.contains_token("Upgrade", "websocket")
    }
}

/// Writes `HTTP/1.1 <status> <reason>` and its CRLF.
pub(super) fn write_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
}

/// Writes one `name: value` line; the caller has checked both.
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(split_target("/chat"), ("/chat", None));
        assert_eq!(split_target("/chat?a=1?b"), ("/chat", Some("a=1?b")));
        assert_eq!(split_target("/?"), ("/", Some("")));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("https://h"), ("/", None));
        assert_eq!(split_target("https://h?x"), ("/", Some("x")));
        assert_eq!(split_target("*"), ("*", None));
    }
}
