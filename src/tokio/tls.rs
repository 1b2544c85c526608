//! TLS with tokio-rustls (features `tokio` and `tls`): the handshakes,
//! each within a deadline. The configurations are in [`crate::tls`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout_at};

use super::maybe_tls::{MaybeTlsStream, TlsStream};
use crate::driver::error::Error;
use crate::tls::server_name;

/// Runs the server side of the TLS handshake on an accepted socket, giving
/// up after `timeout` (a peer that stalls is dropped), and returns the
/// stream to pass to [`accept`](super::accept) or
/// [`accept_with`](super::accept_with).
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use wsproto::tokio::{accept, accept_tls};
///
/// # async fn run(config: Arc<wsproto::tls::rustls::ServerConfig>) -> Result<(), wsproto::tokio::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let (tcp, _) = listener.accept().await?;
/// let tls = accept_tls(tcp, config, Duration::from_secs(10)).await?;
/// let mut ws = accept(tls).await?;
/// # Ok(())
/// # }
/// ```
pub async fn accept_tls<S>(
    sock: S,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(sock);
    let stream = within(Instant::now() + timeout, accept).await?;
    Ok(MaybeTlsStream::Tls(Box::new(TlsStream::Server(stream))))
}

/// Runs the client side of the TLS handshake for `host` (a DNS name or an
/// IP address, sent as SNI and checked against the certificate) over a
/// connected socket, within `timeout`.
pub async fn connect_tls<S>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    connect_tls_until(sock, host, config, Instant::now() + timeout).await
}

/// [`connect_tls`] by a deadline (the client's TLS and WebSocket
/// handshakes share one).
pub(super) async fn connect_tls_until<S>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<MaybeTlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stream = client_tls(sock, host, config, deadline).await?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

/// [`connect_tls_until`] without the wrapping: also over a TLS stream
/// (TLS to the server inside TLS to an `https://` proxy).
pub(super) async fn client_tls<S>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(host)?;
    let connect = tokio_rustls::TlsConnector::from(config).connect(name, sock);
    Ok(TlsStream::Client(within(deadline, connect).await?))
}

/// A TLS handshake by `deadline`, its failures told as the blocking
/// adapter tells them: a timeout, the peer gone, a TLS error.
async fn within<T>(
    deadline: Instant,
    handshake: impl Future<Output = io::Result<T>>,
) -> Result<T, Error> {
    match timeout_at(deadline, handshake).await {
        Err(_elapsed) => Err(Error::HandshakeTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::HandshakeEof),
        Ok(result) => Ok(result?),
    }
}
