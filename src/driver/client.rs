//! The client side, once for every adapter: the settings a
//! [`ClientBuilder`] holds, the request they make, the connect plan
//! (resolve, TCP, proxy, TLS inside the tunnel), and the handshake that
//! checks the server's response. The adapters only say how to wait.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Duration;

use super::error::Error;
use super::head::Head;
use super::runtime::{Connect, ReadIo, Runtime, WriteIo};
use super::socket::WebSocket;
use super::tunnel::open_tunnel;
use super::{Setup, Upgraded};
use crate::handshake::{ClientRequest, Established, HttpResponse, ResponseError, WsUrl};
use crate::proxy::{ProxyEnv, ProxyError, ProxyScheme, ProxyUrl, TunnelHandshake};
use crate::{Config, HandshakeLimits, Parsed, Role};

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
    pub(crate) setup: Setup,
    pub(crate) connect_timeout: Option<Duration>,
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
            setup: Setup::default(),
            connect_timeout: Some(super::DEFAULT_TIMEOUT),
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
            self.setup.limits,
        )?)
    }

    /// The handshake request these settings send.
    pub(crate) fn request(&self) -> Result<ClientRequest, Error> {
        let mut request = ClientRequest::from_url(&self.url)?.limits(self.setup.limits);
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

/// Everything a client can ask for: subprotocols, `Origin`, extra headers
/// (an `Authorization` token, cookies), the connection's [`Config`], the
/// connect and handshake timeouts, TLS and a proxy.
///
/// Name it through an adapter, `wsproto::blocking::ClientBuilder` or
/// `wsproto::tokio::ClientBuilder`, which adds `connect` and `handshake`
/// (blocking, or `async`). `connect` takes the same steps in both: TCP
/// (each resolved address in turn, Nagle off) to the server or to its
/// proxy (see [`proxy`](Self::proxy)) and the tunnel through it, TLS for
/// `wss://` (with SNI for the server, inside any tunnel), then the opening
/// handshake; the tunnel, TLS and WebSocket handshakes share the handshake
/// timeout.
///
/// ```no_run
/// use std::time::Duration;
/// use wsproto::blocking::ClientBuilder;
///
/// let (ws, response) = ClientBuilder::new("ws://127.0.0.1:9001/chat")
///     .protocol("chat.v1")
///     .origin("http://localhost")
///     .header("Authorization", "Bearer secret")
///     .handshake_timeout(Duration::from_secs(5))
///     .connect()?;
/// assert_eq!(ws.protocol(), response.protocol());
/// # Ok::<(), wsproto::blocking::Error>(())
/// ```
pub struct ClientBuilder<R> {
    pub(crate) settings: ClientSettings,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for ClientBuilder<R> {
    fn clone(&self) -> Self {
        ClientBuilder {
            settings: self.settings.clone(),
            runtime: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for ClientBuilder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .finish()
    }
}

impl<R> ClientBuilder<R> {
    /// A client for `url` with the defaults: no subprotocol, no `Origin`,
    /// [`Config::default`], 10 s connect and handshake timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            settings: ClientSettings::new(url.into()),
            runtime: PhantomData,
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

    /// The connection's limits, close timeout and keepalive.
    pub fn config(mut self, config: Config) -> Self {
        self.settings.setup.config = config;
        self
    }

    /// Caps on the server's response head (defaults: 16 KiB, 128 headers,
    /// 8 KiB per line).
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.settings.setup.limits = limits;
        self
    }

    /// Offers permessage-deflate (RFC 7692) with these preferences; the
    /// server's answer decides whether messages are compressed.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::deflate::DeflateConfig) -> Self {
        self.settings.setup.deflate = Some(deflate);
        self
    }

    /// Bounds each write that makes no progress (default 30 s; see
    /// [`WebSocket::set_write_timeout`]).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.setup.write_timeout = timeout;
        self
    }

    /// Bound on each TCP connection attempt (`None`: the system's).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Bound on the tunnel, TLS and WebSocket handshakes together
    /// (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.setup.handshake_timeout = timeout;
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
    /// (`NO_PROXY` included): `http://[user:password@]host:port` (an HTTP
    /// proxy, asked with `CONNECT`; the credentials go in
    /// `Proxy-Authorization: Basic`), `https://` (the same over TLS to the
    /// proxy, checked against the proxy's name; feature `tls`),
    /// `socks5://` (SOCKS5, the target's name resolved here) or
    /// `socks5h://` (resolved by the proxy), with a username and password
    /// when the proxy wants them. `wss://` runs TLS inside the tunnel,
    /// checked against the target's name. A malformed URL fails `connect`
    /// with [`ProxyError::InvalidUrl`]; neither `Debug` nor any error
    /// shows the credentials.
    ///
    /// Without this or [`no_proxy`](Self::no_proxy), the proxy comes from
    /// the environment as curl picks it ([`ProxyEnv`]): `HTTPS_PROXY` for
    /// `wss://`, `HTTP_PROXY` for `ws://`, then `ALL_PROXY`, with
    /// `NO_PROXY` as the exceptions.
    pub fn proxy(mut self, url: impl AsRef<str>) -> Self {
        self.settings.proxy = ProxyChoice::Fixed(ProxyUrl::parse(url.as_ref()));
        self
    }

    /// Connects directly, whatever the environment's proxy variables say.
    pub fn no_proxy(mut self) -> Self {
        self.settings.proxy = ProxyChoice::Direct;
        self
    }

    /// Picks the proxy from this snapshot of an environment instead of the
    /// process's (read at each connect by default).
    pub fn proxy_env(mut self, env: ProxyEnv) -> Self {
        self.settings.proxy = ProxyChoice::Snapshot(env);
        self
    }

    /// The handshake request this builder sends.
    pub fn request(&self) -> Result<ClientRequest, Error> {
        self.settings.request()
    }

    pub(crate) fn config_mut(&mut self) -> &mut Config {
        &mut self.settings.setup.config
    }
}

