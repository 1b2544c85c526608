//! The write engine, written once: what waits to be written (the core's
//! own queue, or [`Chunks`] a split writer took out of it) goes out as
//! vectored writes, then the shutdown once the core asks for it, then a
//! flush. A write that fails or stalls past its limit ends the connection
//! (a frame may be half on the wire).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};

use super::runtime::{WriteIo, WriteLimit};
use crate::Connection;

/// Slices handed to one vectored write.
pub(crate) const MAX_SLICES: usize = 16;

/// Bytes waiting to be written, lent as slices for one vectored write.
pub(crate) trait Outgoing {
    /// Fills `dst` with the next slices; how many.
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize;
    /// Everything waiting, when it is one contiguous slice (small frames,
    /// the usual case): written without filling an array of slices.
    fn single(&self) -> Option<&[u8]>;
    /// Drops the first `n` bytes, written.
    fn advance(&mut self, n: usize);
    fn is_empty(&self) -> bool;
}

impl Outgoing for Connection {
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.transmit_slices(dst)
    }
    #[inline]
    fn single(&self) -> Option<&[u8]> {
        self.transmit_single()
    }
    #[inline]
    fn advance(&mut self, n: usize) {
        self.advance_transmit(n);
    }
    fn is_empty(&self) -> bool {
        self.buffered_amount() == 0
    }
}

/// A borrowed buffer written from its start.
impl Outgoing for &[u8] {
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        dst[0] = IoSlice::new(self);
        1
    }
    fn single(&self) -> Option<&[u8]> {
        Some(self)
    }
    fn advance(&mut self, n: usize) {
        *self = &self[n.min(self.len())..];
    }
    fn is_empty(&self) -> bool {
        <[u8]>::is_empty(self)
    }
}

/// Chunks taken out of the core (reference-counted, not copied).
#[derive(Debug, Default)]
pub(crate) struct Chunks(VecDeque<Bytes>, usize);

impl Chunks {
    pub(crate) fn push(&mut self, chunk: Bytes) {
        self.1 += chunk.len();
        self.0.push_back(chunk);
    }
    pub(crate) fn clear(&mut self) {
        self.0.clear();
        self.1 = 0;
    }
    /// Bytes not written yet.
    pub(crate) fn len(&self) -> usize {
        self.1
    }
}

impl Outgoing for Chunks {
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(&self.0) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }
    fn single(&self) -> Option<&[u8]> {
        match self.0.len() {
            1 => self.0.front().map(|chunk| &chunk[..]),
            _ => None,
        }
    }
    fn advance(&mut self, mut n: usize) {
        self.1 = self.1.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.0.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.0.pop_front();
        }
    }
    fn is_empty(&self) -> bool {
        self.1 == 0
    }
}

/// Whether the shutdown of the write side is still to come.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shutdown {
    #[default]
    NotYet,
    /// The core asked for it: once everything before it is out.
    Due,
    Done,
}

/// Writes all of `queue`, then (when due) shuts the write side down, then
/// flushes. `Ready(Ok)` once all is out; `Pending` with the waker
/// registered while the stream is full (within `limit`).
#[inline(always)]
pub(crate) fn poll_write_all<W, R: WriteIo<W>>(
    cx: &mut Context<'_>,
    rt: &mut R,
    stream: &mut W,
    queue: &mut impl Outgoing,
    shutdown: &mut Shutdown,
    limit: WriteLimit,
) -> Poll<io::Result<()>> {
    while !queue.is_empty() {
        let written = match queue.single() {
            Some(one) => rt.poll_write(cx, stream, &[IoSlice::new(one)], limit),
            None => {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = queue.slices(&mut slices);
                rt.poll_write(cx, stream, &slices[..n], limit)
            }
        };
        match ready!(written) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(written) => queue.advance(written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    if *shutdown == Shutdown::Due {
        ready!(rt.poll_flush(cx, stream, limit))?;
        ready!(rt.poll_shutdown(cx, stream, limit))?;
        *shutdown = Shutdown::Done;
    }
    rt.poll_flush(cx, stream, limit)
}

/// Writes all of `bytes` by `deadline` (a request, a response, a proxy's
/// greeting), flushed.
pub(crate) async fn write_all_by<W, R: WriteIo<W>>(
    rt: &mut R,
    stream: &mut W,
    bytes: &[u8],
    deadline: std::time::Instant,
) -> io::Result<()> {
    let mut rest = bytes;
    let mut shutdown = Shutdown::NotYet;
    let limit = WriteLimit::Deadline(deadline);
    std::future::poll_fn(|cx| poll_write_all(cx, rt, stream, &mut rest, &mut shutdown, limit)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_advance_across_and_within_chunks() {
        let mut chunks = Chunks::default();
        for part in [&b"abc"[..], b"", b"defg"] {
            chunks.push(Bytes::copy_from_slice(part));
        }
        chunks.advance(4);
        let mut slices = [IoSlice::new(&[]); 4];
        let n = chunks.slices(&mut slices);
        assert_eq!(n, 1);
        assert_eq!(&*slices[0], b"efg");
        chunks.advance(3);
        assert!(chunks.is_empty());
    }

    /// A writer that takes at most `per_call` bytes a call and records them.
    #[cfg(feature = "blocking")]
    struct Dribble {
        per_call: usize,
        got: Vec<u8>,
    }

    #[cfg(feature = "blocking")]
    impl std::io::Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.per_call);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[cfg(feature = "blocking")]
    impl std::io::Read for Dribble {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
    }

    #[cfg(feature = "blocking")]
    impl crate::blocking::Stream for Dribble {}

    #[cfg(feature = "blocking")]
    #[test]
    fn every_byte_goes_out_in_order_through_short_writes() {
        use crate::blocking::Blocking;
        for per_call in [1, 2, 5, 64] {
            let mut chunks = Chunks::default();
            let parts: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i % 7)]).collect();
            for part in &parts {
                chunks.push(Bytes::copy_from_slice(part));
            }
            let mut out = Dribble {
                per_call,
                got: Vec::new(),
            };
            let mut rt = Blocking::default();
            let mut shutdown = Shutdown::NotYet;
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let written = poll_write_all(
                &mut cx,
                &mut rt,
                &mut out,
                &mut chunks,
                &mut shutdown,
                WriteLimit::None,
            );
            assert!(
                matches!(written, Poll::Ready(Ok(()))),
                "{per_call} bytes a call"
            );
            assert_eq!(out.got, parts.concat(), "{per_call} bytes a call");
        }
    }
}
