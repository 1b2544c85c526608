//! `ws://` and `wss://` URLs (RFC 6455 §3), parsed small and strict.

#[allow(unused_imports)]
use crate::prelude::*;
use core::net::Ipv6Addr;

use super::error::HandshakeUsageError;

/// A parsed WebSocket URL: what a client needs to connect and to write its
/// request line and `Host` header.
///
/// ```text
/// ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
/// ```
///
/// Strict on purpose: no userinfo, no fragment (RFC 6455 §3: "Fragment
/// identifiers are meaningless in the context of WebSocket URIs and MUST NOT
/// be used"), no empty port, path and query in visible ASCII (percent-encode
/// the rest).
///
/// ```
/// let url = wsproto::handshake::WsUrl::parse("wss://[::1]:8443/chat?room=1")?;
/// assert_eq!((url.host(), url.port(), url.secure()), ("::1", 8443, true));
/// assert_eq!((url.host_header(), url.resource()), ("[::1]:8443", "/chat?room=1"));
/// # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    secure: bool,
    host: String,
    port: u16,
    host_header: String,
    resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL.
    pub fn parse(url: &str) -> Result<WsUrl, HandshakeUsageError> {
        let err = HandshakeUsageError::InvalidUrl;
        let (scheme, rest) = url.split_once("://").ok_or(err("missing scheme"))?;
        // RFC 6455 §3: "the secure flag is set" "if the scheme component
        // matches "wss" case-insensitively".
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(err("scheme is not ws or wss"));
        };
        if rest.contains('#') {
            return Err(err("fragment in a WebSocket URL"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(split);
        if authority.contains('@') {
            return Err(err("userinfo is not supported"));
        }
        let (host, host_for_header, port_text) = if let Some(inner) = authority.strip_prefix('[') {
            let (literal, after) = inner.split_once(']').ok_or(err("unclosed IPv6 literal"))?;
            literal
                .parse::<Ipv6Addr>()
                .map_err(|_| err("invalid IPv6 literal"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(err("junk after IPv6 literal"))?),
            };
            (
                literal.to_ascii_lowercase(),
                format!("[{}]", literal.to_ascii_lowercase()),
                port,
            )
        } else {
            let (h, p) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if h.is_empty() {
                return Err(err("empty host"));
            }
            if !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                return Err(err("invalid character in host"));
            }
            (h.to_ascii_lowercase(), h.to_ascii_lowercase(), p)
        };
        // RFC 6455 §3: "the default for "ws" is port 80, while the default
        // for "wss" is port 443."
        let default = if secure { 443 } else { 80 };
        let port = match port_text {
            None => default,
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("invalid port"));
                }
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(err("invalid port")),
                    Ok(n) => n,
                }
            }
        };
        // RFC 6455 §4.1: |Host| "contains /host/ plus optionally ":"
        // followed by /port/ (when not using the default port)".
        let host_header = if port == default {
            host_for_header
        } else {
            format!("{host_for_header}:{port}")
        };
        if !path_query.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(err("path or query not in visible ASCII"));
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            host_header,
            resource: resource_name(path_query),
        })
    }

    /// Whether the scheme is `wss` (connect with TLS).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to and to name in TLS SNI: lowercase, IPv6
    /// literals without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when none was given.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header value: the host, brackets around an IPv6 literal,
    /// and `:port` only when the port is not the default.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// The /resource name/ for the request line, e.g. `/chat?room=1`.
    pub fn resource(&self) -> &str {
        &self.resource
    }
}

/// RFC 6455 §3: the resource name is ""/" if the path component is empty",
/// "the path component", ""?" if the query component is non-empty", "the
/// query component".
fn resource_name(path_query: &str) -> String {
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_query, ""),
    };
    let mut out = String::with_capacity(path_query.len() + 1);
    out.push_str(if path.is_empty() { "/" } else { path });
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(u: &str) -> (bool, String, u16, String, String) {
        let u = WsUrl::parse(u).unwrap();
        (u.secure, u.host, u.port, u.host_header, u.resource)
    }

    #[test]
    fn good_urls() {
        assert_eq!(
            parts("ws://example.com/chat"),
            (
                false,
                "example.com".into(),
                80,
                "example.com".into(),
                "/chat".into()
            )
        );
        assert_eq!(
            parts("WSS://Example.com"),
            (
                true,
                "example.com".into(),
                443,
                "example.com".into(),
                "/".into()
            )
        );
        assert_eq!(
            parts("ws://a:80?x=1"),
            (false, "a".into(), 80, "a".into(), "/?x=1".into())
        );
        assert_eq!(
            parts("wss://a:80/p?"),
            (true, "a".into(), 80, "a:80".into(), "/p".into())
        );
        assert_eq!(
            parts("ws://[::1]/"),
            (false, "::1".into(), 80, "[::1]".into(), "/".into())
        );
        assert_eq!(
            parts("ws://[2001:DB8::1]:9001/a/b"),
            (
                false,
                "2001:db8::1".into(),
                9001,
                "[2001:db8::1]:9001".into(),
                "/a/b".into()
            )
        );
        assert_eq!(
            parts("ws://127.0.0.1:9001"),
            (
                false,
                "127.0.0.1".into(),
                9001,
                "127.0.0.1:9001".into(),
                "/".into()
            )
        );
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "http://a/",
            "ws:/a",
            "a",
            "ws://",
            "ws://:80/",
            "ws://a:/",
            "ws://a:0/",
            "ws://a:65536/",
            "ws://a:1x/",
            "ws://u@a/",
            "ws://a/#f",
            "ws://[::1/",
            "ws://[zz]/",
            "ws://[::1]x/",
            "ws://a b/",
            "ws://a/ b",
            "ws://a/é",
            "ws://a:123456/",
            "ws://a:-1/",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