impl<R: Runtime> ClientBuilder<R> {
    /// The connect plan: TCP to the server or its proxy, TLS to an
    /// `https://` proxy, the tunnel, TLS to a `wss://` server, and the
    /// opening handshake, the last four within the handshake timeout.
    pub(crate) async fn connect_on(&self) -> Result<(WebSocket<R::Stream, R>, Established), Error>
    where
        R: Connect,
    {
        let url = WsUrl::parse(&self.settings.url)?;
        let request = self.request()?;
        if url.secure() && cfg!(not(feature = "tls")) {
            return Err(Error::TlsUnavailable);
        }
        let limit = self.settings.connect_timeout;
        let proxy = self.settings.proxy_for(&url)?;
        let tunnel = match &proxy {
            Some(proxy) => {
                let resolved = match proxy.resolves_locally() {
                    true => Some(resolve::<R>(url.host(), url.port()).await?.ip()),
                    false => None,
                };
                Some(self.settings.tunnel(proxy, &url, resolved)?)
            }
            None => None,
        };
        let (host, port) = match &proxy {
            Some(proxy) => (proxy.host(), proxy.port()),
            None => (url.host(), url.port()),
        };
        let mut stream = R::plain(tcp_connect::<R>(host, port, limit).await?)?;
        let head = Head::start::<R>(self.settings.setup.handshake_timeout);
        if let (Some(proxy), Some(tunnel)) = (&proxy, tunnel) {
            if proxy.scheme() == ProxyScheme::Https {
                stream = self
                    .secure::<R>(stream, proxy.host(), head.deadline)
                    .await?;
            }
            open_tunnel(&mut R::default(), &mut stream, tunnel, head.deadline).await?;
        }
        if url.secure() {
            stream = self.secure::<R>(stream, url.host(), head.deadline).await?;
        }
        handshake(stream, R::default(), request, &self.settings.setup, head).await
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub(crate) async fn handshake_on<S>(
        &self,
        stream: S,
    ) -> Result<(WebSocket<S, R>, Established), Error>
    where
        R: ReadIo<S> + WriteIo<S>,
    {
        let head = Head::start::<R>(self.settings.setup.handshake_timeout);
        handshake(
            stream,
            R::default(),
            self.request()?,
            &self.settings.setup,
            head,
        )
        .await
    }

    /// TLS for `host` over `stream` (plain, or TLS to a proxy).
    async fn secure<C: Connect>(
        &self,
        stream: C::Stream,
        host: &str,
        deadline: std::time::Instant,
    ) -> Result<C::Stream, Error> {
        #[cfg(feature = "tls")]
        {
            let config = match &self.settings.tls_config {
                Some(config) => config.clone(),
                None => crate::tls::default_client_config()?,
            };
            C::tls(stream, host, config, deadline).await
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (stream, host, deadline);
            Err(Error::TlsUnavailable)
        }
    }
}

/// The first address of `host` (for a `socks5://` proxy, which is given
/// the target's address rather than its name).
async fn resolve<R: Connect>(host: &str, port: u16) -> Result<SocketAddr, Error> {
    R::resolve(host, port)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| no_address(None))
}

