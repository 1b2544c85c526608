//! [`WebSocketReader`] and [`WebSocketWriter`]: one connection used from
//! several threads or tasks, one receiving while others send; written once
//! for every adapter.
//!
//! # How the halves share the connection
//!
//! The sans-IO [`Connection`](crate::Connection) sits behind a `Mutex` held
//! only for the few instructions of a core call, never during a system
//! call or across an await:
//!
//! - The **reader** reads into a buffer of its own (on the stack for
//!   tokio), then locks the connection, feeds it, and unlocks.
//! - Outgoing bytes are written by whoever holds the **write lock** (a
//!   second `Mutex`, around the write half): it takes the queued chunks
//!   out of the connection (reference-counted, no copy), releases the
//!   connection, and writes them vectored. Taking and writing under one
//!   lock keeps the bytes in order.
//! - The reader's duties (a Pong, the Close echo, the keepalive Ping) are
//!   queued on the connection, and the reader then *tries* the write lock:
//!   when a writer holds it, the writer sees them before it lets go (it
//!   looks for bytes queued during its write and writes those too), so
//!   nothing is stranded and the reader never waits for a writer blocked on
//!   a peer that does not read. The echo of the peer's Close is the
//!   exception: the reader waits for the write lock then, since the
//!   connection is over. A task that only reads therefore stays conformant
//!   with no writer ever used.
//! - Every task that waits to write parks its waker in one shared set, and
//!   the stream and the write timer are polled with a waker that wakes the
//!   whole set: whichever task's future is dropped, the others still wake.
//! - A Close queued by a writer wakes the reader, which then keeps the
//!   close deadline. A blocking reader cannot be woken in `read(2)`: it
//!   never blocks longer than half the close timeout in one read, so a
//!   peer that does not answer a Close is dropped within 1.5 × the close
//!   timeout. A failed write ends the connection for every half.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::{Duration, Instant};

use super::error::Error;
use super::recv::{self, Outcome, ReadSide, ReadState};
use super::runtime::{Read, ReadIo, Runtime, WriteIo};
use super::socket::WebSocket;
use super::state::Driver;
use super::write::{Chunks, Shutdown, poll_write_all};
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
struct Out<W, R> {
    stream: W,
    rt: R,
    queue: Chunks,
    shutdown: Shutdown,
}

struct Shared<W, R> {
    core: Mutex<Core>,
    out: Mutex<Out<W, R>>,
    waiting: Arc<Waiting>,
    /// Bytes taken out of the connection and not written yet: they count
    /// against `max_write_buffer` like those still in the connection.
    taken: AtomicUsize,
    protocol: Option<String>,
    write_timeout: Option<Duration>,
}

