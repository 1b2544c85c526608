//! [`UpgradedIo`]: the connection hyper hands over after the upgrade.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The stream under an axum [`WebSocket`](super::WebSocket): hyper's
/// upgraded connection (HTTP/1.1 or an HTTP/2 stream, plain or TLS), with
/// the bytes hyper read past the request served first.
///
/// Taking the raw `TcpStream` back out of hyper's box was measured and
/// did not pay (docs/PERFORMANCE.md, "Behind axum"); the type stays
/// opaque so that it can change without an API change.
#[derive(Debug)]
pub struct UpgradedIo(TokioIo<Upgraded>);

impl UpgradedIo {
    pub(super) fn new(upgraded: Upgraded) -> UpgradedIo {
        UpgradedIo(TokioIo::new(upgraded))
    }
}

impl AsyncRead for UpgradedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for UpgradedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
