//! The client side of the opening handshake, without I/O: the settings a
//! `ClientBuilder` holds (blocking or tokio), the request they make, and
//! the checking of the server's response. The adapters only connect,
//! write the request and read the response within the deadline.

use std::time::Duration;

use super::Upgraded;
use super::error::{Error, HandshakeFailure};
use crate::handshake::{ClientRequest, Established, HttpResponse, ResponseError, WsUrl};
use crate::proxy::{ProxyEnv, ProxyError, ProxyUrl, TunnelHandshake};
use crate::{Config, Parsed, Role};

/// Most body bytes of a refusal read to show the caller.
const MAX_REFUSAL_BODY: usize = 64 << 10;

/// Everything a client can ask for, whatever the runtime: the URL,
/// subprotocols, `Origin`, extra headers, the connection's [`Config`], the
/// connect and handshake timeouts and the TLS configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    pub(crate) url: String,
    pub(crate) protocols: Vec<String>,
    pub(crate) origin: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) config: Config,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls_config: Option<std::sync::Arc<rustls::ClientConfig>>,
    pub(crate) proxy: ProxyChoice,
}

/// How a client picks its proxy. `Debug` shows no credentials.
#[derive(Debug, Clone)]
pub(crate) enum ProxyChoice {
    /// From the process's environment when connecting (the default).
    Env,
    /// From this snapshot of an environment.
    Snapshot(ProxyEnv),
    /// Never a proxy.
    Direct,
    /// Always this one (or the error of its URL, reported when connecting).
    Fixed(Result<ProxyUrl, ProxyError>),
}

impl ClientSettings {
    /// The defaults: no subprotocol, no `Origin`, [`Config::default`],
    /// 10 s connect and handshake timeouts.
    pub(crate) fn new(url: String) -> Self {
        ClientSettings {
            url,
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            config: Config::default(),
            connect_timeout: Some(super::DEFAULT_TIMEOUT),
            handshake_timeout: super::DEFAULT_TIMEOUT,
            #[cfg(feature = "tls")]
            tls_config: None,
            proxy: ProxyChoice::Env,
        }
    }

    /// The proxy to reach `url` through, if any.
    pub(crate) fn proxy_for(&self, url: &WsUrl) -> Result<Option<ProxyUrl>, Error> {
        let proxy = match &self.proxy {
            ProxyChoice::Env => ProxyEnv::from_env().proxy_for(url)?,
            ProxyChoice::Snapshot(env) => env.proxy_for(url)?,
            ProxyChoice::Direct => None,
            ProxyChoice::Fixed(proxy) => Some(proxy.clone()?),
        };
        Ok(proxy)
    }

    /// The tunnel through `proxy` to the host and port of `url`.
    /// `resolved`: the target's address, which a `socks5://` proxy
    /// ([`ProxyUrl::resolves_locally`]) is given instead of its name.
    pub(crate) fn tunnel(
        &self,
        proxy: &ProxyUrl,
        url: &WsUrl,
        resolved: Option<std::net::IpAddr>,
    ) -> Result<TunnelHandshake, Error> {
        let host = match resolved {
            Some(ip) => ip.to_string(),
            None => url.host().to_owned(),
        };
        Ok(TunnelHandshake::new(
            proxy,
            &host,
            url.port(),
            self.config.handshake,
        )?)
    }

    /// The handshake request these settings send.
    pub(crate) fn request(&self) -> Result<ClientRequest, Error> {
        let mut request = ClientRequest::from_url(&self.url)?.limits(self.config.handshake);
        if let Some(origin) = &self.origin {
            request = request.origin(origin.clone());
        }
        for p in &self.protocols {
            request = request.protocol(p.clone());
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        Ok(request)
    }
}

/// A `ClientBuilder` (with the docs given) over [`ClientSettings`], its
/// constructor and setters, written once for the blocking and the tokio
/// builder: they differ only in how they connect, in an `impl` of their
/// own.
macro_rules! client_builder {
    ($(#[$doc:meta])* pub struct ClientBuilder;) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct ClientBuilder {
            settings: $crate::driver::client::ClientSettings,
        }

        impl ClientBuilder {
            /// A client for `url` with the defaults: no subprotocol, no `Origin`,
            /// [`Config::default`](crate::Config::default), 10 s connect and
            /// handshake timeouts.
            pub fn new(url: impl Into<String>) -> Self {
                ClientBuilder {
                    settings: $crate::driver::client::ClientSettings::new(url.into()),
                }
            }

            /// The URL this builder connects to.
            pub fn url(&self) -> &str {
                &self.settings.url
            }

            /// Offers a subprotocol (in order of preference).
            pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
                self.settings.protocols.push(protocol.into());
                self
            }

            /// Sends an `Origin` header, as a browser would.
            pub fn origin(mut self, origin: impl Into<String>) -> Self {
                self.settings.origin = Some(origin.into());
                self
            }

            /// Adds a request header (`Authorization`, `Cookie`, …).
            pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.settings.headers.push((name.into(), value.into()));
                self
            }

            /// The connection's limits, timeouts and keepalive.
            pub fn config(mut self, config: $crate::Config) -> Self {
                self.settings.config = config;
                self
            }

            /// Bound on each TCP connection attempt (`None`: the system's).
            pub fn connect_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
                self.settings.connect_timeout = timeout;
                self
            }

