//! The client side: [`connect`], [`ClientBuilder`], [`client_handshake`].
//! The request and the checks of the response are the blocking adapter's;
//! this file connects, writes and reads.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use super::handshake_io::HeadReader;
use super::maybe_tls::MaybeTlsStream;
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
/// # async fn run() -> Result<(), wsproto::tokio::Error> {
/// let (mut ws, response) = wsproto::tokio::connect("ws://127.0.0.1:9001/chat").await?;
/// println!("subprotocol: {:?}", response.protocol());
/// ws.send("hello").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(
    url: &str,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
    ClientBuilder::new(url).connect().await
}

/// Runs the client side of the opening handshake over a stream the caller
/// connected (a Unix socket, a proxy tunnel, their own TLS), with the
/// default config and a 10 s handshake timeout. `request` comes from
/// [`ClientRequest::from_url`] or [`ClientRequest::new`].
pub async fn client_handshake<S>(
    stream: S,
    request: ClientRequest,
) -> Result<(WebSocket<S>, Established), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = HeadReader::start(DEFAULT_TIMEOUT);
    handshake(stream, request, Config::default(), head).await
}

client_builder! {
    /// Everything a client can ask for: subprotocols, `Origin`, extra headers
    /// (an `Authorization` token, cookies), the connection's [`Config`], and the
    /// connect and handshake timeouts. The same settings as the blocking
    /// [`ClientBuilder`](crate::blocking::ClientBuilder).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wsproto::tokio::ClientBuilder;
    ///
    /// # async fn run() -> Result<(), wsproto::tokio::Error> {
    /// let (ws, response) = ClientBuilder::new("ws://127.0.0.1:9001/chat")
    ///     .protocol("chat.v1")
    ///     .origin("http://localhost")
    ///     .header("Authorization", "Bearer secret")
    ///     .handshake_timeout(Duration::from_secs(5))
    ///     .connect()
    ///     .await?;
    /// assert_eq!(ws.protocol(), response.protocol());
    /// # Ok(())
    /// # }
    /// ```
    pub struct ClientBuilder;
}

impl ClientBuilder {
    /// Connects: TCP (each resolved address in turn, Nagle off) to the
    /// server or to its proxy (see [`proxy`](Self::proxy)) and the tunnel
    /// through it, TLS for `wss://` (with SNI for the server, inside any
    /// tunnel), then the opening handshake; the tunnel, TLS and WebSocket
    /// handshakes share the handshake timeout.
    pub async fn connect(
        &self,
    ) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        let url = WsUrl::parse(&self.settings.url)?;
        let request = self.request()?;
        if url.secure() && cfg!(not(feature = "tls")) {
            return Err(Error::TlsUnavailable);
        }
        let limit = self.settings.connect_timeout;
        let (stream, head) = match self.settings.proxy_for(&url)? {
            None => {
                let tcp = tcp_connect(url.host(), url.port(), limit).await?;
                let head = HeadReader::start(self.settings.handshake_timeout);
                (self.secure(tcp, &url, head.deadline()).await?, head)
            }
            Some(proxy) => {
                let resolved = match proxy.resolves_locally() {
                    true => Some(super::proxy::resolve(url.host(), url.port()).await?),
                    false => None,
                };
                let tunnel = self.settings.tunnel(&proxy, &url, resolved)?;
                let mut tcp = tcp_connect(proxy.host(), proxy.port(), limit).await?;
                let head = HeadReader::start(self.settings.handshake_timeout);
                let deadline = head.deadline();
                let stream = if proxy.scheme() == ProxyScheme::Https {
                    self.through_https_proxy(tcp, &proxy, tunnel, &url, deadline)
                        .await?
                } else {
                    super::proxy::open_tunnel(&mut tcp, tunnel, deadline).await?;
                    self.secure(tcp, &url, deadline).await?
                };
                (stream, head)
            }
        };
        handshake(stream, request, self.settings.config.clone(), head).await
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub async fn handshake<S>(&self, stream: S) -> Result<(WebSocket<S>, Established), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let head = HeadReader::start(self.settings.handshake_timeout);
        handshake(stream, self.request()?, self.settings.config.clone(), head).await
    }

    /// TLS for `wss://` (with SNI for the server), plain for `ws://`.
    async fn secure(
        &self,
        tcp: TcpStream,
        url: &WsUrl,
        deadline: Instant,
    ) -> Result<MaybeTlsStream<TcpStream>, Error> {
        if !url.secure() {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        #[cfg(feature = "tls")]
        return super::tls::connect_tls_until(tcp, url.host(), self.client_tls_config()?, deadline)
            .await;
        #[cfg(not(feature = "tls"))]
        {
            let _ = deadline;
            Err(Error::TlsUnavailable)
        }
    }

    /// TLS to an `https://` proxy (with the proxy's name), the tunnel
    /// inside it, and for `wss://` TLS with the server inside that.
    #[cfg(feature = "tls")]
    async fn through_https_proxy(
        &self,
        tcp: TcpStream,
        proxy: &ProxyUrl,
        tunnel: TunnelHandshake,
        url: &WsUrl,
        deadline: Instant,
    ) -> Result<MaybeTlsStream<TcpStream>, Error> {
        let config = self.client_tls_config()?;
        let mut outer = super::tls::client_tls(tcp, proxy.host(), config.clone(), deadline).await?;
        super::proxy::open_tunnel(&mut outer, tunnel, deadline).await?;
        if !url.secure() {
            return Ok(MaybeTlsStream::ClientTls(Box::new(outer)));
        }
        let inner = super::tls::client_tls(outer, url.host(), config, deadline).await?;
        Ok(MaybeTlsStream::ClientTlsInTls(Box::new(inner)))
    }

    #[cfg(not(feature = "tls"))]
    async fn through_https_proxy(
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
    fn client_tls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
        match &self.settings.tls_config {
            Some(config) => Ok(config.clone()),
            None => crate::driver::tls_config::default_client_config(),
        }
    }
}

/// Connects to the first address of `host` that answers. Nagle's
/// algorithm is turned off: frames are written whole, and a small message
/// should not wait for the previous one's ACK.
async fn tcp_connect(host: &str, port: u16, limit: Option<Duration>) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let attempt = match limit {
            Some(t) => match timeout(t, TcpStream::connect(addr)).await {
                Ok(attempt) => attempt,
                Err(_elapsed) => Err(std::io::ErrorKind::TimedOut.into()),
            },
            None => TcpStream::connect(addr).await,
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

/// Sends the request and validates the response within the deadline of
/// `head`.
async fn handshake<S>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
    mut head: HeadReader,
) -> Result<(WebSocket<S>, Established), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (bytes, mut expect) = ClientHandshake::start(request, config)?;
    head.write(&mut stream, &bytes).await?;
    loop {
        head.read_more(&mut stream).await?;
        match expect.step(&head.buf) {
            ClientStep::Partial => {}
            ClientStep::Upgrade(established, upgraded) => {
                let used = upgraded.used;
                let (conn, protocol) = upgraded.connection(super::driver::now());
                let ws = WebSocket::from_connection(stream, conn, protocol, &head.buf[used..]);
                return Ok((ws, established));
            }
            ClientStep::Refused(mut body) => {
                // The rest of the body, within the deadline; what arrives
                // is kept, errors are ignored.
                while body.wants_more() && head.read_more(&mut stream).await.is_ok() {
                    body.feed(&head.buf);
                }
                return Err(body.into_error());
            }
            ClientStep::Failed(error) => return Err(error),
        }
    }
}
