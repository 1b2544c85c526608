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
    /// Connects: TCP (each resolved address in turn), TLS for `wss://`,
    /// then the opening handshake.
    pub fn connect(&self) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        let url = WsUrl::parse(&self.settings.url)?;
        let request = self.request()?;
        if url.secure() && cfg!(not(feature = "tls")) {
            return Err(Error::TlsUnavailable);
        }
        let tcp = tcp_connect(url.host(), url.port(), self.settings.connect_timeout)?;
        let stream = if url.secure() {
            self.wrap_tls(tcp, url.host())?
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        handshake(
            stream,
            request,
            self.settings.config.clone(),
            self.settings.handshake_timeout,
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

    #[cfg(feature = "tls")]
    fn wrap_tls(&self, tcp: TcpStream, host: &str) -> Result<MaybeTlsStream<TcpStream>, Error> {
        let config = match &self.settings.tls_config {
            Some(config) => config.clone(),
            None => super::tls::default_client_config()?,
        };
        super::tls::connect_tls(tcp, host, config, self.settings.handshake_timeout)
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
