//! An `Origin` policy against cross-site WebSocket hijacking.
//!
//! Browsers let any page open a WebSocket to any server and attach that
//! server's cookies. RFC 6455 §10.2: "Servers that are not intended to
//! process input from any web page but only for certain sites SHOULD verify
//! the |Origin| field is an origin they expect. If the origin indicated is
//! unacceptable to the server, then it SHOULD respond to the WebSocket
//! handshake with a reply containing HTTP 403 Forbidden status code."

use super::error::{HandshakeError, HandshakeUsageError};
use super::response::{check_header, http_response};
use super::server::UpgradeRequest;
#[allow(unused_imports)]
use crate::prelude::*;

/// Which origins may open a WebSocket to this server.
///
/// An origin passes when it equals an allowed one (scheme and host compared
/// case-insensitively, default ports normalised: `https://a.com:443` is
/// `https://a.com`), or, with [`OriginPolicy::same_origin`], when its host
/// and port are the request's `Host` (the scheme is not compared there; see
/// that method for the exact rules). Always refused: `Origin: null`
/// (sandboxed frames, `file:` pages) and a request with two `Origin` fields.
///
/// A request without `Origin` is allowed by default: browsers always send
/// one, so its absence means a non-browser client, which could forge any
/// origin anyway. [`OriginPolicy::require_origin`] refuses it instead.
///
/// A refusal is answered with 403 Forbidden (RFC 6455 §10.2), with the
/// body of [`refusal_body`](Self::refusal_body) (by default
/// `origin refused`): send [`refusal_response`](Self::refusal_response).
/// The blocking adapter's `ServerBuilder::origin_policy` checks the policy
/// *before* its decision callback, so the callback never sees a request
/// whose `Origin` was refused.
///
/// ```
/// use wsproto::handshake::OriginPolicy;
/// let policy = OriginPolicy::new().allow("https://app.example.com")?.same_origin(true);
/// # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<Origin>,
    same_origin: bool,
    require_origin: bool,
    /// The 403's `Content-Type` and body, when not the default.
    refusal: Option<(String, Vec<u8>)>,
}

impl OriginPolicy {
    /// An empty policy: every request that carries an `Origin` is refused
    /// until [`allow`](Self::allow) or [`same_origin`](Self::same_origin)
    /// admits it, while a request *without* `Origin` passes (a non-browser
    /// client) unless [`require_origin(true)`](Self::require_origin).
    ///
    /// ```
    /// use wsproto::Parsed;
    /// use wsproto::handshake::{OriginPolicy, RequestParser};
    ///
    /// let request = |origin: &str| {
    ///     let text = format!(
    ///         "GET / HTTP/1.1\r\nHost: h\r\n{origin}Upgrade: websocket\r\n\
    ///          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///          Sec-WebSocket-Version: 13\r\n\r\n"
    ///     );
    ///     let Ok(Parsed::Complete((upgrade, _))) = RequestParser::default().parse(text.as_bytes())
    ///     else { unreachable!() };
    ///     upgrade
    /// };
    /// let with_origin = request("Origin: https://h\r\n");
    /// let without = request("");
    ///
    /// let policy = OriginPolicy::new();
    /// assert!(policy.check(&with_origin).is_err()); // no origin is allowed...
    /// assert!(policy.check(&without).is_ok()); // ...but no Origin at all passes
    /// let strict = OriginPolicy::new().require_origin(true);
    /// assert!(strict.check(&without).is_err());
    /// ```
    pub fn new() -> Self {
        OriginPolicy::default()
    }

    /// Allows one origin, `scheme://host[:port]` with no path.
    pub fn allow(mut self, origin: &str) -> Result<Self, HandshakeUsageError> {
        let parsed = Origin::parse(origin)
            .ok_or_else(|| HandshakeUsageError::InvalidOrigin(origin.to_owned()))?;
        self.allowed.push(parsed);
        Ok(self)
    }

    /// Also allows an origin whose host and port match the request's `Host`
    /// header (default: off).
    ///
    /// Exactly what is compared:
    /// - **Host**: the origin's host and the `Host` header's host must be
    ///   equal, ASCII case-insensitively, as text: no subdomain or suffix
    ///   matching, no DNS, an IPv6 literal compared with its brackets
    ///   (`[::1]` does not match `[0::1]`).
    /// - **Port**: when `Host` carries a port, the origin's port must equal
    ///   it — the port written in the origin, or else its scheme's default
    ///   (80 for `http`/`ws`, 443 for `https`/`wss`; an origin of another
    ///   scheme without a port matches no `Host` port). When `Host` has no
    ///   port, the origin must not name a port other than its scheme's
    ///   default.
    /// - **Scheme**: not compared. `Host` carries none, and the server
    ///   cannot tell from the request whether the WebSocket came over TLS, so
    ///   `http://example.com` and `https://example.com` both match
    ///   `Host: example.com`. Use [`allow`](Self::allow) to admit a scheme
    ///   only.
    ///
    /// A `Host` that is not `host[:port]` (a path, userinfo, an empty host, a
    /// bad port) matches nothing; the allow-list still applies.
    ///
    /// ```
    /// use wsproto::Parsed;
    /// use wsproto::handshake::{OriginPolicy, RequestParser};
    ///
    /// let check = |origin: &str, host: &str| {
    ///     let request = format!(
    ///         "GET / HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n\
    ///          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///          Sec-WebSocket-Version: 13\r\n\r\n"
    ///     );
    ///     let Ok(Parsed::Complete((upgrade, _))) = RequestParser::default().parse(request.as_bytes())
    ///     else { unreachable!() };
    ///     OriginPolicy::new().same_origin(true).check(&upgrade).is_ok()
    /// };
    /// assert!(check("https://Example.com", "example.com"));
    /// assert!(check("https://example.com", "example.com:443")); // the default port
    /// assert!(check("http://example.com", "example.com")); // the scheme is not compared
    /// assert!(check("http://example.com:8080", "example.com:8080"));
    /// assert!(!check("http://example.com:8080", "example.com"));
    /// assert!(!check("https://example.com", "example.com:8443"));
    /// assert!(!check("https://www.example.com", "example.com"));
    /// ```
    pub fn same_origin(mut self, yes: bool) -> Self {
        self.same_origin = yes;
        self
    }

