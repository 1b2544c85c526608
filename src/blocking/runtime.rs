//! [`Blocking`]: how the blocking adapter waits — in the system call, bounded
//! by the socket's read and write timeouts, which it sets to the next
//! deadline. The shared driver's `poll_*` functions and `async fn`s then
//! never return `Pending`; [`block_on`] runs them on the calling thread.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::maybe_tls::MaybeTlsStream;
use super::stream::{ReadHalf, WriteHalf};
use crate::Connection;
use crate::driver::error::is_timeout;
use crate::driver::recv::SMALL_READ;
use crate::driver::runtime::{Connect, Read, ReadIo, Runtime, WriteIo, WriteLimit, sealed};

/// The blocking runtime: a thread waits in each system call, bounded by
/// the socket's timeouts. The value kept beside each stream remembers the
/// timeouts last set on it, so that a read or write changes them (a
/// system call) only when a deadline needs it.
#[derive(Debug, Default, Clone)]
pub struct Blocking {
    read_timeout: ReadTimeout,
    /// The write timeout last set (`None`: not set by us yet).
    write_timeout: Option<Option<Duration>>,
    /// The split reader's buffer (a whole socket reads into the core's).
    buf: Vec<u8>,
}

impl sealed::Sealed for Blocking {}

impl Runtime for Blocking {
    fn now() -> Instant {
        Instant::now()
    }

    /// Reads carry their deadline; a wait of the driver's own (for memory
    /// in a server's budget) parks the thread in [`block_on`] until its
    /// waker is called or the deadline passes.
    fn poll_until(&mut self, _cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if deadline <= Instant::now() {
            return Poll::Ready(());
        }
        PARK_UNTIL.with(|until| {
            let earliest = until.get().map_or(deadline, |at| at.min(deadline));
            until.set(Some(earliest));
        });
        Poll::Pending
    }

    /// A thread blocked in `read(2)` cannot be woken.
    fn reads_are_woken() -> bool {
        false
    }
}

impl Blocking {
    /// Sets the read timeout for `deadline` (when it needs changing) and
    /// reads; a timeout that fires is `Ok(None)`. A stream that reports
    /// `WouldBlock`/`TimedOut` without having waited for the timeout we set
    /// (a non-blocking socket, or one with a timeout of its own) gets
    /// `WouldBlock` back, not a busy loop.
    fn read_by<H: ReadHalf + ?Sized>(
        &mut self,
        stream: &mut H,
        deadline: Option<Instant>,
        read: impl FnOnce(&mut H) -> io::Result<usize>,
    ) -> io::Result<Read> {
        let now = deadline.map(|_| Instant::now());
        if let Some(timeout) = self.read_timeout.update(deadline, now) {
            stream.set_read_timeout(timeout)?;
        }
        match read(stream) {
            Ok(n) => Ok(Some(n)),
            Err(e) if is_timeout(&e) => match now {
                Some(start) if self.read_timeout.waited(start, Instant::now()) => Ok(None),
                _ => Err(io::Error::new(io::ErrorKind::WouldBlock, e)),
            },
            Err(e) => Err(e),
        }
    }

    /// Sets the write timeout `limit` asks for, when it needs changing.
    fn limit_writes<W: WriteHalf + ?Sized>(
        &mut self,
        stream: &mut W,
        limit: WriteLimit,
    ) -> io::Result<()> {
        let timeout = match limit {
            WriteLimit::None => None,
            WriteLimit::Stall(stall) => Some(stall),
            WriteLimit::Deadline(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Some(left)
            }
        };
        if self.write_timeout != Some(timeout) {
            stream.set_write_timeout(timeout)?;
            self.write_timeout = Some(timeout);
        }
        Ok(())
    }
}

