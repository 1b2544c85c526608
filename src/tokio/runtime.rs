//! [`Tokio`]: how the tokio adapter waits — `Pending` with the task's waker
//! registered, and a timer (tokio's clock, which tests can pause) armed at
//! the deadline. A timer is allocated the first time a deadline needs one:
//! a connection without deadlines (no keepalive, not closing, no write
//! blocked) holds none.

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::maybe_tls::MaybeTlsStream;
use crate::Connection;
use crate::driver::recv::SMALL_READ;
use crate::driver::runtime::{Connect, Read, ReadIo, Runtime, WriteIo, WriteLimit, sealed};

/// The tokio runtime: the value kept beside each stream holds its timers
/// and when a blocked write gives up.
#[derive(Debug, Default)]
pub struct Tokio {
    /// The read deadline's timer (and any other wait of the read loop).
    timer: Timer,
    /// When the blocked write gives up: set at the first `Pending` without
    /// progress, cleared by progress.
    stalled_until: Option<Instant>,
    write_timer: Timer,
}

/// A copy for the other half of a split stream: the same settings, timers
/// of its own.
impl Clone for Tokio {
    fn clone(&self) -> Self {
        Tokio::default()
    }
}

impl sealed::Sealed for Tokio {}

impl Runtime for Tokio {
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        self.timer.poll_until(cx, deadline)
    }
}

impl Tokio {
    /// After a read returned `Pending`: `Ok(None)` once `deadline` has
    /// passed, otherwise `Pending` with the timer armed.
    #[inline]
    fn poll_read_deadline(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        match deadline {
            Some(deadline) => {
                ready!(self.timer.poll_until(cx, deadline));
                Poll::Ready(Ok(None))
            }
            None => Poll::Pending,
        }
    }

    /// After a write returned `Pending`: `Pending` until `limit` passes,
    /// then the timeout error.
    fn poll_stalled<T>(&mut self, cx: &mut Context<'_>, limit: WriteLimit) -> Poll<io::Result<T>> {
        let deadline = match limit {
            WriteLimit::None => return Poll::Pending,
            WriteLimit::Stall(stall) => *self
                .stalled_until
                .get_or_insert_with(|| Self::now() + stall),
            WriteLimit::Deadline(deadline) => deadline,
        };
        ready!(self.write_timer.poll_until(cx, deadline));
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }

    /// A write step's result, with the stall bookkeeping: progress clears
    /// it, `Pending` runs it.
    fn written<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
        limit: WriteLimit,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => self.poll_stalled(cx, limit),
            ready => {
                self.stalled_until = None;
                ready
            }
        }
    }
}

/// One read into a buffer on the stack, whose bytes go to `feed`.
fn poll_read_stack<S: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    size: usize,
    feed: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    let mut buf = [MaybeUninit::<u8>::uninit(); SMALL_READ];
    let mut read = ReadBuf::uninit(&mut buf[..size.min(SMALL_READ)]);
    ready!(Pin::new(stream).poll_read(cx, &mut read))?;
    let input = read.filled();
    if !input.is_empty() {
        feed(input);
    }
    Poll::Ready(Ok(input.len()))
}

impl<S: AsyncRead + Unpin> ReadIo<S> for Tokio {
    /// Into a buffer on the stack while reads are small (nothing is
    /// reserved in the core while the stream has nothing to give),
    /// straight into the core's buffer once they fill it (no copy, no
    /// zero-filling).
    #[inline]
    fn poll_read_core(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        conn: &mut Connection,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        let result = if size <= SMALL_READ {
            // A violation is sticky in the core: its Close is queued, and
            // the read loop reports it once earlier messages are out.
            poll_read_stack(cx, stream, size, |input| {
                let _ = conn.receive_data(input);
            })
        } else {
            let result = {
                let mut space = conn.receive_buf_mut(size);
                pin!(stream.read_buf(&mut space)).poll(cx)
            };
            // Commits what arrived, or gives the lent space back.
            let n = match &result {
                Poll::Ready(Ok(n)) => *n,
                _ => 0,
            };
            let _ = conn.receive_commit(n);
            result
        };
        match result {
            Poll::Ready(read) => Poll::Ready(read.map(Some)),
            Poll::Pending => self.poll_read_deadline(cx, deadline),
        }
    }

    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        size: usize,
        deadline: Option<Instant>,
        feed: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<Read>> {
        match poll_read_stack(cx, stream, size, feed) {
            Poll::Ready(read) => Poll::Ready(read.map(Some)),
            Poll::Pending => self.poll_read_deadline(cx, deadline),
        }
    }

    fn poll_read_vec(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        buf.reserve(max);
        let result = pin!(stream.read_buf(&mut buf.limit(max))).poll(cx);
        match result {
            Poll::Ready(read) => Poll::Ready(read.map(Some)),
            Poll::Pending => self.poll_read_deadline(cx, deadline),
        }
    }
}

impl<S: AsyncWrite + Unpin> WriteIo<S> for Tokio {
    /// A single slice (small frames, the usual case) goes by plain
    /// `poll_write`.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        slices: &[IoSlice<'_>],
        limit: WriteLimit,
    ) -> Poll<io::Result<usize>> {
        let result = match slices {
            [one] => Pin::new(stream).poll_write(cx, one),
            more => Pin::new(stream).poll_write_vectored(cx, more),
        };
        self.written(cx, result, limit)
    }

    fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>> {
        let result = Pin::new(stream).poll_flush(cx);
        self.written(cx, result, limit)
    }

    fn poll_shutdown(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>> {
        let result = Pin::new(stream).poll_shutdown(cx);
        self.written(cx, result, limit)
    }
}

impl Connect for Tokio {
    type Tcp = TcpStream;
    type Stream = MaybeTlsStream<TcpStream>;

    async fn sleep(delay: Duration) {
        tokio::time::sleep(delay).await;
    }

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }

    async fn tcp_connect(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        match timeout {
            Some(t) => match tokio::time::timeout(t, TcpStream::connect(addr)).await {
                Ok(attempt) => attempt,
                Err(_elapsed) => Err(io::ErrorKind::TimedOut.into()),
            },
            None => TcpStream::connect(addr).await,
        }
    }

    fn plain(tcp: TcpStream) -> io::Result<Self::Stream> {
        tcp.set_nodelay(true)?;
        Ok(MaybeTlsStream::Plain(tcp))
    }

    #[cfg(feature = "tls")]
    async fn tls(
        stream: Self::Stream,
        host: &str,
        config: std::sync::Arc<rustls::ClientConfig>,
        deadline: Instant,
    ) -> Result<Self::Stream, crate::driver::Error> {
        use super::tls::client_tls;
        let deadline = tokio::time::Instant::from_std(deadline);
        Ok(match stream {
            MaybeTlsStream::Plain(tcp) => {
                MaybeTlsStream::Tls(Box::new(client_tls(tcp, host, config, deadline).await?))
            }
            MaybeTlsStream::Tls(outer) => MaybeTlsStream::TlsInTls(Box::new(
                client_tls(*outer, host, config, deadline).await?,
            )),
            MaybeTlsStream::TlsInTls(_) => {
                return Err(io::Error::other("TLS is already two layers deep").into());
            }
        })
    }
}

/// A timer, allocated the first time a deadline needs one.
#[derive(Debug, Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// Ready once `deadline` has passed; otherwise the waker is registered
    /// for it.
    fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let at = tokio::time::Instant::from_std(deadline);
        let sleep = match &mut self.0 {
            Some(sleep) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                sleep
            }
            empty => empty.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        sleep.as_mut().poll(cx)
    }
}
