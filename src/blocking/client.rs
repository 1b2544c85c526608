//! The client side: [`connect`], [`ClientBuilder`], [`client_handshake`].

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::handshake_io::HeadReader;
use super::maybe_tls::MaybeTlsStream;
use super::stream::Stream;
use super::websocket::WebSocket;
use crate::Config;
use crate::driver::DEFAULT_TIMEOUT;
use crate::driver::client::{ClientHandshake, ClientStep, client_builder};
use crate::driver::error::Error;
use crate::handshake::{ClientRequest, Established, WsUrl};
use crate::proxy::{ProxyScheme, ProxyUrl, TunnelHandshake};

/// Connects to a `ws://` (or, with the `tls` feature, `wss://`) URL with
/// the default settings: TCP, TLS when asked for, the opening handshake.
/// Returns the connection and what the server's `101` response agreed to
/// ([`Established`]: its subprotocol, extensions and headers such as
/// `Set-Cookie`).
///
/// ```no_run
/// let (mut ws, response) = wsproto::blocking::connect("ws://127.0.0.1:9001/chat")?;
/// println!("subprotocol: {:?}", response.protocol());
/// # Ok::<(), wsproto::blocking::Error>(())
/// ```
pub fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
    ClientBuilder::new(url).connect()
}

/// Runs the client side of the opening handshake over a stream the caller
/// connected (a Unix socket, a proxy tunnel, their own TLS), with the
/// default config and a 10 s handshake timeout. `request` comes from
/// [`ClientRequest::from_url`] or [`ClientRequest::new`].
pub fn client_handshake<S: Stream>(
    stream: S,
    request: ClientRequest,
) -> Result<(WebSocket<S>, Established), Error> {
    handshake(stream, request, Config::default(), DEFAULT_TIMEOUT)
}

client_builder! {
    /// Everything a client can ask for: subprotocols, `Origin`, extra headers
    /// (an `Authorization` token, cookies), the connection's [`Config`], and the
    /// connect and handshake timeouts.
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
    pub struct ClientBuilder;
}

impl ClientBuilder {
    /// Connects: TCP (each resolved address in turn) to the server or to
    /// its proxy (see [`proxy`](Self::proxy)) and the tunnel through it,
    /// TLS for `wss://` (with the server's name, inside any tunnel), then
    /// the opening handshake. The tunnel, TLS and WebSocket handshakes
    /// share the handshake timeout.
    pub fn connect(&self) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        let url = WsUrl::parse(&self.settings.url)?;
        let request = self.request()?;
        if url.secure() && cfg!(not(feature = "tls")) {
            return Err(Error::TlsUnavailable);
        }
        let timeout = self.settings.connect_timeout;
        let (stream, deadline) = match self.settings.proxy_for(&url)? {
            None => {
                let tcp = tcp_connect(url.host(), url.port(), timeout)?;
                let deadline = Instant::now() + self.settings.handshake_timeout;
                (self.secure(tcp, &url, deadline)?, deadline)
            }
            Some(proxy) => {
                let resolved = match proxy.resolves_locally() {
                    true => Some(super::proxy::resolve(url.host(), url.port())?),
                    false => None,
                };
                let tunnel = self.settings.tunnel(&proxy, &url, resolved)?;
                let mut tcp = tcp_connect(proxy.host(), proxy.port(), timeout)?;
                let deadline = Instant::now() + self.settings.handshake_timeout;
                let stream = if proxy.scheme() == ProxyScheme::Https {
                    self.through_https_proxy(tcp, &proxy, tunnel, &url, deadline)?
                } else {
                    super::proxy::open_tunnel(&mut tcp, tunnel, deadline)?;
                    self.secure(tcp, &url, deadline)?
                };
                (stream, deadline)
            }
        };
        handshake(
            stream,
            request,
            self.settings.config.clone(),
            left(deadline)?,
        )
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub fn handshake<S: Stream>(&self, stream: S) -> Result<(WebSocket<S>, Established), Error> {
        handshake(
            stream,
            self.request()?,
            self.settings.config.clone(),
            self.settings.handshake_timeout,
        )
    }

