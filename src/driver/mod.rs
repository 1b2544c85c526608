//! One driver under every adapter. Everything that does not depend on how
//! an adapter waits is written here, once: the error type, the read loop
//! and the closing sequence ([`recv`]), the write engine ([`write`]), one
//! socket and its split halves ([`socket`], [`split`]), the opening
//! handshakes with their connect and accept plans ([`client`], [`server`],
//! [`tunnel`], [`head`]), and reconnecting ([`reconnect`]). The adapters
//! (`blocking/`, `tokio/`) implement the small traits of [`runtime`] — how
//! to read, write and sleep — and give the shared types their public
//! methods that wait (a blocking call, or an `async fn`).

pub(crate) mod budget;
pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod head;
pub(crate) mod reconnect;
pub(crate) mod recv;
pub(crate) mod runtime;
pub(crate) mod server;
pub(crate) mod shutdown;
pub(crate) mod socket;
pub(crate) mod spare;
pub(crate) mod split;
pub(crate) mod state;
pub(crate) mod tunnel;
pub(crate) mod write;

use std::time::Duration;

pub(crate) use error::Error;
pub(crate) use runtime::Runtime;
pub(crate) use socket::WebSocket;

use crate::{Config, Connection, HandshakeLimits, Role};

/// Default bound on the TCP connect and on the opening handshake, for
/// both roles.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's default message timeout: long enough for an honest slow
/// upload of a large message, short enough that a parked one is freed.
pub(crate) const SERVER_MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default bound on a write that makes no progress (a peer that stopped
/// reading): the connection is then lost instead of holding a thread or
/// task and its buffers.
pub(crate) const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a builder holds for each layer: the connection's [`Config`], the
/// opening handshake's caps and permessage-deflate offer, and what only an
/// adapter can bound (the handshake and write timeouts).
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) config: Config,
    pub(crate) limits: HandshakeLimits,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::deflate::DeflateConfig>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) write_timeout: Option<Duration>,
    /// The message timeout when the connection's `Config` sets none (a
    /// server's default).
    pub(crate) message_timeout: Option<Duration>,
}

impl Setup {
    /// The connection's configuration: the `Config`, with the builder's
    /// message timeout unless the `Config` has one.
    pub(crate) fn connection_config(&self) -> Config {
        let mut config = self.config.clone();
        config.message_timeout = config.message_timeout.or(self.message_timeout);
        config
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            config: Config::default(),
            limits: HandshakeLimits::default(),
            #[cfg(feature = "deflate")]
            deflate: None,
            handshake_timeout: DEFAULT_TIMEOUT,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            message_timeout: None,
        }
    }
}

/// A completed opening handshake, either role: what the connection is
/// made of.
#[derive(Debug)]
pub(crate) struct Upgraded {
    role: Role,
    config: Config,
    write_timeout: Option<Duration>,
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
    /// How many bytes of the read buffer the head took; the rest are the
    /// first frames.
    pub(crate) used: usize,
}

impl Upgraded {
    /// A client connection after a handshake another HTTP client did.
    pub(crate) fn from_established(
        config: Config,
        established: &crate::handshake::Established,
    ) -> Self {
        Upgraded {
            role: Role::Client,
            config,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            protocol: established.protocol().map(str::to_owned),
            #[cfg(feature = "deflate")]
            deflate: established.deflate(),
            used: 0,
        }
    }

    /// A server connection after a handshake another HTTP server answered.
    pub(crate) fn from_negotiated(
        config: Config,
        negotiated: &crate::handshake::Negotiated,
    ) -> Self {
        Upgraded {
            role: Role::Server,
            config,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            protocol: negotiated.protocol().map(str::to_owned),
            #[cfg(feature = "deflate")]
            deflate: negotiated.deflate(),
            used: 0,
        }
    }

    /// The socket over `stream`, its clock started now; `leftover` (the
    /// bytes read past the head) is processed first.
    pub(crate) fn into_socket<S, R: Runtime>(
        self,
        stream: S,
        rt: R,
        leftover: &[u8],
    ) -> WebSocket<S, R> {
        #[allow(unused_mut)]
        let mut conn = Connection::new_at(self.role, self.config, R::now());
        #[cfg(feature = "deflate")]
        if let Some(params) = self.deflate {
            conn.set_deflate(params);
        }
        let mut ws = WebSocket::from_connection(stream, rt, conn, self.protocol, leftover);
        ws.write_timeout = self.write_timeout;
        ws
    }
}
