//! The client side: [`connect`], [`ClientBuilder`], [`client_handshake`].

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::handshake_io::{DEFAULT_TIMEOUT, HeadReader};
use super::maybe_tls::MaybeTlsStream;
use super::stream::Stream;
use super::websocket::WebSocket;
use crate::driver::error::{Error, HandshakeFailure};
use crate::handshake::{ClientRequest, Established, ResponseError, WsUrl};
use crate::{Config, Connection, Parsed, Role};

/// Most body bytes of a refusal read to show the caller.
const MAX_REFUSAL_BODY: usize = 64 << 10;

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
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    origin: Option<String>,
    headers: Vec<(String, String)>,
    config: Config,
    connect_timeout: Option<Duration>,
    handshake_timeout: Duration,
    #[cfg(feature = "tls")]
    tls_config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl ClientBuilder {
    /// A client for `url` with the defaults: no subprotocol, no `Origin`,
    /// [`Config::default`], 10 s connect and handshake timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            config: Config::default(),
            connect_timeout: Some(DEFAULT_TIMEOUT),
            handshake_timeout: DEFAULT_TIMEOUT,
            #[cfg(feature = "tls")]
            tls_config: None,
        }
    }

    /// The URL this builder connects to.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Offers a subprotocol (in order of preference).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Sends an `Origin` header, as a browser would.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a request header (`Authorization`, `Cookie`, …).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The connection's limits, timeouts and keepalive.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Bound on each TCP connection attempt (`None`: the system's).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on the TLS and WebSocket handshakes together (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration for `wss://` (custom roots, client
    /// certificates); default: the `webpki-roots` Mozilla roots.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// The handshake request this builder sends.
    pub fn request(&self) -> Result<ClientRequest, Error> {
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

    /// Connects: TCP (each resolved address in turn), TLS for `wss://`,
    /// then the opening handshake.
    pub fn connect(&self) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        let url = WsUrl::parse(&self.url)?;
        let request = self.request()?;
        if url.secure() && cfg!(not(feature = "tls")) {
            return Err(Error::TlsUnavailable);
        }
        let tcp = tcp_connect(url.host(), url.port(), self.connect_timeout)?;
        let stream = if url.secure() {
            self.wrap_tls(tcp, url.host())?
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        handshake(stream, request, self.config.clone(), self.handshake_timeout)
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub fn handshake<S: Stream>(&self, stream: S) -> Result<(WebSocket<S>, Established), Error> {
        handshake(
            stream,
            self.request()?,
            self.config.clone(),
            self.handshake_timeout,
        )
    }

    #[cfg(feature = "tls")]
    fn wrap_tls(&self, tcp: TcpStream, host: &str) -> Result<MaybeTlsStream<TcpStream>, Error> {
        let config = match &self.tls_config {
            Some(config) => config.clone(),
            None => super::tls::default_client_config()?,
        };
        super::tls::connect_tls(tcp, host, config, self.handshake_timeout)
    }

    #[cfg(not(feature = "tls"))]
    fn wrap_tls(&self, _tcp: TcpStream, _host: &str) -> Result<MaybeTlsStream<TcpStream>, Error> {
        Err(Error::TlsUnavailable)
    }
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
    Err(last
        .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
        .into())
}

/// Sends the request and validates the response within `timeout`.
fn handshake<S: Stream>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
    timeout: Duration,
) -> Result<(WebSocket<S>, Established), Error> {
    // permessage-deflate is offered when the configuration asks for it.
    #[cfg(feature = "deflate")]
    let request = match config.deflate {
        Some(deflate) => request.deflate(deflate),
        None => request,
    };
    let (bytes, mut expect) = request.build()?;
    let mut head = HeadReader::start(&mut stream, timeout)?;
    head.write(&mut stream, &bytes)?;
    loop {
        head.read_more(&mut stream)?;
        match expect.parse_response(&head.buf) {
            Ok(Parsed::Partial) => {}
            Ok(Parsed::Complete((established, used))) => {
                HeadReader::done(&mut stream)?;
                #[allow(unused_mut)]
                let mut conn = Connection::new_at(Role::Client, config, Instant::now());
                #[cfg(feature = "deflate")]
                if let Some(params) = established.deflate() {
                    conn.set_deflate(params);
                }
                let protocol = established.protocol().map(str::to_owned);
                // Frames the server sent right after its head (RFC 6455
                // allows it); a violation is reported by the first read.
                let ws = WebSocket::from_connection(stream, conn, protocol, &head.buf[used..]);
                return Ok((ws, established));
            }
            Err(ResponseError::NotSwitching(mut response)) => {
                read_body(&mut stream, &mut head, &mut response.body);
                return Err(
                    HandshakeFailure::Response(ResponseError::NotSwitching(response)).into(),
                );
            }
            Err(e) => return Err(HandshakeFailure::Response(e).into()),
        }
    }
}

/// Reads the rest of a refusal's body when it announced its length, so the
/// caller sees the server's explanation whole (up to 64 KiB, within the
/// handshake deadline; what arrives is kept, errors are ignored).
fn read_body<S: Stream>(stream: &mut S, head: &mut HeadReader, body: &mut Vec<u8>) {
    let Some(length) = head_content_length(&head.buf) else {
        return;
    };
    let length = length.min(MAX_REFUSAL_BODY);
    while body.len() < length {
        let before = head.buf.len();
        if head.read_more(stream).is_err() {
            break;
        }
        body.extend_from_slice(&head.buf[before..]);
    }
    body.truncate(length);
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
