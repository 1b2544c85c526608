//! TLS with rustls (feature `tls`): `wss://` for clients, and TLS for
//! servers.
//!
//! - Clients: [`connect`](super::connect) handles `wss://` with the Mozilla
//!   roots from `webpki-roots`; pass your own [`rustls::ClientConfig`]
//!   (custom roots, client certificates) with
//!   [`ClientBuilder::tls_config`](super::ClientBuilder::tls_config).
//! - Servers: [`accept_tls`] runs the TLS handshake on an accepted socket
//!   (bounded by a timeout) and returns a stream for
//!   [`accept`](crate::blocking::accept); [`server_config`] builds a
//!   [`rustls::ServerConfig`] from a certificate chain and key. A
//!   [`rustls::StreamOwned`] made by hand works with `accept` too.
//!
//! The `ring` provider is used explicitly (it builds with a plain C
//! compiler, unlike `aws-lc-rs`), so enabling another rustls provider
//! elsewhere in the build does not make the choice ambiguous.
//!
//! A TLS stream splits like a socket ([`WebSocket::split`](super::WebSocket::split)):
//! each half gets its own handle of the socket, and the rustls state is
//! shared under a lock held while records are decrypted or encrypted,
//! never during socket I/O. TLS-level messages produced while reading
//! (rare after the handshake: a KeyUpdate answer, an alert) go out with
//! the writer's next write.

mod stream;

use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::maybe_tls::MaybeTlsStream;
use super::stream::Stream;
use crate::driver::error::Error;
use crate::driver::tls_config::server_name;
pub use crate::driver::tls_config::{
    client_config_with_roots, default_client_config, server_config,
};
/// The rustls this module is built on, for its configuration types.
pub use rustls;
pub use stream::{TlsReader, TlsStream, TlsWriter};

/// Runs the server side of the TLS handshake on an accepted socket, giving
/// up after `timeout` (a peer that stalls is dropped), and returns the
/// stream to pass to [`accept`](crate::blocking::accept) or
/// [`accept_with`](crate::blocking::accept_with).
pub fn accept_tls<S: Stream>(
    sock: S,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error> {
    let conn = ServerConnection::new(config)?;
    let stream = TlsStream::handshake(Connection::Server(conn), sock, timeout)?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

/// Runs the client side of the TLS handshake for `host` (a DNS name or an
/// IP address) over a connected socket.
pub fn connect_tls<S: Stream>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error> {
    Ok(MaybeTlsStream::Tls(Box::new(client_tls(
        sock, host, config, timeout,
    )?)))
}

/// [`connect_tls`] without the wrapping: also over a TLS stream (TLS to
/// the target inside TLS to an `https://` proxy).
pub(crate) fn client_tls<S: Stream>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<TlsStream<S>, Error> {
    let conn = ClientConnection::new(config, server_name(host)?)?;
    TlsStream::handshake(Connection::Client(conn), sock, timeout)
}