/// Connects to the first address of `host` that answers.
async fn tcp_connect<R: Connect>(
    host: &str,
    port: u16,
    limit: Option<Duration>,
) -> Result<R::Tcp, Error> {
    let mut last = None;
    for addr in R::resolve(host, port).await? {
        match R::tcp_connect(addr, limit).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(no_address(last))
}

/// The error of a connect that tried every address of a host: the last
/// attempt's, or that the name resolved to none.
fn no_address(last: Option<std::io::Error>) -> Error {
    last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
        .into()
}

/// Sends the request and validates the response within the deadline of
/// `head`.
pub(crate) async fn handshake<S, R: ReadIo<S> + WriteIo<S>>(
    mut stream: S,
    mut rt: R,
    request: ClientRequest,
    setup: &Setup,
    mut head: Head,
) -> Result<(WebSocket<S, R>, Established), Error> {
    let (bytes, mut expect) = ClientHandshake::start(request, setup)?;
    head.write(&mut rt, &mut stream, &bytes).await?;
    loop {
        head.read_more(&mut rt, &mut stream).await?;
        match expect.step(&head.buf) {
            ClientStep::Partial => {}
            ClientStep::Upgrade(established, upgraded) => {
                let used = upgraded.used;
                let ws = upgraded.into_socket(stream, rt, &head.buf[used..]);
                return Ok((ws, established));
            }
            ClientStep::Refused(mut body) => {
                // The rest of the body, within the deadline; what arrives
                // is kept, errors are ignored.
                while body.wants_more() && head.read_more(&mut rt, &mut stream).await.is_ok() {
                    body.feed(&head.buf);
                }
                return Err(body.into_error());
            }
            ClientStep::Failed(error) => return Err(error),
        }
    }
}

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
    write_timeout: Option<Duration>,
}

impl ClientHandshake {
    /// The request bytes to send, and the checker of the response.
    /// permessage-deflate is offered when the configuration asks for it.
    pub(crate) fn start(request: ClientRequest, setup: &Setup) -> Result<(Vec<u8>, Self), Error> {
        #[cfg(feature = "deflate")]
        let request = match setup.deflate {
            Some(deflate) => request.deflate(deflate),
            None => request,
        };
        let (bytes, expect) = request.build()?;
        let handshake = ClientHandshake {
            expect,
            config: setup.config.clone(),
            write_timeout: setup.write_timeout,
        };
        Ok((bytes, handshake))
    }

    /// Looks at everything read so far (the whole buffer, each time).
    pub(crate) fn step(&mut self, buf: &[u8]) -> ClientStep {
        match self.expect.parse_response(buf) {
            Ok(Parsed::Partial) => ClientStep::Partial,
            Ok(Parsed::Complete((established, used))) => {
                let upgraded = Upgraded {
                    role: Role::Client,
                    config: self.config.clone(),
                    write_timeout: self.write_timeout,
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
            Err(e) => ClientStep::Failed(Error::Response(e)),
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
        Error::Response(ResponseError::NotSwitching(self.response))
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
        let request = ClientRequest::new("h", "/");
        ClientHandshake::start(request, &Setup::default())
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
            matches!(step, ClientStep::Failed(Error::Response(_))),
            "{step:?}"
        );
    }
}
