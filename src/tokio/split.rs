//! [`WebSocketReader`] and [`WebSocketWriter`]: one connection used from
//! several tasks, one receiving while others send.
//!
//! # How the halves share the connection
//!
//! The sans-IO [`Connection`](crate::Connection) sits behind a `Mutex` held
//! only for the few instructions of a core call, never across an await or
//! a system call:
//!
//! - The **reader** reads into a buffer on its stack, then locks the
//!   connection, feeds it, and unlocks.
//! - Outgoing bytes are written by whoever holds the **write lock** (a
//!   second `Mutex`, around the write half, held only inside one poll):
//!   it takes the queued chunks out of the connection (reference-counted,
//!   no copy), releases the connection, and writes them vectored. Taking
//!   and writing under one lock keeps the bytes in order.
//! - Every task that waits to write (a writer with a full socket, the
//!   reader with a Pong owed) parks its waker in one shared set, and the
//!   stream and the write timer are polled with a waker that wakes the
//!   whole set: whichever task's future is dropped, the others still wake.
//! - The reader's duties (a Pong, the Close echo, the keepalive Ping) are
//!   queued on the connection and written by the reader itself when the
//!   write lock is free; when a writer holds it, the writer sees them
//!   before it lets go (and wakes the set if bytes were queued after its
//!   last look). A task that only reads therefore stays conformant with no
//!   writer ever polled.
//! - A Close queued by a writer wakes the reader, which then keeps the
//!   close deadline; a failed write ends the connection for every half.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use super::driver::{self, ReadSide, ReadState};
use super::websocket::WebSocket;
use crate::driver::Driver;
use crate::driver::error::Error;
use crate::driver::outgoing::{Chunks, Outgoing};
use crate::{CloseCode, Delivery, Message, PreparedMessage, State};

/// Locks, ignoring poisoning: every core call either completes or changes
/// nothing, so a panic elsewhere leaves nothing to recover.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The wakers of every task waiting to write.
#[derive(Default)]
struct Waiting(Mutex<Vec<Waker>>);

impl Waiting {
    fn register(&self, waker: &Waker) {
        let mut wakers = lock(&self.0);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        for waker in lock(&self.0).drain(..) {
            waker.wake();
        }
    }
}

/// The connection and the reader's waker.
struct Core {
    driver: Driver,
    reader: Option<Waker>,
}

impl Core {
    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }
}

/// The write half and what was taken out of the connection for it.
struct Out<S> {
    stream: WriteHalf<S>,
    queue: Chunks,
    state: driver::WriteState,
}

struct Shared<S> {
    core: Mutex<Core>,
    out: Mutex<Out<S>>,
    waiting: Arc<Waiting>,
    /// Bytes taken out of the connection and not written yet: they count
    /// against `max_write_buffer` like those still in the connection.
    taken: AtomicUsize,
    protocol: Option<String>,
}

