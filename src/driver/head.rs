//! The I/O of an opening handshake, either role, within one deadline:
//! reading a head as it arrives, writing a request or a response, and the
//! lingering close after a refusal.

use std::future::poll_fn;
use std::io;
use std::time::{Duration, Instant};

use super::error::Error;
use super::runtime::{ReadIo, Runtime, WriteIo, WriteLimit};
use super::write::{Shutdown, poll_write_all, write_all_by};

/// Bytes of room made per read while the head arrives.
const HEAD_READ: usize = 2 << 10;

/// How long and how much a refused connection is drained before it is
/// dropped.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 << 10;

/// A handshake in progress: what has arrived, and the deadline for
/// reading and writing.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) buf: Vec<u8>,
    pub(crate) deadline: Instant,
}

impl Head {
    /// Starts the clock: everything until `timeout` from now.
    pub(crate) fn start<R: Runtime>(timeout: Duration) -> Self {
        Head {
            buf: Vec::new(),
            deadline: R::now() + timeout,
        }
    }

    /// Reads more bytes, failing with [`Error::HandshakeTimeout`] at the
    /// deadline and with [`Error::HandshakeEof`] at the end of stream.
    pub(crate) async fn read_more<S, R: ReadIo<S>>(
        &mut self,
        rt: &mut R,
        stream: &mut S,
    ) -> Result<(), Error> {
        loop {
            let read = poll_fn(|cx| {
                rt.poll_read_vec(cx, stream, &mut self.buf, HEAD_READ, Some(self.deadline))
            })
            .await;
            return match read {
                Ok(None) => Err(Error::HandshakeTimeout),
                Ok(Some(0)) => Err(Error::HandshakeEof),
                Ok(Some(_)) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Writes all of `bytes` (a request or a response) within the deadline.
    pub(crate) async fn write<S, R: WriteIo<S>>(
        &self,
        rt: &mut R,
        stream: &mut S,
        bytes: &[u8],
    ) -> Result<(), Error> {
        match write_all_by(rt, stream, bytes, self.deadline).await {
            Err(e) if super::error::is_timeout(&e) => Err(Error::HandshakeTimeout),
            other => Ok(other?),
        }
    }

    /// Writes a refusal, shuts the write half down so the client sees the
    /// end of it, and lingers. Errors do not matter: the connection is
    /// being dropped.
    pub(crate) async fn refuse<S, R: ReadIo<S> + WriteIo<S>>(
        &self,
        rt: &mut R,
        stream: &mut S,
        response: &[u8],
    ) {
        let mut rest = response;
        let mut shutdown = Shutdown::Due;
        let limit = WriteLimit::Deadline(self.deadline);
        let sent = poll_fn(|cx| poll_write_all(cx, rt, stream, &mut rest, &mut shutdown, limit));
        if sent.await.is_ok() {
            linger(rt, stream).await;
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
/// made every accept future (and so every connection's task, which keeps
/// the space of its largest await for its whole life) 4 KiB larger.
async fn linger<S, R: ReadIo<S>>(rt: &mut R, stream: &mut S) {
    let deadline = R::now() + LINGER_TIME;
    let mut buf = Vec::new();
    let mut drained = 0;
    while drained < LINGER_BYTES {
        buf.clear();
        let read = poll_fn(|cx| rt.poll_read_vec(cx, stream, &mut buf, 4 << 10, Some(deadline)));
        match read.await {
            Ok(Some(n)) if n > 0 => drained += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}