    /// TLS for `wss://` (with the server's name), plain for `ws://`.
    fn secure(
        &self,
        tcp: TcpStream,
        url: &WsUrl,
        deadline: Instant,
    ) -> Result<MaybeTlsStream<TcpStream>, Error> {
        if !url.secure() {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        #[cfg(feature = "tls")]
        return Ok(MaybeTlsStream::Tls(Box::new(super::tls::client_tls(
            tcp,
            url.host(),
            self.client_tls_config()?,
            left(deadline)?,
        )?)));
        #[cfg(not(feature = "tls"))]
        {
            let _ = deadline;
            Err(Error::TlsUnavailable)
        }
    }

    /// TLS to an `https://` proxy (with the proxy's name), the tunnel
    /// inside it, and for `wss://` TLS with the server inside that.
    #[cfg(feature = "tls")]
    fn through_https_proxy(
        &self,
        tcp: TcpStream,
        proxy: &ProxyUrl,
        tunnel: TunnelHandshake,
        url: &WsUrl,
        deadline: Instant,
    ) -> Result<MaybeTlsStream<TcpStream>, Error> {
        let config = self.client_tls_config()?;
        let mut outer = super::tls::client_tls(tcp, proxy.host(), config.clone(), left(deadline)?)?;
        super::proxy::open_tunnel(&mut outer, tunnel, deadline)?;
        if !url.secure() {
            return Ok(MaybeTlsStream::Tls(Box::new(outer)));
        }
        let inner = super::tls::client_tls(outer, url.host(), config, left(deadline)?)?;
        Ok(MaybeTlsStream::TlsInTls(Box::new(inner)))
    }

    #[cfg(not(feature = "tls"))]
    fn through_https_proxy(
        &self,
        _tcp: TcpStream,
        _proxy: &ProxyUrl,
        _tunnel: TunnelHandshake,
        _url: &WsUrl,
        _deadline: Instant,
    ) -> Result<MaybeTlsStream<TcpStream>, Error> {
        Err(Error::TlsUnavailable)
    }

    /// The builder's rustls configuration, or the Mozilla roots.
    #[cfg(feature = "tls")]
    fn client_tls_config(&self) -> Result<std::sync::Arc<super::tls::rustls::ClientConfig>, Error> {
        match &self.settings.tls_config {
            Some(config) => Ok(config.clone()),
            None => super::tls::default_client_config(),
        }
    }
}

/// The time left until `deadline`; a handshake timeout once it has passed.
fn left(deadline: Instant) -> Result<Duration, Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(crate::driver::error::HandshakeFailure::Timeout.into());
    }
    Ok(left)
}

/// Connects to the first address of `host` that answers. Nagle's
/// algorithm is turned off: frames are written whole, and a small message
/// should not wait for the previous one's ACK.
fn tcp_connect(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(crate::driver::connect_error(last))
}

/// Sends the request and validates the response within `timeout`.
fn handshake<S: Stream>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
    timeout: Duration,
) -> Result<(WebSocket<S>, Established), Error> {
    let (bytes, mut expect) = ClientHandshake::start(request, config)?;
    let mut head = HeadReader::start(&mut stream, timeout)?;
    head.write(&mut stream, &bytes)?;
    loop {
        head.read_more(&mut stream)?;
        match expect.step(&head.buf) {
            ClientStep::Partial => {}
            ClientStep::Upgrade(established, upgraded) => {
                HeadReader::done(&mut stream)?;
                let used = upgraded.used;
                let (conn, protocol) = upgraded.connection(Instant::now());
                let ws = WebSocket::from_connection(stream, conn, protocol, &head.buf[used..]);
                return Ok((ws, established));
            }
            ClientStep::Refused(mut body) => {
                // The rest of the body, within the deadline; what arrives
                // is kept, errors are ignored.
                while body.wants_more() && head.read_more(&mut stream).is_ok() {
                    body.feed(&head.buf);
                }
                return Err(body.into_error());
            }
            ClientStep::Failed(error) => return Err(error),
        }
    }
}