impl<S: AsyncWrite> Shared<S> {
    /// Writes everything queued on the connection. `must`: wait for the
    /// write lock (held only inside another task's poll, so briefly);
    /// otherwise a held lock leaves the work to its holder.
    fn poll_flush(&self, cx: &mut Context<'_>, must: bool) -> Poll<Result<(), Error>> {
        self.waiting.register(cx.waker());
        let mut out = if must {
            lock(&self.out)
        } else {
            match self.out.try_lock() {
                Ok(out) => out,
                Err(TryLockError::WouldBlock) => return Poll::Pending,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            }
        };
        let waker = Waker::from(self.waiting.clone());
        let mut shared_cx = Context::from_waker(&waker);
        let result = self.write_out(&mut shared_cx, &mut out);
        if let Poll::Ready(Err(_)) = result {
            // Whatever was taken out is lost with the connection.
            out.queue.clear();
        }
        self.taken.store(out.queue.len(), Ordering::Relaxed);
        drop(out);
        let mut core = lock(&self.core);
        match result {
            Poll::Ready(Err(e)) => {
                let error = core.driver.write_failed(e);
                core.wake_reader();
                self.waiting.wake_by_ref();
                Poll::Ready(Err(error))
            }
            Poll::Ready(Ok(())) if core.driver.is_failed() => {
                Poll::Ready(Err(Error::ConnectionLost))
            }
            result => {
                // Bytes queued by a task whose `try_lock` failed after our
                // last look are written by a woken task.
                if core.driver.conn.buffered_amount() > 0 {
                    self.waiting.wake_by_ref();
                }
                match result {
                    Poll::Ready(_) => Poll::Ready(Ok(())),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// Takes the connection's queue and writes it until nothing is left;
    /// the connection's lock is held only while taking, once per pass.
    fn write_out(&self, cx: &mut Context<'_>, out: &mut Out<S>) -> Poll<io::Result<()>> {
        let out = &mut *out;
        let mut written = false;
        loop {
            let (shutdown, write_timeout) = {
                let mut core = lock(&self.core);
                // After a pass, done unless more was queued during the
                // write. The first pass writes even with nothing queued:
                // taken chunks, the shutdown or the flush may be left.
                if core.driver.is_failed() || (written && core.driver.conn.buffered_amount() == 0) {
                    return Poll::Ready(Ok(()));
                }
                let (bound, shutdown) = core.driver.take_queue(&mut out.queue);
                self.taken.store(out.queue.len(), Ordering::Relaxed);
                if let Some(bound) = bound {
                    out.state.bound_by_close(bound);
                }
                (shutdown, core.driver.conn.config().write_timeout)
            };
            if shutdown {
                out.state.shutdown_due();
            }
            ready!(out.poll_write(cx, write_timeout))?;
            written = true;
        }
    }
}

impl<S: AsyncWrite> Out<S> {
    /// Writes the taken chunks, then the shutdown if due, then flushes.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        write_timeout: Option<std::time::Duration>,
    ) -> Poll<io::Result<()>> {
        while !self.queue.is_empty() {
            let mut slices = [io::IoSlice::new(&[]); driver::MAX_SLICES];
            let n = self.queue.slices(&mut slices);
            match driver::poll_write_slices(&mut self.stream, cx, &slices[..n]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    self.queue.advance(written);
                    self.state.progressed();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.state.poll_blocked(cx, write_timeout),
            }
        }
        self.state
            .poll_finish_write(cx, &mut self.stream, write_timeout)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Splits the connection into a reader and a writer for several tasks:
    /// one receives while others send. The writer is `Clone` and `Send`
    /// (for a `Send` stream); its clones send on the same connection, in
    /// the order their calls take the write lock.
    ///
    /// No lock is held across an await: the connection's lock is taken
    /// for the few instructions of a core call, the write lock for one
    /// poll of the stream (see the module source for the details). The
    /// reader answers Pings and the peer's Close itself when no writer is
    /// busy, so a task that only reads stays conformant; it keeps the
    /// keepalive and close deadlines, so it should be polled while the
    /// connection lives (as any reader is).
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        let (reader, writer) = tokio::io::split(self.stream);
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                driver: self.driver,
                reader: None,
            }),
            out: Mutex::new(Out {
                stream: writer,
                queue: Chunks::default(),
                state: self.write,
            }),
            waiting: Arc::default(),
            taken: AtomicUsize::new(0),
            protocol: self.protocol,
        });
        (
            WebSocketReader {
                stream: reader,
                shared: shared.clone(),
                read: self.read,
            },
            WebSocketWriter { shared },
        )
    }
}

/// The receiving half of a split [`WebSocket`]; it also answers Pings and
/// the peer's Close. See [`WebSocket::split`].
pub struct WebSocketReader<S> {
    stream: ReadHalf<S>,
    shared: Arc<Shared<S>>,
    read: ReadState,
}

/// The sending half of a split [`WebSocket`]. Cheap to clone; clones send
/// on the same connection. See [`WebSocket::split`].
pub struct WebSocketWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for WebSocketWriter<S> {
    fn clone(&self) -> Self {
        WebSocketWriter {
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for WebSocketReader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketReader").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WebSocketWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketWriter").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite> WebSocketReader<S> {
    /// Receives the next message, as [`WebSocket::recv`] does (Pings and
    /// the peer's Close answered on the way, `None` after a normal end).
    /// **Cancel safe.**
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        {
            // Cloning a waker may cost an atomic increment or more: keep
            // the stored one when it wakes the same task.
            let mut core = lock(&self.shared.core);
            if !core
                .reader
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                core.reader = Some(cx.waker().clone());
            }
        }
        let mut side = Reader {
            stream: &mut self.stream,
            shared: &self.shared,
        };
        driver::poll_recv(cx, &mut side, &mut self.read)
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.core).driver.conn.state()
    }
}

/// The split reader as the driver sees it.
struct Reader<'a, S> {
    stream: &'a mut ReadHalf<S>,
    shared: &'a Shared<S>,
}

