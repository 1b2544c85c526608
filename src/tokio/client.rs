//! The client side: [`connect`], [`ClientBuilder`]'s `connect` and
//! `handshake`, [`client_handshake`]; the plan and the checks are the
//! shared driver's.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::maybe_tls::MaybeTlsStream;
use super::runtime::Tokio;
use super::{ClientBuilder, WebSocket};
use crate::driver::error::Error;
use crate::driver::head::Head;
use crate::driver::{DEFAULT_TIMEOUT, Setup, client};
use crate::handshake::{ClientRequest, Established};

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
#[doc(alias = "connect_async")]
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
    let head = Head::start::<Tokio>(DEFAULT_TIMEOUT);
    client::handshake(stream, Tokio::default(), request, &Setup::default(), head).await
}

impl ClientBuilder {
    /// Connects (see the type's docs for the steps).
    pub async fn connect(
        &self,
    ) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        self.connect_on().await
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub async fn handshake<S>(&self, stream: S) -> Result<(WebSocket<S>, Established), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.handshake_on(stream).await
    }
}
