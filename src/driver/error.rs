//! The one error type of the adapters (blocking and tokio).
//!
//! It keeps the core's split by fault — the peer broke the protocol
//! ([`ProtocolError`], with the close code we sent), a handshake failed
//! (with the HTTP status), the caller misused the API ([`UsageError`]) — and
//! adds what only real I/O can bring: `std::io::Error`, timeouts, a peer that
//! vanished, and the ordinary end of a connection. A server that refuses a
//! valid request on purpose gets [`Error::Refused`], apart from the
//! handshake failures.

use std::io;

use thiserror::Error;

use crate::handshake::{HandshakeError, HandshakeUsageError, HttpResponse, ResponseError};
use crate::proxy::ProxyError;
use crate::{CloseCode, CloseFrame, ProtocolError, UsageError};

/// Everything that can end or refuse a WebSocket operation of an adapter
/// (blocking or tokio: the same type, re-exported by both).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The closing handshake completed (or the connection had already
    /// ended): there is nothing more to read or send. Like tungstenite's
    /// `ConnectionClosed`, this is the normal way a read loop ends.
    #[error("the WebSocket connection is closed")]
    ConnectionClosed,
    /// The peer vanished: end of stream without a Close frame (RFC 6455
    /// §7.1.5: close code 1006).
    #[error("the peer closed the connection without a Close frame (1006)")]
    ConnectionLost,
    /// We sent a Close and the peer did not answer within
    /// [`Config::close_timeout`](crate::Config::close_timeout) (1006).
    #[error("no Close frame from the peer within the close timeout (1006)")]
    CloseTimeout,
    /// The keepalive ([`Config::ping_interval`](crate::Config::ping_interval))
    /// sent a Ping and nothing arrived from the peer within
    /// [`Config::pong_timeout`](crate::Config::pong_timeout): a Close with
    /// 1011 was sent and the connection is over
    /// ([`Timeout::Keepalive`](crate::Timeout::Keepalive) in the core). The
    /// peer broke no rule; it stopped answering.
    #[error("no traffic from the peer within the keepalive's pong timeout (1011)")]
    KeepaliveTimeout,
    /// A reconnecting client's server closed with a code after which it
    /// does not come back ([`ReconnectPolicy`](crate::adapter::ReconnectPolicy):
    /// a policy violation, data it cannot take, an application's 4xxx…);
    /// the frame says why. The client has stopped.
    #[error("the server closed with {} and the client stopped reconnecting", .0.code)]
    ServerClosed(CloseFrame),
    /// A message that had begun did not end within the message timeout
    /// ([`Config::message_timeout`](crate::Config::message_timeout), 60 s
    /// on servers by default): a Close with 1008 was sent and its bytes
    /// freed.
    #[error("a message did not complete within the message timeout (1008)")]
    MessageTimeout,
    /// The server's [`MemoryBudget`](crate::adapter::MemoryBudget) stayed
    /// spent longer than its wait limit while this connection waited to
    /// read more of a message: a Close with 1013 (Try Again Later) was sent
    /// and its bytes freed.
    #[error("no memory for the rest of the message within the budget's wait limit (1013)")]
    MemoryExhausted,
    /// The peer broke the protocol; a Close with
    /// [`ProtocolError::close_code`] was sent and the connection is over.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Server side: the client's request was not a valid upgrade (or was
    /// plain HTTP that the decision wanted to upgrade: 426). The matching
    /// error response ([`HandshakeError::response`]) was written to the
    /// client. A valid request refused on purpose is [`Error::Refused`]
    /// instead.
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// Client side: the server's response was not a valid `101` (a refusal
    /// keeps its status, headers and body: [`Error::response`]).
    #[error("handshake failed: {0}")]
    Response(ResponseError),
    /// The peer did not complete the opening handshake within the
    /// handshake timeout; the stream was dropped.
    #[error("handshake failed: the opening handshake did not complete in time")]
    HandshakeTimeout,
    /// The peer closed the stream before completing the opening handshake.
    #[error("handshake failed: end of stream during the opening handshake")]
    HandshakeEof,
    /// Server side: no WebSocket, because the server chose so — the
    /// client's request was valid, and the response this [`Refusal`]
    /// describes was written to it. Not a failure of either side: a 401 or
    /// 403 decided by [`accept_with`](crate::blocking::accept_with), the
    /// [`OriginPolicy`](crate::handshake::OriginPolicy)'s 403, or a page
    /// served to a plain HTTP request all end here, while a malformed
    /// request is [`Error::Handshake`].
    ///
    /// ```no_run
    /// use wsproto::blocking::{Decision, Error, accept_with};
    ///
    /// # let stream = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// match accept_with(stream, |request| match request.query_param("token") {
    ///     Some(token) if token == "s3cret" => Decision::accept(),
    ///     _ => Decision::reject(401).header("WWW-Authenticate", "Bearer"),
    /// }) {
    ///     Ok(ws) => { /* serve */ }
    ///     Err(Error::Refused(refusal)) => println!("refused as decided: {refusal}"),
    ///     Err(e) => eprintln!("handshake failed: {e}"),
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The caller asked for something the protocol does not allow now
    /// (sending after Close, an oversized Ping, …). Nothing changed.
    #[error("usage error: {0}")]
    Usage(#[from] UsageError),
    /// An invalid URL, header, subprotocol or status given to the adapter.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] HandshakeUsageError),
    /// The proxy could not be used or did not open the tunnel (client
    /// side; see [`ProxyError`]). Its credentials are never in the message.
    #[error("proxy: {0}")]
    Proxy(#[from] ProxyError),
    /// A `wss://` URL without the `tls` feature.
    #[error("wss:// URLs need the `tls` feature of wsproto")]
    TlsUnavailable,
    /// A TLS failure (bad certificate, handshake refused, …).
    #[cfg(feature = "tls")]
    #[error("TLS error: {0}")]
    Tls(#[from] rustls::Error),
    /// The transport failed (connection reset, refused, timed out…).
    #[error("I/O error: {0}")]
    Io(io::Error),
}

/// Why a server refused a valid request on purpose ([`Error::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The decision of [`accept_with`](crate::blocking::accept_with) answered with
    /// an HTTP response instead of the upgrade
    /// ([`Decision::reject`](crate::blocking::Decision::reject),
    /// [`Decision::respond`](crate::blocking::Decision::respond)): a refusal such as
    /// 401, or a page for a plain HTTP request.
    #[error("answered with HTTP status {status}, as decided")]
    Decided {
        /// The status that was sent.
        status: u16,
    },
    /// The [`OriginPolicy`](crate::handshake::OriginPolicy) refused the
    /// request's `Origin` with 403, before the decision was asked. Holds
    /// the origin when there was exactly one.
    #[error("origin {} refused by the origin policy (403)", .0.as_deref().unwrap_or("(none or repeated)"))]
    Origin(Option<String>),
    /// The server's [`ConnectionSet`](crate::adapter::ConnectionSet) is
    /// shutting down: answered `503 Service Unavailable` with
    /// `Retry-After: 1`, so that the client tries again (another instance,
    /// or this one once restarted).
    #[error("the server is shutting down (503)")]
    ShuttingDown,
}

impl Refusal {
    /// The HTTP status that was sent.
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::Decided { status } => *status,
            Refusal::Origin(_) => 403,
            Refusal::ShuttingDown => 503,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        #[cfg(feature = "tls")]
        let e = match split_tls(e) {
            Ok(tls) => return Error::Tls(tls),
            Err(e) => e,
        };
        Error::Io(e)
    }
}