impl<S: AsyncRead + AsyncWrite> ReadSide for Reader<'_, S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R {
        f(&mut lock(&self.shared.core).driver)
    }

    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let closed = lock(&self.shared.core).driver.conn.state() == State::Closed;
        // The Close echo and the shutdown wait for the write lock: the
        // connection is over.
        self.shared.poll_flush(cx, closed)
    }

    fn poll_read_into_core(
        &mut self,
        cx: &mut Context<'_>,
        _size: usize,
    ) -> Poll<io::Result<usize>> {
        // Into the stack, then into the core under its lock: the lock is
        // not held during the read.
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); driver::STACK_READ];
        let mut read = tokio::io::ReadBuf::uninit(&mut buf);
        ready!(Pin::new(&mut *self.stream).poll_read(cx, &mut read))?;
        let input = read.filled();
        let mut core = lock(&self.shared.core);
        if input.is_empty() {
            core.driver.conn.receive_eof();
        } else {
            let _ = core.driver.conn.receive_data(input);
        }
        Poll::Ready(Ok(input.len()))
    }
}

impl<S: AsyncWrite> WebSocketWriter<S> {
    /// Queues a message and writes everything queued, as
    /// [`WebSocket::send`] does (waits while more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer) is
    /// queued). **Cancel safe**: queued whole or not at all.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message, writing only what makes room for it.
    /// **Cancel safe**, as [`send`](Self::send).
    pub async fn feed(&self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.queue(message.into())
    }

    /// Queues a [`PreparedMessage`] (shared, not copied) and writes
    /// everything queued, as [`WebSocket::send_prepared`] does: never
    /// waits for room; a peer with more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer)
    /// waiting (in the connection or taken out by a writer) is dropped
    /// with 1013 and this returns [`Delivery::Dropped`] without writing.
    /// **Cancel safe**: queued whole before the first await.
    pub async fn send_prepared(&self, message: &PreparedMessage) -> Result<Delivery, Error> {
        let delivery = {
            let mut core = lock(&self.shared.core);
            let taken = self.shared.taken.load(Ordering::Relaxed);
            let delivery = core.driver.queue_prepared(message, taken)?;
            if delivery == Delivery::Dropped {
                // The reader keeps the close deadline from now on.
                core.wake_reader();
            }
            delivery
        };
        if delivery == Delivery::Queued {
            self.flush().await?;
        }
        Ok(delivery)
    }

    /// Sends a Ping with up to 125 bytes of `payload`.
    pub async fn send_ping(&self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(Message::ping(payload.as_ref())).await
    }

    /// Writes everything queued. **Cancel safe.**
    pub async fn flush(&self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Starts the closing handshake (a Close with `code` and `reason`);
    /// the reader receives the peer's answer and then `None`.
    pub async fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        {
            let mut core = lock(&self.shared.core);
            if let Err(e) = core.driver.conn.close(code, reason) {
                return Err(core.driver.refused(e));
            }
            // The reader keeps the close deadline from now on.
            core.wake_reader();
        }
        self.flush().await
    }

    /// Ready when a message may be queued.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            {
                let core = lock(&self.shared.core);
                let limit = core.driver.conn.config().max_write_buffer;
                let queued =
                    core.driver.conn.buffered_amount() + self.shared.taken.load(Ordering::Relaxed);
                if queued <= limit {
                    return Poll::Ready(Ok(()));
                }
            }
            ready!(self.shared.poll_flush(cx, true))?;
        }
    }

    /// The poll form of [`flush`](Self::flush).
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll_flush(cx, true)
    }

    fn queue(&self, message: Message) -> Result<(), Error> {
        let is_close = matches!(message, Message::Close(_));
        let mut core = lock(&self.shared.core);
        core.driver.queue(message)?;
        if is_close {
            // The reader keeps the close deadline from now on.
            core.wake_reader();
        }
        Ok(())
    }
}

impl<S: AsyncWrite> futures_sink::Sink<Message> for WebSocketWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        WebSocketWriter::poll_ready(&self, cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.queue(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        WebSocketWriter::poll_flush(&self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        {
            let mut core = lock(&self.shared.core);
            if core.driver.conn.state() == State::Open {
                if let Err(e) = core.driver.conn.close(CloseCode::NORMAL, "") {
                    return Poll::Ready(Err(core.driver.refused(e)));
                }
                core.wake_reader();
            }
        }
        WebSocketWriter::poll_flush(&self, cx)
    }
}

impl<S: AsyncRead + AsyncWrite> futures_core::Stream for WebSocketReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}
