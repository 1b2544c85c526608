//! Reading an HTTP head from an async stream within a deadline, shared by
//! both roles of the opening handshake, and the lingering close after a
//! refusal. The deadlines are on tokio's clock, so tests can pause it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::driver::error::{Error, HandshakeFailure};

/// Bytes of room made per read while the head arrives.
const HEAD_READ: usize = 2 << 10;

/// How long and how much a refused connection is drained before it is
/// dropped.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 << 10;

/// A handshake in progress: what has arrived, and the deadline for
/// reading and writing.
#[derive(Debug)]
pub(super) struct HeadReader {
    pub(super) buf: Vec<u8>,
    deadline: Instant,
}

impl HeadReader {
    /// Starts the clock: everything until [`deadline`](Self::deadline).
    pub(super) fn start(timeout: Duration) -> Self {
        HeadReader {
            buf: Vec::new(),
            deadline: Instant::now() + timeout,
        }
    }

    /// When the handshake must be over.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Reads more bytes, failing with [`HandshakeFailure::Timeout`] at the
    /// deadline and with [`HandshakeFailure::Eof`] at the end of stream.
    /// Cancel safe: what a read brought is in `buf`.
    pub(super) async fn read_more<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<(), Error> {
        self.buf.reserve(HEAD_READ);
        match timeout_at(self.deadline, stream.read_buf(&mut self.buf)).await {
            Err(_elapsed) => Err(HandshakeFailure::Timeout.into()),
            Ok(Ok(0)) => Err(HandshakeFailure::Eof.into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Writes all of `bytes` (a request or a response) within the deadline.
    pub(super) async fn write<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match timeout_at(self.deadline, write).await {
            Err(_elapsed) => Err(HandshakeFailure::Timeout.into()),
            Ok(result) => Ok(result?),
        }
    }

    /// Writes a response, then shuts the write half down so the client
    /// sees the end of it, and lingers. Errors do not matter: the
    /// connection is being dropped.
    pub(super) async fn send_and_close<S>(&self, stream: &mut S, bytes: &[u8])
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if self.write(stream, bytes).await.is_ok()
            && matches!(
                timeout_at(self.deadline, stream.shutdown()).await,
                Ok(Ok(()))
            )
        {
            linger(stream).await;
        }
    }
}

/// Lingering close, as HTTP servers do: closing a socket with unread
/// input (a request body, early frames) sends a reset, which can destroy
/// the response before the client has read it. So what the client still
/// sends is read and discarded until it closes, bounded in bytes (256
/// KiB) and time (1 s).
///
/// The buffer is on the heap, allocated only when lingering: an array here
/// made every `accept` future (and so every connection's task, which keeps
/// the space of its largest await for its whole life) 4 KiB larger.
async fn linger<S: AsyncRead + Unpin>(stream: &mut S) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut buf = vec![0u8; 4 << 10];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return,
            Ok(Ok(n)) => drained += n,
        }
    }
}
