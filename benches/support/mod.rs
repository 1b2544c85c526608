//! What the comparison benches share: the input frames, an in-memory stream
//! every crate reads from and writes to the same way, and a minimal
//! executor for `fastwebsockets` (whose API is async).
//!
//! Each bench binary uses part of this module.
#![allow(dead_code)]

pub mod receive;
pub mod send;

// The tests' child processes and ports (redis_chat starts redis-server
// and axum_chat instances as the tests do).
#[path = "../../tests/support/child.rs"]
pub mod child;
#[path = "../../tests/support/net.rs"]
pub mod net;
#[path = "../../tests/support/procfs.rs"]
pub mod procfs;

use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};

/// The masking key of every client frame in the inputs.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `count` final frames of `payload`, masked like a client sends them.
pub fn masked_frames(opcode: OpCode, payload: &[u8], count: usize) -> Vec<u8> {
    let header = FrameHeader {
        mask: Some(KEY),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let mut head = [0; MAX_HEADER_LEN];
    let used = header.encode(&mut head);
    let mut body = payload.to_vec();
    apply_mask(&mut body, KEY);
    let mut one = head[..used].to_vec();
    one.extend_from_slice(&body);
    one.repeat(count)
}

/// A 16-byte text payload (ASCII, as chat and JSON traffic mostly is).
pub const SMALL_TEXT: &[u8; 16] = b"{\"seq\":12345678}";

/// The span of scratch offsets the stream's writes rotate through.
const SINK_RING: usize = 128 << 10;

/// A byte stream over memory: reads come from `input` (end of stream after
/// it), writes are copied into a scratch buffer the way a socket copies
/// into the kernel, then forgotten.
pub struct MemStream<'a> {
    input: &'a [u8],
    sink: Vec<u8>,
    pub written: usize,
}

impl<'a> MemStream<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        MemStream {
            input,
            sink: vec![0; 2 * SINK_RING],
            written: 0,
        }
    }

    fn copy_out(&mut self, data: &[u8]) -> usize {
        // Copy what fits (a socket's send buffer takes a bounded amount per
        // call too), at the offset where the last write ended, wrapping
        // like a ring: the copy's cost then averages over alignments
        // (libc's `rep movsb` copy is several times slower for some
        // source/destination offsets, which a fixed offset would turn into
        // a win or a loss for whichever crate happens to hit them).
        let at = self.written % SINK_RING;
        let n = data.len().min(self.sink.len() - at);
        self.sink[at..at + n].copy_from_slice(&data[..n]);
        // The copy must happen even though nothing reads the scratch.
        std::hint::black_box(&mut self.sink);
        self.written += n;
        n
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl MemStream<'_> {
    /// A read into uninitialised spare capacity, as tokio's `read_buf`
    /// does: what fits of the input, appended with `put_slice`.
    pub fn read_buf(&mut self, buf: &mut impl bytes::BufMut) -> usize {
        let n = self.input.len().min(buf.remaining_mut());
        buf.put_slice(&self.input[..n]);
        self.input = &self.input[n..];
        n
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Ok(self.copy_out(data))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs {
            let n = self.copy_out(buf);
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl wsproto::blocking::Stream for MemStream<'_> {}

impl tokio::io::AsyncRead for MemStream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(this.input.len());
        buf.put_slice(&this.input[..n]);
        this.input = &this.input[n..];
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().copy_out(data)))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future whose I/O never waits (it is all in memory).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