    /// Refuses requests that carry no `Origin` (default: allowed).
    pub fn require_origin(mut self, yes: bool) -> Self {
        self.require_origin = yes;
        self
    }

    /// Chooses the body of the 403 that answers a refused origin, and its
    /// `Content-Type` (default: `origin refused` as UTF-8 text). A content
    /// type with CR, LF or NUL in it is refused.
    ///
    /// ```
    /// use wsproto::handshake::OriginPolicy;
    ///
    /// let policy = OriginPolicy::new()
    ///     .same_origin(true)
    ///     .refusal_body("text/html", "<p>Open this app from its own page.</p>")?;
    /// assert_eq!(
    ///     policy.refusal_response(),
    ///     b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/html\r\n\
    ///       Content-Length: 39\r\n\r\n<p>Open this app from its own page.</p>"
    /// );
    /// # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
    /// ```
    pub fn refusal_body(
        mut self,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<Self, HandshakeUsageError> {
        check_header("Content-Type", content_type)?;
        self.refusal = Some((content_type.to_owned(), body.into()));
        Ok(self)
    }

    /// The 403 Forbidden response to send when [`check`](Self::check)
    /// refuses: `Connection: close`, then the body chosen with
    /// [`refusal_body`](Self::refusal_body), or else the same bytes as the
    /// error's [`HandshakeError::response`].
    pub fn refusal_response(&self) -> Vec<u8> {
        match &self.refusal {
            Some((content_type, body)) => http_response(
                403,
                &[("Connection", "close"), ("Content-Type", content_type)],
                body,
            )
            .expect("the content type was checked"),
            None => HandshakeError::OriginRefused(None).response(),
        }
    }

    /// Checks a request; the error answers 403 Forbidden (send
    /// [`refusal_response`](Self::refusal_response)).
    pub fn check(&self, request: &UpgradeRequest) -> Result<(), HandshakeError> {
        let mut values = request.headers().get_all("Origin");
        let value = match (values.next(), values.next()) {
            (None, _) if !self.require_origin => return Ok(()),
            (None, _) | (Some(_), Some(_)) => return Err(HandshakeError::OriginRefused(None)),
            (Some(v), None) => v,
        };
        let refused =
            || HandshakeError::OriginRefused(Some(String::from_utf8_lossy(value).into_owned()));
        let text = core::str::from_utf8(value)
            .map_err(|_| refused())?
            .trim_matches([' ', '\t']);
        // "null" never parses: it has no scheme.
        let origin = Origin::parse(text).ok_or_else(refused)?;
        if self.allowed.contains(&origin) {
            return Ok(());
        }
        if self.same_origin {
            if let Some((host, port)) = request.host().and_then(split_host_port) {
                // A `Host` without a port means the default port; `origin.port`
                // is `None` exactly when the origin uses its default port.
                let port_matches = match port {
                    Some(p) => origin.port.or(default_port(&origin.scheme)) == Some(p),
                    None => origin.port.is_none(),
                };
                if port_matches && origin.host.eq_ignore_ascii_case(host) {
                    return Ok(());
                }
            }
        }
        Err(refused())
    }
}

/// A serialized origin (RFC 6454 §6.2), normalised: lowercase scheme and
/// host, and the port only when it is not the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once("://")?;
        if scheme.is_empty()
            || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = split_host_port(rest)?;
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets, kept with them). `None`
/// when anything else is there: a path, userinfo, an empty host, a bad port.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']')? + 1;
        match &s[end..] {
            "" => (&s[..end], None),
            p => (&s[..end], Some(p.strip_prefix(':')?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]:".contains(&b))
        && (host.starts_with('[') || !host.contains([':', '[', ']']));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise() {
        let a = Origin::parse("HTTPS://Example.COM:443").unwrap();
        assert_eq!(a, Origin::parse("https://example.com").unwrap());
        assert_ne!(a, Origin::parse("http://example.com").unwrap());
        assert_ne!(a, Origin::parse("https://example.com:8443").unwrap());
        assert_eq!(Origin::parse("http://[::1]:8080").unwrap().host, "[::1]");
        assert_eq!(Origin::parse("chrome-extension://abc").unwrap().port, None);
        for bad in [
            "null",
            "example.com",
            "https://",
            "https://a/",
            "https://a:",
            "https://a:99999",
            "https://u@a",
            "https://a:1:2",
            "1a://b",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("a.com:8080"), Some(("a.com", Some(8080))));
        assert_eq!(split_host_port("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_host_port("[::1]x"), None);
        assert_eq!(split_host_port(""), None);
    }
}
