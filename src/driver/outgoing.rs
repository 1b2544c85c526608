//! What waits to be written, lent as slices for vectored writes (the
//! core's own queue, or [`Chunks`] a split writer took out of it), and the
//! blocking write engine: [`write_all`] writes
//! what an [`Outgoing`] queue lends, several slices per system call, from
//! the core's own queue (the unsplit socket) or from [`Chunks`] the split
//! writer took out of it.

use std::collections::VecDeque;
use std::io::IoSlice;
#[cfg(feature = "blocking")]
use std::io::{self, Write};

use bytes::{Buf, Bytes};

use crate::Connection;

/// Slices handed to one vectored write.
pub(crate) const MAX_SLICES: usize = 16;

/// Bytes waiting to be written, lent as slices for one vectored write.
pub(crate) trait Outgoing {
    /// Fills `dst` with the next slices; how many.
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize;
    /// Drops the first `n` bytes, written.
    fn advance(&mut self, n: usize);
    fn is_empty(&self) -> bool;
}

impl Outgoing for Connection {
    fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.transmit_slices(dst)
    }
    fn advance(&mut self, n: usize) {
        self.advance_transmit(n);
    }
    fn is_empty(&self) -> bool {
        self.buffered_amount() == 0
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
    #[cfg(feature = "tokio")]
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

/// Writes all of `queue`: several slices per system call, payloads not
/// copied; a single slice (small frames, the usual case) by plain `write`,
/// which skips the kernel's import of an iovec array.
#[cfg(feature = "blocking")]
pub(crate) fn write_all<W: Write + ?Sized>(
    stream: &mut W,
    queue: &mut impl Outgoing,
) -> io::Result<()> {
    while !queue.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = queue.slices(&mut slices);
        let result = match &slices[..n] {
            [one] => stream.write(one),
            more => stream.write_vectored(more),
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => queue.advance(written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
    struct Dribble {
        per_call: usize,
        got: Vec<u8>,
    }

    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.per_call);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_all_writes_every_byte_in_order_through_short_writes() {
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
            write_all(&mut out, &mut chunks).unwrap();
            assert_eq!(out.got, parts.concat(), "{per_call} bytes a call");
        }
    }
}
