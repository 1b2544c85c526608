//! [`UpgradedIo`]: the connection hyper hands over after the upgrade.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The stream under an axum [`WebSocket`](super::WebSocket): the
/// `TcpStream` itself when hyper's HTTP/1.1 server ran on a
/// `TokioIo<TcpStream>` (hyper's boxed IO is skipped), otherwise hyper's
/// upgraded connection: an HTTP/2 stream, TLS, or `axum::serve`, whose
/// hyper-util builder wraps the stream in a private type that cannot be
/// taken back out.
#[derive(Debug)]
pub struct UpgradedIo(Inner);

#[derive(Debug)]
enum Inner {
    Tcp(TcpStream),
    Upgraded(TokioIo<Upgraded>),
}

impl UpgradedIo {
    /// Takes the raw TCP stream out of hyper's box when that is what is in
    /// it; the bytes hyper read past the request are the first frames.
    pub(super) fn new(upgraded: Upgraded) -> (UpgradedIo, Bytes) {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => (
                UpgradedIo(Inner::Tcp(parts.io.into_inner())),
                parts.read_buf,
            ),
            Err(upgraded) => (
                UpgradedIo(Inner::Upgraded(TokioIo::new(upgraded))),
                Bytes::new(),
            ),
        }
    }

    /// Whether the socket runs on the raw `TcpStream` (HTTP/1.1 from
    /// `axum::serve`) rather than through hyper's upgraded IO.
    pub fn is_tcp(&self) -> bool {
        matches!(self.0, Inner::Tcp(_))
    }
}

impl AsyncRead for UpgradedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Upgraded(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpgradedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Upgraded(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Inner::Upgraded(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.0 {
            Inner::Tcp(s) => s.is_write_vectored(),
            Inner::Upgraded(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp(s) => Pin::new(s).poll_flush(cx),
            Inner::Upgraded(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Upgraded(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
