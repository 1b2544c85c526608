//! Proxy URLs: `http://`, `https://`, `socks5://`, `socks5h://`, with
//! optional credentials, as curl reads them.

use crate::prelude::*;
use core::fmt;
use core::net::Ipv6Addr;

use super::error::ProxyError;

/// The kind of proxy a [`ProxyUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// `http://`: an HTTP proxy, asked with `CONNECT` (RFC 9110 §9.3.6).
    /// Also what a URL without a scheme means, as in curl.
    Http,
    /// `https://`: an HTTP proxy reached over TLS (checked against the
    /// proxy's name); a `wss://` connection through it is TLS inside TLS.
    Https,
    /// `socks5://`: SOCKS5 (RFC 1928), the target's name resolved by the
    /// client.
    Socks5,
    /// `socks5h://`: SOCKS5, the target's name resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }
}

/// A username and password from a proxy URL. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials from their parts (not percent-decoded).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The username, percent-decoded.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, percent-decoded (empty when the URL had none).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A parsed proxy URL: `scheme://[user[:password]@]host[:port][/]`.
///
/// The scheme is `http` (the default when there is none, as in curl),
/// `https`, `socks5` or `socks5h`. Without a port, curl's defaults apply:
/// 1080, or 443 for `https`. The username and password are
/// percent-decoded (`%40` for an `@` in a password). `Debug` and
/// `Display` show whether there are credentials, never what they are.
///
/// ```
/// use wsproto::proxy::{ProxyScheme, ProxyUrl};
///
/// let proxy = ProxyUrl::parse("http://alice:s%40cret@proxy.corp:3128/")?;
/// assert_eq!((proxy.scheme(), proxy.host(), proxy.port()), (ProxyScheme::Http, "proxy.corp", 3128));
/// assert_eq!(proxy.credentials().unwrap().password(), "s@cret");
/// assert_eq!(proxy.to_string(), "http://***@proxy.corp:3128");
/// assert!(!format!("{proxy:?}").contains("cret"));
/// # Ok::<(), wsproto::proxy::ProxyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

