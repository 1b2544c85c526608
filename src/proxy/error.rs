//! Why a tunnel through a proxy was not opened. No variant holds the
//! proxy's credentials, so no error message can show them.

use crate::prelude::*;
use core::fmt;

use thiserror::Error;

use crate::handshake::reason_phrase;

/// Why a proxy could not be used or refused to open the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL (given, or from the environment) is malformed or of
    /// an unsupported kind. The URL itself is not repeated: it may hold a
    /// password.
    #[error("invalid proxy URL: {0}")]
    InvalidUrl(&'static str),
    /// The target cannot be named to this proxy (a SOCKS5 domain name is
    /// at most 255 bytes).
    #[error("invalid tunnel target: {0}")]
    InvalidTarget(&'static str),
    /// The HTTP proxy answered the `CONNECT` with a status other than 2xx:
    /// no tunnel. A 407 names the authentication schemes the proxy asked
    /// for in its `Proxy-Authenticate` header(s); a 401 (what tinyproxy
    /// answers to wrong credentials) those of `WWW-Authenticate`.
    #[error("{}", refused(*.status, .authenticate, *.sent_credentials))]
    HttpRefused {
        /// The status (407, 403, 502…).
        status: u16,
        /// The scheme of each `Proxy-Authenticate` challenge (`Basic`,
        /// `Digest`…), in order (`WWW-Authenticate` for a 401).
        authenticate: Vec<String>,
        /// Whether the request carried `Proxy-Authorization` (credentials
        /// were in the proxy URL): a 407 (or 401) then means they were
        /// wrong.
        sent_credentials: bool,
    },
    /// The HTTP proxy's response head broke a
    /// [`HandshakeLimits`](crate::HandshakeLimits) cap (the 431 a server
    /// would answer to such a request).
    #[error("the proxy's response head is too large ({0})")]
    ResponseTooLarge(&'static str),
    /// The HTTP proxy's response is not HTTP.
    #[error("malformed response from the HTTP proxy: {0}")]
    MalformedResponse(&'static str),
    /// The SOCKS5 proxy refused the `CONNECT` with this reply code.
    #[error("the SOCKS5 proxy refused the connection: {0}")]
    Socks5Refused(Socks5Reply),
    /// The SOCKS5 proxy accepts none of the authentication methods
    /// offered (`X'FF'`): it wants a username and password and the URL
    /// had none, or the reverse.
    #[error("the SOCKS5 proxy accepts none of the offered methods ({})", if *.offered_password { "no authentication, username/password" } else { "no authentication; does it need a username and password?" })]
    Socks5NoAcceptableMethod {
        /// Whether username/password was among the methods offered.
        offered_password: bool,
    },
    /// The SOCKS5 proxy refused the username and password (RFC 1929).
    #[error("the SOCKS5 proxy refused the username and password")]
    Socks5AuthFailed,
    /// The SOCKS5 proxy's answer breaks RFC 1928 / RFC 1929.
    #[error("malformed answer from the SOCKS5 proxy: {0}")]
    Socks5Malformed(&'static str),
    /// The proxy sent bytes after its last answer, before the client had
    /// sent anything through the tunnel.
    #[error("the proxy sent unexpected bytes after opening the tunnel")]
    UnexpectedData,
    /// The proxy closed the connection before the tunnel was open.
    #[error("the proxy closed the connection before the tunnel was open")]
    Closed,
    /// The proxy did not open the tunnel within the handshake timeout.
    #[error("the proxy did not open the tunnel within the handshake timeout")]
    Timeout,
}

impl ProxyError {
    /// The HTTP status an HTTP proxy refused the tunnel with.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ProxyError::HttpRefused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn refused(status: u16, authenticate: &[String], sent_credentials: bool) -> String {
    let mut text = format!(
        "the HTTP proxy refused the tunnel: {status} {}",
        reason_phrase(status)
    );
    if !authenticate.is_empty() {
        let header = match status {
            401 => "WWW-Authenticate",
            _ => "Proxy-Authenticate",
        };
        text.push_str(&format!(" ({header}: {})", authenticate.join(", ")));
    }
    if status == 407 || status == 401 {
        text.push_str(if sent_credentials {
            "; the credentials in the proxy URL were refused"
        } else {
            "; the proxy URL has no credentials"
        });
    }
    text
}

/// A SOCKS5 reply code other than success (RFC 1928 §6, `REP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Socks5Reply {
    /// `X'01'` general SOCKS server failure.
    GeneralFailure,
    /// `X'02'` connection not allowed by ruleset.
    NotAllowed,
    /// `X'03'` Network unreachable.
    NetworkUnreachable,
    /// `X'04'` Host unreachable.
    HostUnreachable,
    /// `X'05'` Connection refused.
    ConnectionRefused,
    /// `X'06'` TTL expired.
    TtlExpired,
    /// `X'07'` Command not supported.
    CommandNotSupported,
    /// `X'08'` Address type not supported.
    AddressTypeNotSupported,
    /// `X'09'` to `X'FF'`: unassigned.
    Other(u8),
}

impl Socks5Reply {
    /// The reply for a `REP` byte that is not `X'00'` (succeeded).
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Socks5Reply::GeneralFailure,
            2 => Socks5Reply::NotAllowed,
            3 => Socks5Reply::NetworkUnreachable,
            4 => Socks5Reply::HostUnreachable,
            5 => Socks5Reply::ConnectionRefused,
            6 => Socks5Reply::TtlExpired,
            7 => Socks5Reply::CommandNotSupported,
            8 => Socks5Reply::AddressTypeNotSupported,
            other => Socks5Reply::Other(other),
        }
    }

    /// The `REP` byte.
    pub fn code(self) -> u8 {
        match self {
            Socks5Reply::GeneralFailure => 1,
            Socks5Reply::NotAllowed => 2,
            Socks5Reply::NetworkUnreachable => 3,
            Socks5Reply::HostUnreachable => 4,
            Socks5Reply::ConnectionRefused => 5,
            Socks5Reply::TtlExpired => 6,
            Socks5Reply::CommandNotSupported => 7,
            Socks5Reply::AddressTypeNotSupported => 8,
            Socks5Reply::Other(code) => code,
        }
    }
}

impl fmt::Display for Socks5Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Socks5Reply::GeneralFailure => "general SOCKS server failure",
            Socks5Reply::NotAllowed => "connection not allowed by ruleset",
            Socks5Reply::NetworkUnreachable => "network unreachable",
            Socks5Reply::HostUnreachable => "host unreachable",
            Socks5Reply::ConnectionRefused => "connection refused",
            Socks5Reply::TtlExpired => "TTL expired",
            Socks5Reply::CommandNotSupported => "command not supported",
            Socks5Reply::AddressTypeNotSupported => "address type not supported",
            Socks5Reply::Other(_) => "unassigned reply code",
        };
        write!(f, "{name} (X'{:02X}')", self.code())
    }
}
