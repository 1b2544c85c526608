//! What every adapter shares, whatever way it waits (a blocking system
//! call, or a `poll_*` that returns `Pending`): the error type, the
//! connection state an adapter keeps beside the core, the write queue, and
//! the decisions of the opening handshake (client and server) as steps
//! over the bytes read so far. The adapters (`blocking/`, `tokio/`) only
//! move bytes and wait.

pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod outgoing;
pub(crate) mod reconnect;
pub(crate) mod server;
pub(crate) mod state;
#[cfg(feature = "tls")]
pub(crate) mod tls_config;

use std::time::{Duration, Instant};

pub(crate) use state::Driver;

use crate::{Config, Connection, Role};

/// Default bound on the TCP connect and on the opening handshake, for
/// both roles.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The error of a connect that tried every address of a host: the last
/// attempt's, or that the name resolved to none.
pub(crate) fn connect_error(last: Option<std::io::Error>) -> error::Error {
    last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
        .into()
}

/// A completed opening handshake, either role: what the connection is
/// made of.
#[derive(Debug)]
pub(crate) struct Upgraded {
    role: Role,
    config: Config,
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
    /// How many bytes of the read buffer the head took; the rest are the
    /// first frames.
    pub(crate) used: usize,
}

impl Upgraded {
    /// The connection, its clock started at `now` (the adapter's clock),
    /// and the agreed subprotocol.
    pub(crate) fn connection(self, now: Instant) -> (Connection, Option<String>) {
        #[allow(unused_mut)]
        let mut conn = Connection::new_at(self.role, self.config, now);
        #[cfg(feature = "deflate")]
        if let Some(params) = self.deflate {
            conn.set_deflate(params);
        }
        (conn, self.protocol)
    }
}