impl<H: ReadHalf> ReadIo<H> for Blocking {
    /// Small reads go through a buffer on the stack and then into the
    /// core, so a thread waiting for input holds no receive buffer; large
    /// ones straight into the core's buffer (no copy).
    fn poll_read_core(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut H,
        conn: &mut Connection,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        let read = if size <= SMALL_READ {
            READ_BUF.with_borrow_mut(|buf| {
                let read = self.read_by(stream, deadline, |s| s.read(&mut buf[..size]));
                if let Ok(Some(n @ 1..)) = read {
                    // A violation is sticky in the core: its Close is
                    // queued, and the read loop reports it once earlier
                    // messages are out.
                    let _ = conn.receive_data(&buf[..n]);
                }
                read
            })
        } else {
            let buf = conn.receive_buffer(size);
            let read = self.read_by(stream, deadline, |s| s.read(buf));
            let _ = conn.receive_commit(read.as_ref().ok().and_then(|n| *n).unwrap_or(0));
            read
        };
        Poll::Ready(read)
    }

    fn poll_read_with(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut H,
        size: usize,
        deadline: Option<Instant>,
        feed: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<Read>> {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let read = self.read_by(stream, deadline, |s| s.read(&mut buf[..size]));
        if let Ok(Some(n @ 1..)) = read {
            feed(&buf[..n]);
        }
        self.buf = buf;
        Poll::Ready(read)
    }

    fn poll_read_vec(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut H,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            return Poll::Ready(Ok(None));
        }
        let start = buf.len();
        buf.resize(start + max, 0);
        let read = self.read_by(stream, deadline, |s| s.read(&mut buf[start..]));
        buf.truncate(start + read.as_ref().ok().and_then(|n| *n).unwrap_or(0));
        Poll::Ready(read)
    }
}

impl<W: WriteHalf> WriteIo<W> for Blocking {
    /// A single slice (small frames, the usual case) goes by plain `write`,
    /// which skips the kernel's import of an iovec array.
    fn poll_write(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut W,
        slices: &[IoSlice<'_>],
        limit: WriteLimit,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.limit_writes(stream, limit)
                .and_then(|()| match slices {
                    [one] => stream.write(one),
                    more => stream.write_vectored(more),
                }),
        )
    }

    fn poll_flush(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut W,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(
            self.limit_writes(stream, limit)
                .and_then(|()| stream.flush()),
        )
    }

    fn poll_shutdown(
        &mut self,
        _cx: &mut Context<'_>,
        stream: &mut W,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(
            self.limit_writes(stream, limit)
                .and_then(|()| stream.shutdown_write()),
        )
    }
}

impl Connect for Blocking {
    type Tcp = TcpStream;
    type Stream = MaybeTlsStream<TcpStream>;

    async fn sleep(delay: Duration) {
        std::thread::sleep(delay);
    }

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }

    async fn tcp_connect(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
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
        config: Arc<rustls::ClientConfig>,
        deadline: Instant,
    ) -> Result<Self::Stream, crate::driver::Error> {
        use super::tls::client_tls;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(crate::driver::error::Error::HandshakeTimeout);
        }
        Ok(match stream {
            MaybeTlsStream::Plain(tcp) => {
                MaybeTlsStream::Tls(Box::new(client_tls(tcp, host, config, left)?))
            }
            MaybeTlsStream::Tls(outer) => {
                MaybeTlsStream::TlsInTls(Box::new(client_tls(*outer, host, config, left)?))
            }
            MaybeTlsStream::TlsInTls(_) => {
                return Err(io::Error::other("TLS is already two layers deep").into());
            }
        })
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// The buffer small reads go through, zeroed once per thread: one on
    /// the stack, zeroed for every read as `Read::read` wants initialised
    /// bytes, cost 4,100 of the 6,500 instructions of a 20-byte echo
    /// (callgrind, docs/PERFORMANCE.md). In static thread-local storage,
    /// not the heap, so a connection waiting for input still holds no
    /// receive buffer; the thread's stack held these 4 KiB before.
    static READ_BUF: std::cell::RefCell<[u8; SMALL_READ]> =
        const { std::cell::RefCell::new([0; SMALL_READ]) };
    /// This thread's waker, made once.
    static WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    /// When the thread must wake even if its waker is not called (the
    /// earliest deadline a `Pending` poll asked for).
    static PARK_UNTIL: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `future` on this thread to completion. The blocking runtime's