impl<W, R: WriteIo<W>> Shared<W, R> {
    /// Writes everything queued on the connection. `must`: wait for the
    /// write lock; otherwise a held lock leaves the work to its holder.
    fn poll_flush(&self, cx: &mut Context<'_>, must: bool) -> Poll<Result<(), Error>> {
        self.waiting.register(cx.waker());
        let waker = Waker::from(self.waiting.clone());
        let mut shared_cx = Context::from_waker(&waker);
        let mut must = must;
        loop {
            let mut out = if must {
                lock(&self.out)
            } else {
                match self.out.try_lock() {
                    Ok(out) => out,
                    Err(TryLockError::WouldBlock) => return Poll::Pending,
                    Err(TryLockError::Poisoned(p)) => p.into_inner(),
                }
            };
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
                    return Poll::Ready(Err(error));
                }
                Poll::Ready(Ok(())) if core.driver.is_failed() => {
                    return Poll::Ready(Err(Error::ConnectionLost));
                }
                Poll::Pending => return Poll::Pending,
                // Bytes queued by a half whose `try_lock` failed while we
                // held the lock are ours to write.
                Poll::Ready(Ok(())) if core.driver.conn.buffered_amount() > 0 => must = false,
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Takes the connection's queue and writes it until nothing is left;
    /// the connection's lock is held only while taking, once per pass.
    fn write_out(&self, cx: &mut Context<'_>, out: &mut Out<W, R>) -> Poll<io::Result<()>> {
        let out = &mut *out;
        let mut written = false;
        loop {
            let limit = {
                let mut core = lock(&self.core);
                // After a pass, done unless more was queued during the
                // write. The first pass writes even with nothing queued:
                // taken chunks, the shutdown or the flush may be left.
                if core.driver.is_failed() || (written && core.driver.conn.buffered_amount() == 0) {
                    return Poll::Ready(Ok(()));
                }
                if core.driver.take_queue(&mut out.queue) && out.shutdown == Shutdown::NotYet {
                    out.shutdown = Shutdown::Due;
                }
                self.taken.store(out.queue.len(), Ordering::Relaxed);
                core.driver.write_limit(self.write_timeout)
            };
            let Out {
                stream,
                rt,
                queue,
                shutdown,
            } = out;
            ready!(poll_write_all(cx, rt, stream, queue, shutdown, limit))?;
            written = true;
        }
    }
}

impl<S, R: Runtime> WebSocket<S, R> {
    /// Splits into a reader and a writer over the two halves `split`
    /// makes of the stream, each with a copy of the runtime's waiting
    /// state.
    #[allow(clippy::type_complexity)]
    pub(crate) fn split_with<H, W, E>(
        self,
        split: impl FnOnce(S) -> Result<(H, W), E>,
    ) -> Result<(WebSocketReader<H, W, R>, WebSocketWriter<W, R>), E>
    where
        R: Clone,
    {
        let (reader, writer) = split(self.stream)?;
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                driver: self.driver,
                reader: None,
            }),
            out: Mutex::new(Out {
                stream: writer,
                rt: self.rt.clone(),
                queue: Chunks::default(),
                shutdown: self.shutdown,
            }),
            waiting: Arc::default(),
            taken: AtomicUsize::new(0),
            protocol: self.protocol,
            write_timeout: self.write_timeout,
        });
        Ok((
            WebSocketReader {
                stream: reader,
                rt: self.rt,
                shared: shared.clone(),
                read: self.read,
            },
            WebSocketWriter { shared },
        ))
    }
}

/// The receiving half of a split [`WebSocket`] (read half `H`, write half
/// `W`, runtime `R`); it also answers Pings and the peer's Close. Name it
/// through an adapter: `wsproto::blocking::WebSocketReader<S>`,
/// `wsproto::tokio::WebSocketReader<S>`.
pub struct WebSocketReader<H, W, R> {
    stream: H,
    rt: R,
    shared: Arc<Shared<W, R>>,
    read: ReadState,
}

/// The sending half of a split [`WebSocket`]. Cheap to clone; clones send
/// on the same connection, in the order their calls take the write lock.
pub struct WebSocketWriter<W, R> {
    shared: Arc<Shared<W, R>>,
}

impl<W, R> Clone for WebSocketWriter<W, R> {
    fn clone(&self) -> Self {
        WebSocketWriter {
            shared: self.shared.clone(),
        }
    }
}

impl<H, W, R> fmt::Debug for WebSocketReader<H, W, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketReader")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<W, R> fmt::Debug for WebSocketWriter<W, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketWriter")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// What does not wait, the same for every adapter.
impl<H, W, R> WebSocketReader<H, W, R> {
    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.core).driver.conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// The read half of the stream.
    pub fn get_ref(&self) -> &H {
        &self.stream
    }
}

// Crate-internal methods only: the bounds name the driver's own traits.
#[allow(private_bounds)]
impl<H, W, R: ReadIo<H> + WriteIo<W>> WebSocketReader<H, W, R> {
    /// The next message, or how the connection ended; `until` bounds the
    /// wait.
    pub(crate) fn poll_next<O: Outcome>(
        &mut self,
        cx: &mut Context<'_>,
        until: Option<Instant>,
    ) -> Poll<O> {
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
        let mut side = SplitReader {
            stream: &mut self.stream,
            rt: &mut self.rt,
            shared: &self.shared,
            read: &mut self.read,
        };
        recv::poll_recv(cx, &mut side, until)
    }
}

/// The split reader as the read loop sees it: the connection behind the
/// lock, which is never held while reading.
struct SplitReader<'a, H, W, R> {
    stream: &'a mut H,
    rt: &'a mut R,
    shared: &'a Shared<W, R>,
    read: &'a mut ReadState,
}

