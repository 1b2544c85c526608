//! The proxy variables of an environment, read the way curl reads them.

use crate::prelude::*;
use core::fmt;
use core::net::IpAddr;

use super::error::ProxyError;
use super::url::ProxyUrl;
use crate::handshake::WsUrl;

/// The variables looked at, lowercase first (curl's order).
const NAMES: [&str; 8] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// A snapshot of the proxy variables of an environment, and the proxy it
/// picks for a URL.
///
/// The rules, as curl's:
///
/// 1. `wss://` URLs use `https_proxy`, else `HTTPS_PROXY`; `ws://` URLs
///    use `http_proxy`, else `HTTP_PROXY`.
/// 2. Otherwise `all_proxy`, else `ALL_PROXY`.
/// 3. Then `no_proxy` (else `NO_PROXY`) may send the URL direct; see
///    [`NoProxy`]. There is no implicit exception for `localhost` or
///    loopback addresses: only `NO_PROXY` bypasses the proxy.
///
/// An empty variable counts as unset. A snapshot is a plain value, so
/// tests build one with [`from_pairs`](Self::from_pairs) instead of
/// changing the process's environment (which every thread shares).
/// `Debug` names the variables that are set, not their values.
///
/// ```
/// use wsproto::handshake::WsUrl;
/// use wsproto::proxy::ProxyEnv;
///
/// let env = ProxyEnv::from_pairs([
///     ("HTTPS_PROXY", "http://proxy.corp:3128"),
///     ("NO_PROXY", "internal.corp,10.0.0.0/8"),
/// ]);
/// let proxy = env.proxy_for(&WsUrl::parse("wss://example.com/")?)?.unwrap();
/// assert_eq!(proxy.to_string(), "http://proxy.corp:3128");
/// assert_eq!(env.proxy_for(&WsUrl::parse("wss://chat.internal.corp/")?)?, None);
/// assert_eq!(env.proxy_for(&WsUrl::parse("wss://10.1.2.3/")?)?, None);
/// assert_eq!(env.proxy_for(&WsUrl::parse("ws://example.com/")?)?, None); // no HTTP_PROXY
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// Values of [`NAMES`], in that order; `None` when unset or empty.
    values: [Option<String>; 8],
}

impl ProxyEnv {
    /// The process's variables, now.
    #[cfg(feature = "std")]
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A snapshot from `(name, value)` pairs; other names are ignored.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut env = ProxyEnv::default();
        for (name, value) in pairs {
            if let Some(i) = NAMES.iter().position(|n| *n == name.as_ref()) {
                let value = value.into();
                env.values[i] = (!value.trim().is_empty()).then_some(value);
            }
        }
        env
    }

    #[cfg(feature = "std")]
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        ProxyEnv::from_pairs(NAMES.iter().filter_map(|&n| lookup(n).map(|v| (n, v))))
    }

    fn get(&self, name: &str) -> Option<&str> {
        let i = NAMES.iter().position(|n| *n == name)?;
        self.values[i].as_deref()
    }

    /// The proxy for `url`, or `None` to connect directly. A malformed
    /// proxy variable is an error (not a silent direct connection).
    pub fn proxy_for(&self, url: &WsUrl) -> Result<Option<ProxyUrl>, ProxyError> {
        let (lower, upper) = if url.secure() {
            ("https_proxy", "HTTPS_PROXY")
        } else {
            ("http_proxy", "HTTP_PROXY")
        };
        let chosen = self
            .get(lower)
            .or_else(|| self.get(upper))
            .or_else(|| self.get("all_proxy"))
            .or_else(|| self.get("ALL_PROXY"));
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        if self.no_proxy().matches(url.host(), url.port()) {
            return Ok(None);
        }
        ProxyUrl::parse(chosen).map(Some)
    }

    /// The bypass list: `no_proxy`, else `NO_PROXY`.
    pub fn no_proxy(&self) -> NoProxy {
        NoProxy::parse(
            self.get("no_proxy")
                .or_else(|| self.get("NO_PROXY"))
                .unwrap_or(""),
        )
    }
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set: Vec<&str> = NAMES
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| *n)
            .collect();
        f.debug_struct("ProxyEnv").field("set", &set).finish()
    }
}

