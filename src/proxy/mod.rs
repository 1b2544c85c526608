//! Reaching a WebSocket server through a proxy, without I/O: HTTP
//! `CONNECT` tunnels (RFC 9110 §9.3.6) and SOCKS5 (RFC 1928, with the
//! username/password method of RFC 1929).
//!
//! - [`ProxyUrl`]: a proxy address such as `http://user:pass@proxy:3128`
//!   or `socks5h://127.0.0.1:1080`; its credentials never appear in
//!   `Debug` or `Display` output, nor in any error.
//! - [`ProxyEnv`]: a snapshot of the proxy variables of an environment
//!   (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower- and
//!   uppercase) and the choice, for a URL, that curl would make.
//! - [`TunnelHandshake`]: the bytes to send to the proxy and the checking
//!   of its answers, as a state machine. Once it reports
//!   [`Parsed::Complete`], the connection to the proxy is a byte stream
//!   to the target: TLS for `wss://` (with the *target's* name) and the
//!   WebSocket handshake run inside it.
//!
//! The client adapters (`wsproto::blocking`, `wsproto::tokio`) use all
//! three; a driver of another runtime repeats this loop:
//!
//! ```
//! use wsproto::proxy::{ProxyUrl, TunnelHandshake};
//! use wsproto::{HandshakeLimits, Parsed};
//!
//! let proxy = ProxyUrl::parse("http://proxy.example:3128")?;
//! let mut tunnel = TunnelHandshake::new(&proxy, "example.com", 443, HandshakeLimits::default())?;
//! let request = tunnel.poll_transmit().unwrap(); // write it to the proxy
//! assert!(request.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! // Feed what the proxy answers, in pieces of any size:
//! assert_eq!(tunnel.receive_data(b"HTTP/1.1 200 Connection established\r")?, Parsed::Partial);
//! assert_eq!(tunnel.receive_data(b"\n\r\n")?, Parsed::Complete(()));
//! // The stream is now a tunnel to example.com:443.
//! # Ok::<(), wsproto::proxy::ProxyError>(())
//! ```

mod env;
mod error;
mod http;
mod socks5;
mod url;

pub use env::{NoProxy, ProxyEnv};
pub use error::{ProxyError, Socks5Reply};
pub use http::HttpConnect;
pub use socks5::Socks5Connect;
pub use url::{Credentials, ProxyScheme, ProxyUrl};

use crate::prelude::*;
use crate::{HandshakeLimits, Parsed};

/// The setup of a tunnel through one proxy to `host:port`, whichever the
/// proxy's kind: an [`HttpConnect`] or a [`Socks5Connect`].
///
/// Drive it by repeating: write what [`poll_transmit`](Self::poll_transmit)
/// hands out, read from the proxy, [`receive_data`](Self::receive_data),
/// until it returns [`Parsed::Complete`] (or an error). No bytes may follow
/// the proxy's last answer: in a WebSocket (or TLS) connection the client
/// speaks first, so the target has nothing to say yet and such bytes are a
/// confused proxy's ([`ProxyError::UnexpectedData`]).
#[derive(Debug)]
pub struct TunnelHandshake {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Http(HttpConnect),
    Socks5(Socks5Connect),
}

impl TunnelHandshake {
    /// A tunnel through `proxy` to `host` (a DNS name or an IP address,
    /// IPv6 without brackets) and `port`.
    ///
    /// For a `socks5://` proxy the name must be resolved by the caller
    /// first and an IP address passed ([`ProxyUrl::resolves_locally`]);
    /// a name is sent as is, which is what `socks5h://` asks for.
    /// `limits` caps an HTTP proxy's response head, as it caps a WebSocket
    /// server's.
    pub fn new(
        proxy: &ProxyUrl,
        host: &str,
        port: u16,
        limits: HandshakeLimits,
    ) -> Result<Self, ProxyError> {
        let inner = match proxy.scheme() {
            ProxyScheme::Http | ProxyScheme::Https => {
                Inner::Http(HttpConnect::new(host, port, proxy.credentials(), limits))
            }
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                Inner::Socks5(Socks5Connect::new(host, port, proxy.credentials())?)
            }
        };
        Ok(TunnelHandshake { inner })
    }

    /// The next bytes to write to the proxy, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match &mut self.inner {
            Inner::Http(h) => h.poll_transmit(),
            Inner::Socks5(s) => s.poll_transmit(),
        }
    }

    /// Takes in bytes read from the proxy: [`Parsed::Partial`] until the
    /// tunnel is open (write what [`poll_transmit`](Self::poll_transmit)
    /// has, read more), then [`Parsed::Complete`]. An error is final.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<Parsed<()>, ProxyError> {
        match &mut self.inner {
            Inner::Http(h) => h.receive_data(data),
            Inner::Socks5(s) => s.receive_data(data),
        }
    }
}