            /// Bound on the TLS and WebSocket handshakes together (default 10 s).
            pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.settings.handshake_timeout = timeout;
                self
            }

            /// The rustls configuration for `wss://` (custom roots, client
            /// certificates); default: the `webpki-roots` Mozilla roots.
            #[cfg(feature = "tls")]
            pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
                self.settings.tls_config = Some(config);
                self
            }

            /// Connects through this proxy whatever the environment says
            /// (`NO_PROXY` included): `http://[user:password@]host:port`
            /// (an HTTP proxy, asked with `CONNECT`; the credentials go in
            /// `Proxy-Authorization: Basic`), `https://` (the same over TLS
            /// to the proxy, checked against the proxy's name; feature
            /// `tls`), `socks5://` (SOCKS5, the
            /// target's name resolved here) or `socks5h://` (resolved by
            /// the proxy), with a username and password when the proxy
            /// wants them. `wss://` runs TLS inside the tunnel, checked
            /// against the target's name. A malformed URL fails
            /// `connect` with [`ProxyError::InvalidUrl`](crate::proxy::ProxyError::InvalidUrl);
            /// neither `Debug` nor any error shows the credentials.
            ///
            /// Without this or [`no_proxy`](Self::no_proxy), the proxy
            /// comes from the environment as curl picks it
            /// ([`ProxyEnv`](crate::proxy::ProxyEnv)): `HTTPS_PROXY` for
            /// `wss://`, `HTTP_PROXY` for `ws://`, then `ALL_PROXY`, with
            /// `NO_PROXY` as the exceptions.
            pub fn proxy(mut self, url: impl AsRef<str>) -> Self {
                self.settings.proxy = $crate::driver::client::ProxyChoice::Fixed(
                    $crate::proxy::ProxyUrl::parse(url.as_ref()),
                );
                self
            }

            /// Connects directly, whatever the environment's proxy
            /// variables say.
            pub fn no_proxy(mut self) -> Self {
                self.settings.proxy = $crate::driver::client::ProxyChoice::Direct;
                self
            }

            /// Picks the proxy from this snapshot of an environment
            /// instead of the process's (read at each connect by default).
            pub fn proxy_env(mut self, env: $crate::proxy::ProxyEnv) -> Self {
                self.settings.proxy = $crate::driver::client::ProxyChoice::Snapshot(env);
                self
            }

            /// The handshake request this builder sends.
            pub fn request(&self) -> Result<$crate::handshake::ClientRequest, Error> {
                self.settings.request()
            }

            pub(super) fn config_mut(&mut self) -> &mut $crate::Config {
                &mut self.settings.config
            }
        }
    };
}
pub(crate) use client_builder;

/// What a client adapter does next with the response read so far.
#[derive(Debug)]
// Made once per handshake and matched at once: boxing would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ClientStep {
    /// The head is not complete: read more and step again.
    Partial,
    /// The server switched protocols.
    Upgrade(Established, Upgraded),
    /// The server answered with another status: read the body with
    /// [`RefusalBody::wants_more`] and [`RefusalBody::feed`], then return
    /// [`RefusalBody::into_error`].
    Refused(RefusalBody),
    /// The response is invalid: fail with this error.
    Failed(Error),
}

/// The client side of a handshake that has sent its request.
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    expect: crate::handshake::ClientHandshake,
    config: Config,
}

impl ClientHandshake {
    /// The request bytes to send, and the checker of the response.
    /// permessage-deflate is offered when the configuration asks for it.
    pub(crate) fn start(request: ClientRequest, config: Config) -> Result<(Vec<u8>, Self), Error> {
        #[cfg(feature = "deflate")]
        let request = match config.deflate {
            Some(deflate) => request.deflate(deflate),
            None => request,
        };
        let (bytes, expect) = request.build()?;
        Ok((bytes, ClientHandshake { expect, config }))
    }