/// A `NO_PROXY` list: the hosts reached without the proxy.
///
/// Entries are separated by commas (or spaces), case-insensitive:
///
/// - `*` alone: every host.
/// - a name, `example.com`: that host and its subdomains
///   (`a.example.com`); a leading `.` or `*.` means the same.
/// - an IP address, `10.1.2.3` or `::1` (`[::1]` too): that address, when
///   the URL names it (names are not resolved to check).
/// - a CIDR block, `10.0.0.0/8` or `fd00::/8`: the addresses in it.
/// - any of these with `:port` (`example.com:8080`, `[::1]:9001`): only
///   that port.
///
/// Malformed entries are ignored, as curl does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    All,
    Name {
        name: String,
        port: Option<u16>,
    },
    Net {
        net: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
}

impl NoProxy {
    /// Parses a list.
    pub fn parse(list: &str) -> Self {
        let rules = list
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(parse_entry)
            .collect();
        NoProxy { rules }
    }

    /// Whether `host` (as in [`WsUrl::host`]: lowercase, IPv6 without
    /// brackets) on `port` bypasses the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.rules.iter().any(|rule| match rule {
            Rule::All => true,
            Rule::Name { name, port: p } => {
                p.is_none_or(|p| p == port)
                    && ip.is_none()
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            Rule::Net {
                net,
                prefix,
                port: p,
            } => p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_net(ip, *net, *prefix)),
        })
    }
}

fn parse_entry(entry: &str) -> Option<Rule> {
    if entry == "*" {
        return Some(Rule::All);
    }
    let entry = entry.to_ascii_lowercase();
    // `[v6]`, `[v6]:port`, `[v6/len]`.
    if let Some(inner) = entry.strip_prefix('[') {
        let (inside, after) = inner.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return net_rule(inside, port);
    }
    // A bare IPv6 address or block has several colons and no port.
    if entry.matches(':').count() > 1 {
        return net_rule(&entry, None);
    }
    let (body, port) = match entry.rsplit_once(':') {
        Some((body, p)) => (body, Some(p.parse::<u16>().ok()?)),
        None => (entry.as_str(), None),
    };
    if body.contains('/') || body.parse::<IpAddr>().is_ok() {
        return net_rule(body, port);
    }
    let name = body
        .strip_prefix("*.")
        .or_else(|| body.strip_prefix('.'))
        .unwrap_or(body)
        .trim_end_matches('.');
    if name.is_empty() {
        return None;
    }
    Some(Rule::Name {
        name: name.to_owned(),
        port,
    })
}

