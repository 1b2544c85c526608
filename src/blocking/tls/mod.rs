//! rustls over a blocking socket (features `blocking` and `tls`): the
//! [`TlsStream`] inside [`MaybeTlsStream`](super::MaybeTlsStream), and the
//! client side of its handshake. The configurations are in
//! [`crate::tls`]; a [`rustls::StreamOwned`] made by hand works with
//! `accept` too.
//!
//! A TLS stream splits like a socket ([`WebSocket::into_split`](super::WebSocket::into_split)):
//! each half gets its own handle of the socket, and the rustls state is
//! shared under a lock held while records are decrypted or encrypted,
//! never during socket I/O. TLS-level messages produced while reading
//! (rare after the handshake: a KeyUpdate answer, an alert) go out with
//! the writer's next write.

mod stream;

use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, Connection};

use super::stream::Stream;
use crate::driver::error::Error;
use crate::tls::server_name;
pub use stream::{TlsReader, TlsStream, TlsWriter};

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