impl ProxyUrl {
    /// Parses a proxy URL. Errors say what is wrong without repeating the
    /// URL, which may hold a password.
    pub fn parse(url: &str) -> Result<ProxyUrl, ProxyError> {
        let err = ProxyError::InvalidUrl;
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = match scheme.to_ascii_lowercase().as_str() {
                    "http" => ProxyScheme::Http,
                    "https" => ProxyScheme::Https,
                    "socks5" => ProxyScheme::Socks5,
                    "socks5h" => ProxyScheme::Socks5h,
                    "socks4" | "socks4a" => return Err(err("SOCKS4 proxies are not supported")),
                    _ => {
                        return Err(err("scheme is not http, https, socks5 or socks5h"));
                    }
                };
                (scheme, rest)
            }
            None => (ProxyScheme::Http, url),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !path.is_empty() && path != "/" {
            return Err(err("a proxy URL has no path, query or fragment"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let credentials = userinfo.map(parse_userinfo).transpose()?;
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (literal, after) = inner.split_once(']').ok_or(err("unclosed IPv6 literal"))?;
            literal
                .parse::<Ipv6Addr>()
                .map_err(|_| err("invalid IPv6 literal"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(err("junk after IPv6 literal"))?),
            };
            (literal.to_ascii_lowercase(), port)
        } else {
            let (h, p) = match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
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
            (h.to_ascii_lowercase(), p)
        };
        let port = match port {
            // curl: "If the port number is not specified in the proxy
            // string, it is assumed to be 1080", 443 for HTTPS proxies.
            None => match scheme {
                ProxyScheme::Https => 443,
                _ => 1080,
            },
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
        if let (Some(c), ProxyScheme::Socks5 | ProxyScheme::Socks5h) = (&credentials, scheme) {
            // RFC 1929 §2: "| ULEN | UNAME | PLEN | PASSWD |" with
            // "1 to 255" octets each.
            if c.username.is_empty() || c.username.len() > 255 {
                return Err(err("a SOCKS5 username has 1 to 255 bytes"));
            }
            if c.password.is_empty() || c.password.len() > 255 {
                return Err(err("a SOCKS5 password has 1 to 255 bytes"));
            }
        }
        if let (Some(c), ProxyScheme::Http | ProxyScheme::Https) = (&credentials, scheme) {
            // RFC 7617 §2: "a user-id containing a colon character is
            // invalid".
            if c.username.contains(':') {
                return Err(err("a Basic username cannot contain ':'"));
            }
        }
        Ok(ProxyUrl {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// The kind of proxy.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host: lowercase, an IPv6 literal without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The username and password, when the URL had them.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Whether the client resolves the target's name itself and gives the
    /// proxy an address (`socks5://`: the adapters give the first address
    /// the name resolves to); otherwise the proxy gets the name.
    pub fn resolves_locally(&self) -> bool {
        self.scheme == ProxyScheme::Socks5
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if self.credentials.is_some() {
            f.write_str("***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// `user[:password]`, percent-decoded.
fn parse_userinfo(userinfo: &str) -> Result<Credentials, ProxyError> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Ok(Credentials {
        username: percent_decode(user)?,
        password: percent_decode(password)?,
    })
}

fn percent_decode(text: &str) -> Result<String, ProxyError> {
    let bad = ProxyError::InvalidUrl("invalid percent-encoding in the credentials");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(bad.clone())?;
            let hex = core::str::from_utf8(hex).map_err(|_| bad.clone())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad.clone())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ProxyError::InvalidUrl("credentials are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (ProxyScheme, String, u16, Option<(String, String)>) {
        let p = ProxyUrl::parse(url).unwrap();
        let creds = p
            .credentials()
            .map(|c| (c.username().to_owned(), c.password().to_owned()));
        (p.scheme, p.host, p.port, creds)
    }

    #[test]
    fn good_proxy_urls() {
        use ProxyScheme::*;
        assert_eq!(
            parts("http://proxy:3128"),
            (Http, "proxy".into(), 3128, None)
        );
        assert_eq!(parts("proxy:3128"), (Http, "proxy".into(), 3128, None));
        assert_eq!(parts("HTTP://Proxy/"), (Http, "proxy".into(), 1080, None));
        assert_eq!(parts("https://p"), (Https, "p".into(), 443, None));
        assert_eq!(
            parts("socks5://[::1]:1080"),
            (Socks5, "::1".into(), 1080, None)
        );
        assert_eq!(
            parts("socks5h://10.0.0.1"),
            (Socks5h, "10.0.0.1".into(), 1080, None)
        );
        assert_eq!(
            parts("http://u%2Bser:p%40ss:w@p:1"),
            (Http, "p".into(), 1, Some(("u+ser".into(), "p@ss:w".into())))
        );
        assert_eq!(
            parts("socks5://a:b@p:9"),
            (Socks5, "p".into(), 9, Some(("a".into(), "b".into())))
        );
    }

    #[test]
    fn bad_proxy_urls_name_the_fault_not_the_url() {
        for bad in [
            "ftp://p:1",
            "socks4://p:1",
            "http://",
            "http://:80",
            "http://p:0",
            "http://p:99999",
            "http://p:x",
            "http://p/path",
            "http://p?q",
            "http://[::1",
            "http://p q:1",
            "http://user:s3cret@p:1/x",
            "http://user:s3cret%zz@p:1",
            "socks5://:s3cret@p:1",
            "socks5://user@p:1",
            "http://u%3Aser:p@p:1",
        ] {
            let e = ProxyUrl::parse(bad).unwrap_err();
            assert!(matches!(e, ProxyError::InvalidUrl(_)), "{bad}: {e:?}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn credentials_never_show() {
        let p = ProxyUrl::parse("socks5h://alice:hunter2@p:1080").unwrap();
        for shown in [
            format!("{p}"),
            format!("{p:?}"),
            format!("{:?}", p.credentials()),
        ] {
            assert!(
                !shown.contains("hunter2") && !shown.contains("alice"),
                "{shown}"
            );
        }
    }
}