    /// Looks at everything read so far (the whole buffer, each time).
    pub(crate) fn step(&mut self, buf: &[u8]) -> ClientStep {
        match self.expect.parse_response(buf) {
            Ok(Parsed::Partial) => ClientStep::Partial,
            Ok(Parsed::Complete((established, used))) => {
                let upgraded = Upgraded {
                    role: Role::Client,
                    config: self.config.clone(),
                    protocol: established.protocol().map(str::to_owned),
                    #[cfg(feature = "deflate")]
                    deflate: established.deflate(),
                    // Frames the server sent right after its head (RFC
                    // 6455 allows it); a violation is reported by the
                    // first read.
                    used,
                };
                ClientStep::Upgrade(established, upgraded)
            }
            Err(ResponseError::NotSwitching(response)) => {
                ClientStep::Refused(RefusalBody::new(response, buf))
            }
            Err(e) => ClientStep::Failed(HandshakeFailure::Response(e).into()),
        }
    }
}

/// A refusal whose body is still arriving: when the head announced a
/// `Content-Length`, the body is read up to it (at most 64 KiB, within the
/// handshake deadline) so the caller sees the server's explanation whole.
#[derive(Debug)]
pub(crate) struct RefusalBody {
    response: Box<HttpResponse>,
    /// How much of the read buffer has been looked at.
    seen: usize,
    wanted: Option<usize>,
}

impl RefusalBody {
    fn new(response: Box<HttpResponse>, buf: &[u8]) -> Self {
        RefusalBody {
            response,
            seen: buf.len(),
            wanted: head_content_length(buf).map(|n| n.min(MAX_REFUSAL_BODY)),
        }
    }

    /// Whether more of the body is expected.
    pub(crate) fn wants_more(&self) -> bool {
        self.wanted.is_some_and(|n| self.response.body.len() < n)
    }

    /// Takes in what arrived since the last look (`buf` is the whole read
    /// buffer).
    pub(crate) fn feed(&mut self, buf: &[u8]) {
        self.response.body.extend_from_slice(&buf[self.seen..]);
        self.seen = buf.len();
    }

    /// The refusal, with the body that arrived (errors while reading it
    /// do not matter).
    pub(crate) fn into_error(mut self) -> Error {
        if let Some(n) = self.wanted {
            self.response.body.truncate(n);
        }
        HandshakeFailure::Response(ResponseError::NotSwitching(self.response)).into()
    }
}

/// The `Content-Length` of the response head at the start of `buf`.
fn head_content_length(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(buf).ok()?;
    let value = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))?
        .value;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> ClientHandshake {
        let request = ClientRequest::new("h", "/").limits(Config::default().handshake);
        ClientHandshake::start(request, Config::default())
            .unwrap()
            .1
    }

    #[test]
    fn a_refusal_body_is_read_to_its_content_length_in_any_pieces() {
        let response = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 10\r\n\r\n0123456789extra";
        let head = response.len() - 15;
        for chunk in [1, 3, response.len()] {
            let mut expect = start();
            let mut fed = 0;
            let mut body = loop {
                fed = (fed + chunk).min(response.len());
                match expect.step(&response[..fed]) {
                    ClientStep::Partial => {}
                    ClientStep::Refused(body) => break body,
                    other => panic!("{other:?}"),
                }
            };
            assert!(fed >= head);
            while body.wants_more() {
                fed = (fed + chunk).min(response.len());
                body.feed(&response[..fed]);
            }
            let error = body.into_error();
            assert_eq!(error.http_status(), Some(401));
            assert_eq!(error.response().unwrap().body(), b"0123456789");
        }
    }

    #[test]
    fn without_a_content_length_the_body_is_what_came_with_the_head() {
        let mut expect = start();
        let ClientStep::Refused(body) = expect.step(b"HTTP/1.1 404 Not Found\r\n\r\npartial page")
        else {
            panic!()
        };
        assert!(!body.wants_more());
        assert_eq!(
            body.into_error().response().unwrap().body(),
            b"partial page"
        );
    }

    #[test]
    fn a_malformed_response_fails() {
        let mut expect = start();
        let step = expect.step(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(
            matches!(
                step,
                ClientStep::Failed(Error::Handshake(HandshakeFailure::Response(_)))
            ),
            "{step:?}"
        );
    }
}