/// `addr` or `addr/prefix`.
fn net_rule(text: &str, port: Option<u16>) -> Option<Rule> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let net: IpAddr = addr.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some(Rule::Net { net, prefix, port })
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(env: &[(&str, &str)], url: &str) -> Option<String> {
        let env = ProxyEnv::from_pairs(env.iter().copied());
        env.proxy_for(&WsUrl::parse(url).unwrap())
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn the_scheme_picks_the_variable_lowercase_first_then_all_proxy() {
        let env = [
            ("HTTPS_PROXY", "http://upper-s:1"),
            ("https_proxy", "http://lower-s:1"),
            ("HTTP_PROXY", "http://upper:1"),
            ("ALL_PROXY", "socks5h://all:1"),
        ];
        assert_eq!(chosen(&env, "wss://x/").unwrap(), "http://lower-s:1");
        assert_eq!(chosen(&env[..1], "wss://x/").unwrap(), "http://upper-s:1");
        assert_eq!(chosen(&env, "ws://x/").unwrap(), "http://upper:1");
        assert_eq!(
            chosen(&[env[0], env[1], env[3]], "ws://x/").unwrap(),
            "socks5h://all:1"
        );
        assert_eq!(
            chosen(
                &[("all_proxy", "socks5://a:1"), ("ALL_PROXY", "socks5://b:1")],
                "wss://x/"
            )
            .unwrap(),
            "socks5://a:1"
        );
        assert_eq!(chosen(&[], "wss://x/"), None);
        assert_eq!(
            chosen(
                &[("https_proxy", ""), ("HTTPS_PROXY", "http://p:1")],
                "wss://x/"
            )
            .unwrap(),
            "http://p:1"
        );
    }

    #[test]
    fn loopback_is_proxied_unless_no_proxy_says_so() {
        let env = [("http_proxy", "http://p:1")];
        assert!(chosen(&env, "ws://localhost:9001/").is_some());
        assert!(chosen(&env, "ws://127.0.0.1:9001/").is_some());
        let env = [
            ("http_proxy", "http://p:1"),
            ("no_proxy", "localhost,127.0.0.1"),
        ];
        assert!(chosen(&env, "ws://localhost:9001/").is_none());
        assert!(chosen(&env, "ws://127.0.0.1:9001/").is_none());
    }

    #[test]
    fn no_proxy_lowercase_wins_over_uppercase() {
        let env = [
            ("http_proxy", "http://p:1"),
            ("no_proxy", "a"),
            ("NO_PROXY", "b"),
        ];
        assert!(chosen(&env, "ws://a/").is_none());
        assert!(chosen(&env, "ws://b/").is_some());
    }

    #[test]
    fn a_malformed_proxy_variable_is_an_error_without_its_text() {
        let env = ProxyEnv::from_pairs([("https_proxy", "ftp://u:s3cret@p")]);
        let e = env
            .proxy_for(&WsUrl::parse("wss://x/").unwrap())
            .unwrap_err();
        assert!(matches!(e, ProxyError::InvalidUrl(_)));
        assert!(!e.to_string().contains("s3cret"));
        assert!(!format!("{env:?}").contains("s3cret"), "{env:?}");
    }

    fn bypass(list: &str, host: &str, port: u16) -> bool {
        NoProxy::parse(list).matches(host, port)
    }

    #[test]
    fn no_proxy_names_and_suffixes() {
        assert!(bypass("*", "anything", 1));
        assert!(!bypass("*.x, y*", "anything", 1) && !bypass("", "a", 1));
        for list in [
            "example.com",
            ".example.com",
            "*.example.com",
            "EXAMPLE.com.",
        ] {
            assert!(bypass(list, "example.com", 80), "{list}");
            assert!(bypass(list, "a.b.example.com", 80), "{list}");
            assert!(!bypass(list, "badexample.com", 80), "{list}");
            assert!(!bypass(list, "example.com.evil", 80), "{list}");
        }
        assert!(bypass("a, b  c,,d", "c", 1));
        assert!(bypass("other,example.com", "example.com.", 1));
    }

    #[test]
    fn no_proxy_ips_and_cidrs() {
        assert!(bypass("10.1.2.3", "10.1.2.3", 1));
        assert!(!bypass("10.1.2.3", "10.1.2.4", 1));
        assert!(bypass("10.0.0.0/8", "10.255.0.1", 1));
        assert!(!bypass("10.0.0.0/8", "11.0.0.1", 1));
        assert!(bypass("0.0.0.0/0", "1.2.3.4", 1));
        assert!(bypass("192.168.1.77/32", "192.168.1.77", 1));
        assert!(!bypass("192.168.1.0/33", "192.168.1.1", 1));
        assert!(bypass("::1", "::1", 1));
        assert!(bypass("[::1]", "::1", 1));
        assert!(bypass("fd00::/8", "fd12:3456::1", 1));
        assert!(!bypass("fd00::/8", "fe80::1", 1));
        assert!(bypass("[fd00::/8]", "fdff::1", 1));
        // Names are not resolved: an address rule does not match a name.
        assert!(!bypass("127.0.0.1", "localhost", 1));
        assert!(!bypass("10.0.0.0/8", "10.example", 1));
        // A v4 rule does not match a v6 address.
        assert!(!bypass("0.0.0.0/0", "::1", 1));
    }

    #[test]
    fn no_proxy_ports() {
        assert!(bypass("example.com:8080", "example.com", 8080));
        assert!(!bypass("example.com:8080", "example.com", 443));
        assert!(bypass(".example.com:443", "a.example.com", 443));
        assert!(bypass("127.0.0.1:9001", "127.0.0.1", 9001));
        assert!(!bypass("127.0.0.1:9001", "127.0.0.1", 9002));
        assert!(bypass("[::1]:9001", "::1", 9001));
        assert!(!bypass("[::1]:9001", "::1", 9002));
        assert!(bypass("10.0.0.0/8:443", "10.0.0.1", 443));
        assert!(!bypass("10.0.0.0/8:443", "10.0.0.1", 80));
        // A malformed port drops the entry.
        assert!(!bypass("example.com:x", "example.com", 1));
    }

    #[test]
    fn no_proxy_applies_to_the_url_port_including_the_default() {
        let env = [
            ("https_proxy", "http://p:1"),
            ("no_proxy", "example.com:443"),
        ];
        assert!(chosen(&env, "wss://example.com/").is_none());
        assert!(chosen(&env, "wss://example.com:8443/").is_some());
    }
}
