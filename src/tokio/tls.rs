//! TLS with tokio-rustls (features `tokio` and `tls`): `wss://` for
//! clients, and TLS for servers.
//!
//! - Clients: [`connect`](super::connect) handles `wss://` with the Mozilla
//!   roots from `webpki-roots`, sending the host as SNI; pass your own
//!   [`rustls::ClientConfig`] (custom roots, client certificates) with
//!   [`ClientBuilder::tls_config`](super::ClientBuilder::tls_config), or
//!   run [`connect_tls`] over a socket of your own.
//! - Servers: [`accept_tls`] runs the TLS handshake on an accepted socket
//!   (bounded by a timeout) and returns a stream for
//!   [`accept`](super::accept); [`server_config`] builds a
//!   [`rustls::ServerConfig`] from a certificate chain and key.
//!
//! The configurations are the blocking adapter's (the `ring` provider).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout_at};

use super::maybe_tls::MaybeTlsStream;
use crate::driver::error::{Error, HandshakeFailure};
use crate::driver::tls_config::server_name;
pub use crate::driver::tls_config::{
    client_config_with_roots, default_client_config, server_config,
};
/// The rustls this module is built on, for its configuration types.
pub use rustls;

/// Runs the server side of the TLS handshake on an accepted socket, giving
/// up after `timeout` (a peer that stalls is dropped), and returns the
/// stream to pass to [`accept`](super::accept) or
/// [`accept_with`](super::accept_with).
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use wsproto::tokio::{accept, tls};
///
/// # async fn run(config: Arc<tls::rustls::ServerConfig>) -> Result<(), wsproto::tokio::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let (tcp, _) = listener.accept().await?;
/// let tls = tls::accept_tls(tcp, config, Duration::from_secs(10)).await?;
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
    Ok(MaybeTlsStream::ServerTls(Box::new(stream)))
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
    Ok(MaybeTlsStream::ClientTls(Box::new(stream)))
}

/// [`connect_tls_until`] without the wrapping: also over a TLS stream
/// (TLS to the server inside TLS to an `https://` proxy).
pub(super) async fn client_tls<S>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(host)?;
    let connect = tokio_rustls::TlsConnector::from(config).connect(name, sock);
    within(deadline, connect).await
}

/// A TLS handshake by `deadline`, its failures told as the blocking
/// adapter tells them: a timeout, the peer gone, a TLS error.
async fn within<T>(
    deadline: Instant,
    handshake: impl Future<Output = io::Result<T>>,
) -> Result<T, Error> {
    match timeout_at(deadline, handshake).await {
        Err(_elapsed) => Err(HandshakeFailure::Timeout.into()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(HandshakeFailure::Eof.into()),
        Ok(result) => Ok(result?),
    }
}
