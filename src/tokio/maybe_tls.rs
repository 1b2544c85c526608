//! [`MaybeTlsStream`]: a stream that is plain or wrapped in TLS; what
//! [`connect`](super::connect) returns and [`accept_tls`] makes for a TLS
//! server. The same variants as the blocking adapter's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "tls")]
pub use super::tls::{accept_tls, connect_tls};

/// A TLS stream of tokio-rustls, either role.
#[cfg(feature = "tls")]
pub type TlsStream<S> = tokio_rustls::TlsStream<S>;

/// A stream that is plain or wrapped in TLS (tokio-rustls), as
/// [`connect`](super::connect) returns for `ws://` and `wss://` URLs and
/// [`accept_tls`] for a TLS server.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// No encryption (`ws://`).
    Plain(S),
    /// TLS, either role (`wss://`, or a server that accepted TLS; also
    /// `ws://` through an `https://` proxy, the TLS being the proxy's).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<S>>),
    /// `wss://` through an `https://` proxy: TLS with the server inside
    /// TLS with the proxy.
    #[cfg(feature = "tls")]
    TlsInTls(Box<TlsStream<TlsStream<S>>>),
}

/// Does the same with whichever stream is inside (boxed TLS streams are
/// `Unpin`, so each is pinned in place).
macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            MaybeTlsStream::Plain($s) => $body,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls($s) => $body,
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls($s) => $body,
        }
    };
}

impl<S> MaybeTlsStream<S> {
    /// The socket under any TLS layer, e.g. for its peer address.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.get_ref().0,
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.get_ref().0.get_ref().0,
        }
    }

    /// Whether the bytes are encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    /// Forwarded, so a frame's header and payload go out in one write
    /// (one TLS record) when the stream can.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}