/// rustls reports record-layer errors as `InvalidData` around its own
/// error; this takes it out so TLS failures are told apart from I/O ones.
#[cfg(feature = "tls")]
fn split_tls(e: io::Error) -> Result<rustls::Error, io::Error> {
    if !e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return Err(e);
    }
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => inner
            .downcast::<rustls::Error>()
            .map(|tls| *tls)
            .map_err(|other| io::Error::new(kind, other)),
        None => Err(io::Error::from(kind)),
    }
}

impl Error {
    /// The close code that describes how the connection ended, when it
    /// ended with one: the code we sent for a protocol error, 1011 for a
    /// keepalive timeout, 1006 for a vanished peer or a close timeout,
    /// 1000 after a normal close.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::ConnectionClosed => Some(CloseCode::NORMAL),
            Error::ServerClosed(frame) => Some(frame.code),
            Error::ConnectionLost | Error::CloseTimeout => Some(CloseCode::ABNORMAL),
            Error::KeepaliveTimeout => Some(CloseCode::INTERNAL_ERROR),
            Error::MessageTimeout => Some(CloseCode::POLICY),
            Error::MemoryExhausted => Some(CloseCode::TRY_AGAIN_LATER),
            Error::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// The HTTP status of a refused or failed handshake: the one a server
    /// sent to the client (for a refusal as decided, [`Error::Refused`], or
    /// an invalid request), the one a client received instead of `101`, or
    /// the one an HTTP proxy refused the tunnel with (407, 403, 502…).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Refused(refusal) => Some(refusal.http_status()),
            Error::Handshake(e) => Some(e.http_status()),
            Error::Response(ResponseError::NotSwitching(r)) => Some(r.status()),
            Error::Proxy(e) => e.http_status(),
            _ => None,
        }
    }

    /// Client side: the server's response when it refused the upgrade
    /// (status, headers, the body bytes that had arrived).
    pub fn response(&self) -> Option<&HttpResponse> {
        match self {
            Error::Response(ResponseError::NotSwitching(r)) => Some(r),
            _ => None,
        }
    }

    /// Whether this is the normal end of a connection
    /// ([`Error::ConnectionClosed`]).
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::ConnectionClosed)
    }

    /// Whether the connection is over after this error. Not fatal: a
    /// refused call ([`Error::Usage`], [`Error::InvalidRequest`]) and a
    /// read that would block ([`Error::Io`] with
    /// [`WouldBlock`](io::ErrorKind::WouldBlock): a non-blocking stream had
    /// nothing yet). Reads are exact, so the next read goes on where this
    /// one stopped.
    ///
    /// Every write error is fatal, a write timeout
    /// ([the write timeout](crate::adapter::WebSocket::set_write_timeout), reported as
    /// [`TimedOut`](io::ErrorKind::TimedOut)) included: the frame being
    /// written may be half on the wire (and over TLS already encrypted), so
    /// no retry could continue it. The adapter does not touch the stream
    /// again, and later calls return [`Error::ConnectionLost`].
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Usage(_) | Error::InvalidRequest(_) => false,
            Error::Io(e) => e.kind() != io::ErrorKind::WouldBlock,
            _ => true,
        }
    }
}

/// Whether an I/O error is a read or write timeout firing.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