/// operations block instead of returning `Pending`, so this normally takes
/// one poll; a `Pending` (a split half waiting for another's write lock)
/// parks the thread until its waker is called.
pub(crate) fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                PARK_UNTIL.with(|until| until.set(None));
                return output;
            }
            match PARK_UNTIL.with(|until| until.take()) {
                Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
                None => std::thread::park(),
            }
        }
    })
}

/// [`block_on`] for a poll function.
pub(crate) fn block_poll<T>(f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    block_on(std::future::poll_fn(f))
}

/// The read timeout last set on the stream, so that it is changed (a system
/// call) only when a deadline needs it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ReadTimeout {
    /// Not set by us yet: whatever the caller left on the stream.
    #[default]
    Unknown,
    /// Set to this (`None`: block).
    Set(Option<Duration>),
}

impl ReadTimeout {
    /// The timeout to set for `deadline` (from `now`), or `None` when the
    /// current one is good enough: it fires no later than the deadline
    /// (give or take 1/64) and no earlier than halfway there. An early
    /// wake-up costs one loop; a timeout left in place saves a system call
    /// per read.
    fn update(
        &mut self,
        deadline: Option<Instant>,
        now: Option<Instant>,
    ) -> Option<Option<Duration>> {
        let want = deadline
            .zip(now)
            .map(|(d, now)| d.saturating_duration_since(now));
        let keep = match (*self, want) {
            (ReadTimeout::Set(None), None) => true,
            (ReadTimeout::Set(Some(d)), Some(w)) => {
                d <= w + w / 64 + Duration::from_millis(1) && d >= w / 2
            }
            _ => false,
        };
        if keep {
            return None;
        }
        *self = ReadTimeout::Set(want);
        Some(want)
    }

    /// Whether a read that started at `start` and failed with a timeout at
    /// `end` waited for the timeout we set. A timer never fires before its
    /// time, so a read that returned in less than half of it (a
    /// non-blocking socket) timed out on its own.
    fn waited(&self, start: Instant, end: Instant) -> bool {
        match *self {
            ReadTimeout::Set(Some(timeout)) => end.duration_since(start) >= timeout / 2,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_timeout_is_reset_only_when_needed() {
        let now = Instant::now();
        let at = Some(now);
        let secs = Duration::from_secs;
        let mut t = ReadTimeout::Unknown;
        // Unknown: always set, even to "block".
        assert_eq!(t.update(None, None), Some(None));
        assert_eq!(t.update(None, None), None);
        assert_eq!(t.update(Some(now + secs(20)), at), Some(Some(secs(20))));
        // A deadline that moved a little keeps the timeout.
        assert_eq!(
            t.update(Some(now + secs(20)), Some(now + Duration::from_millis(5))),
            None
        );
        // One much earlier needs a new one; so does "no deadline".
        assert_eq!(t.update(Some(now + secs(5)), at), Some(Some(secs(5))));
        assert_eq!(t.update(None, None), Some(None));
    }

    #[test]
    fn a_timeout_counts_as_ours_only_after_waiting_half_of_it() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        assert!(!ReadTimeout::Unknown.waited(start, start + ms(100)));
        // No timeout set: any timeout error is the stream's own.
        assert!(!ReadTimeout::Set(None).waited(start, start + ms(100)));
        let set = ReadTimeout::Set(Some(ms(100)));
        assert!(!set.waited(start, start + ms(1)));
        assert!(set.waited(start, start + ms(50)));
        assert!(set.waited(start, start + ms(120)));
    }
}