impl<H, W, R: ReadIo<H> + WriteIo<W>> ReadSide for SplitReader<'_, H, W, R> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver) -> T) -> T {
        f(&mut lock(&self.shared.core).driver)
    }

    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let closed = lock(&self.shared.core).driver.conn.state() == State::Closed;
        // The Close echo and the shutdown wait for the write lock: the
        // connection is over.
        self.shared.poll_flush(cx, closed)
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        // A Close queued by a writer starts the close timeout, which a
        // reader that cannot be woken sees at its next wake-up: it looks
        // again at least twice per close timeout (and more often in a
        // server's set, for a shutdown).
        let woken = R::reads_are_woken();
        let wait = {
            let mut core = lock(&self.shared.core);
            let set = core.driver.wait_cap(cx.waker(), woken);
            let close = (!woken).then(|| core.driver.conn.config().close_timeout / 2);
            [set, close].into_iter().flatten().min()
        };
        let cap = wait.map(|wait| R::now() + wait);
        let deadline = [deadline, cap].into_iter().flatten().min();
        let core = &self.shared.core;
        let read = ready!(
            self.rt
                .poll_read_with(cx, self.stream, size, deadline, |input| {
                    // A violation is sticky in the core and reported once the
                    // messages before it are out.
                    let mut core = lock(core);
                    let _ = core.driver.conn.receive_data(input);
                    core.driver.settle_budget();
                })
        );
        if let Ok(Some(0)) = read {
            let mut core = lock(core);
            core.driver.conn.receive_eof();
            core.driver.settle_budget();
        }
        Poll::Ready(read)
    }

    type Rt = R;

    fn rt(&mut self) -> &mut R {
        self.rt
    }

    fn read_state(&mut self) -> &mut ReadState {
        self.read
    }

    fn backpressure(&self) -> bool {
        false
    }
}

/// What does not wait, the same for every adapter.
impl<W, R> WebSocketWriter<W, R> {
    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.core).driver.conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// Queues a [`PreparedMessage`] (shared, not copied) without writing,
    /// as [`WebSocket::feed_prepared`] does: never waits for room; a peer
    /// with more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer)
    /// waiting (in the connection or taken out by a writer) is dropped
    /// with 1013 and this returns [`Delivery::Dropped`].
    pub fn feed_prepared(&self, message: &PreparedMessage) -> Result<Delivery, Error> {
        let mut core = lock(&self.shared.core);
        let taken = self.shared.taken.load(Ordering::Relaxed);
        let delivery = core.driver.queue_prepared(message, taken)?;
        if delivery == Delivery::Dropped {
            // The reader keeps the close deadline from now on.
            core.wake_reader();
        }
        Ok(delivery)
    }
}

impl<W, R: Runtime> WebSocketWriter<W, R> {
    /// Queues a message on the core. A Close starts the close timeout now
    /// (not at the reader's next wake-up) and wakes the reader, which keeps
    /// the close deadline from then on.
    pub(crate) fn queue_message(&self, message: Message) -> Result<(), Error> {
        let is_close = matches!(message, Message::Close(_));
        let mut core = lock(&self.shared.core);
        core.driver.queue(message)?;
        if is_close {
            core.driver.conn.handle_timeout(R::now());
            core.wake_reader();
        }
        Ok(())
    }

    /// Queues a Close with `code` and `reason` (see
    /// [`queue_message`](Self::queue_message)).
    pub(crate) fn queue_close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.queue_message(Message::close(code, reason))
    }

    /// Runs a command of the core under its lock (the blocking writer's
    /// `send_text` and `send_binary`).
    #[allow(dead_code)]
    pub(crate) fn command(
        &self,
        f: impl FnOnce(&mut crate::Connection) -> Result<(), crate::UsageError>,
    ) -> Result<(), Error> {
        lock(&self.shared.core).driver.command(f)
    }
}

// Crate-internal methods only: the bounds name the driver's own traits.
#[allow(private_bounds)]
impl<W, R: WriteIo<W>> WebSocketWriter<W, R> {
    /// Writes everything queued, waiting for the write lock.
    pub(crate) fn poll_write_out(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll_flush(cx, true)
    }

    /// Ready when a message may be queued: writes while more than
    /// `max_write_buffer` waits (in the connection or taken out).
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
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

    /// Queues a Close (1000) unless one was sent, and flushes: the end of
    /// a `Sink`, as for one socket.
    // The end of a `Sink`: the async adapters only.
    #[allow(dead_code)]
    pub(crate) fn poll_close_sink(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.state() == State::Open {
            self.queue_close(CloseCode::NORMAL, "")?;
        }
        match ready!(self.poll_write_out(cx)) {
            Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }
}
