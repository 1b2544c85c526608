//! The client side: [`connect`], [`ClientBuilder`]'s `connect` and
//! `handshake`, [`client_handshake`]; the plan and the checks are the
//! shared driver's.

use std::net::TcpStream;

use super::maybe_tls::MaybeTlsStream;
use super::runtime::{Blocking, block_on};
use super::stream::Stream;
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
    let head = Head::start::<Blocking>(DEFAULT_TIMEOUT);
    block_on(client::handshake(
        stream,
        Blocking::default(),
        request,
        &Setup::default(),
        head,
    ))
}

impl ClientBuilder {
    /// Connects (see the type's docs for the steps).
    pub fn connect(&self) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Established), Error> {
        block_on(self.connect_on())
    }

    /// Runs the handshake this builder describes over a stream the caller
    /// connected (the URL gives `Host` and the path only).
    pub fn handshake<S: Stream>(&self, stream: S) -> Result<(WebSocket<S>, Established), Error> {
        block_on(self.handshake_on(stream))
    }
}
