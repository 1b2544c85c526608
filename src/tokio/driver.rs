//! The tokio driver: the same loop as the blocking one (feed the core what
//! the stream reads, hand out its events, write its queue, keep its
//! deadlines), written as `poll_*` functions that return `Pending` where
//! the blocking driver would block.
//!
//! Cancel safety comes from where state lives: a `poll_*` function keeps
//! nothing between calls but what is stored here or in the core, so the
//! future that calls it can be dropped at any `Pending` without losing a
//! byte. Reads are exact (a partial frame stays in the core); a write that
//! failed is fatal, as in the blocking adapter (`driver/state.rs`).
//!
//! # Driving the core yourself (mio, smol, glommio, …)
//!
//! This file is the recipe, about 250 lines. On every wake-up:
//!
//! 1. Hand out [`Connection::poll_event`](crate::Connection::poll_event)
//!    until it is empty, writing what each event queued (a Pong, the Close
//!    echo) with [`transmit_slices`](crate::Connection::transmit_slices) /
//!    [`advance_transmit`](crate::Connection::advance_transmit).
//! 2. Call [`handle_timeout`](crate::Connection::handle_timeout) with the
//!    current time, then read once into
//!    [`receive_buf_mut`](crate::Connection::receive_buf_mut) (or
//!    [`receive_data`](crate::Connection::receive_data) from a buffer of
//!    your own) and commit what arrived; end of stream is
//!    [`receive_eof`](crate::Connection::receive_eof).
//! 3. When the read would block, arm a timer at
//!    [`poll_timeout`](crate::Connection::poll_timeout) and sleep until
//!    either fires.
//! 4. Once the state is [`Closed`](crate::State::Closed), write the rest,
//!    take [`Transmit::Shutdown`](crate::Transmit::Shutdown) from
//!    [`poll_transmit`](crate::Connection::poll_transmit) and shut the
//!    write side down; a client then reads until end of stream or the
//!    close deadline ([`is_finished`](crate::Connection::is_finished)).

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::driver::Driver;
use crate::driver::error::Error;
pub(super) use crate::driver::outgoing::MAX_SLICES;
use crate::driver::state::{ReadSize, Step};
use crate::{Event, Message, State, Transmit};

/// Reads that follow a quiet connection go into a buffer on the stack, so
/// a connection waiting for input holds no receive buffer at all; a read
/// that fills it moves the next ones straight into the core's buffer.
pub(super) const STACK_READ: usize = 4 << 10;

/// The current time on tokio's clock (which tests can pause), as the
/// core's `Instant`.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A timer, allocated the first time a deadline needs one: a connection
/// without deadlines (no keepalive, not closing, no write blocked) holds
/// none.
#[derive(Debug, Default)]
pub(super) struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// Ready once `deadline` has passed; otherwise the waker is registered
    /// for it.
    pub(super) fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
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

/// What a writer remembers between polls: the close bound on writes, the
/// shutdown owed, and the write deadline of a write that is blocked.
#[derive(Debug, Default)]
pub(super) struct WriteState {
    /// Writes are bounded by the close timeout once the connection stops
    /// being open.
    closing_bound: Option<Duration>,
    shutdown: Shutdown,
    /// When the blocked write gives up: set at the first `Pending` without
    /// progress, cleared by progress.
    deadline: Option<Instant>,
    timer: Timer,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    #[default]
    NotYet,
    Due,
    Done,
}

impl WriteState {
    /// Bounds writes by the close timeout (the connection stopped being
    /// open).
    pub(super) fn bound_by_close(&mut self, bound: Duration) {
        self.closing_bound = Some(bound);
    }

    /// The core asked for the shutdown (everything before it is out).
    pub(super) fn shutdown_due(&mut self) {
        if self.shutdown == Shutdown::NotYet {
            self.shutdown = Shutdown::Due;
        }
    }

    /// Bytes went out: the write deadline starts again at the next block.
    pub(super) fn progressed(&mut self) {
        self.deadline = None;
    }

    /// After `Pending` from the stream: `Pending` until the write timeout
    /// (the close bound, once closing) passes, then the timeout error.
    pub(super) fn poll_blocked(
        &mut self,
        cx: &mut Context<'_>,
        write_timeout: Option<Duration>,
    ) -> Poll<io::Result<()>> {
        let limit = match (write_timeout, self.closing_bound) {
            (Some(write), Some(close)) => Some(write.min(close)),
            (write, close) => write.or(close),
        };
        let Some(limit) = limit else {
            return Poll::Pending;
        };
        let deadline = *self.deadline.get_or_insert_with(|| now() + limit);
        ready!(self.timer.poll_until(cx, deadline));
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }

    /// Once everything is written: the shutdown if due, else a flush;
    /// bounded like a write.
    pub(super) fn poll_finish_write<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut W,
        write_timeout: Option<Duration>,
    ) -> Poll<io::Result<()>> {
        let step = match self.shutdown {
            Shutdown::Due => Pin::new(&mut *stream).poll_shutdown(cx),
            _ => Pin::new(&mut *stream).poll_flush(cx),
        };
        match step {
            Poll::Ready(Ok(())) => {
                if self.shutdown == Shutdown::Due {
                    self.shutdown = Shutdown::Done;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.poll_blocked(cx, write_timeout),
        }
    }
}

/// Writes one batch of slices: a single slice by plain `poll_write`.
pub(super) fn poll_write_slices<W: AsyncWrite + Unpin + ?Sized>(
    stream: &mut W,
    cx: &mut Context<'_>,
    slices: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    match slices {
        [one] => Pin::new(stream).poll_write(cx, one),
        more => Pin::new(stream).poll_write_vectored(cx, more),
    }
}

/// Writes everything the core has queued, then the shutdown once the core
/// asks for it, then flushes. `Ready(Ok)` when all is out. A failure or a
/// write timeout ends the connection.
pub(super) fn poll_write<S: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    driver: &mut Driver,
    state: &mut WriteState,
) -> Poll<Result<(), Error>> {
    if driver.is_failed() {
        return Poll::Ready(Err(Error::ConnectionLost));
    }
    match poll_write_inner(cx, stream, driver, state) {
        Poll::Ready(Err(e)) => Poll::Ready(Err(driver.write_failed(e))),
        Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
        Poll::Pending => Poll::Pending,
    }
}

fn poll_write_inner<S: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    driver: &mut Driver,
    state: &mut WriteState,
) -> Poll<io::Result<()>> {
    let write_timeout = driver.conn.config().write_timeout;
    loop {
        if let Some(bound) = driver.closing_write_timeout() {
            state.bound_by_close(bound);
        }
        if driver.conn.buffered_amount() == 0 {
            break;
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = driver.conn.transmit_slices(&mut slices);
        match poll_write_slices(stream, cx, &slices[..n]) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(written)) => {
                driver.conn.advance_transmit(written);
                state.progressed();
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return state.poll_blocked(cx, write_timeout),
        }
    }
    // The shutdown comes once the connection is over and all is out.
    if driver.conn.state() == State::Closed {
        while let Some(transmit) = driver.conn.poll_transmit() {
            if transmit == Transmit::Shutdown {
                state.shutdown_due();
            }
        }
    }
    state.poll_finish_write(cx, stream, write_timeout)
}

/// How a reader reaches the connection and the stream: the unsplit socket
/// owns both, the split reader shares the connection with the writers.
pub(super) trait ReadSide {
    /// Runs `f` on the driver (owned, or under the split's lock).
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R;
    /// Writes what the core queued (a Pong, the Close echo, the keepalive
    /// Ping) as far as the stream takes it now. `Pending` is not a
    /// failure: the bytes stay queued and the waker is registered.
    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;
    /// One read from the stream into the core, `size` bytes at most; the
    /// end of stream is told to the core. How many bytes arrived.
    fn poll_read_into_core(&mut self, cx: &mut Context<'_>, size: usize)
    -> Poll<io::Result<usize>>;
    /// Whether reading stops while what is owed cannot be written. The
    /// unsplit socket stops (back-pressure); the split reader goes on, as
    /// the blocking one does: a writer busy with the stream owns the
    /// write, and the reader's Pongs are coalesced by the core meanwhile.
    fn backpressure(&self) -> bool {
        false
    }
}

/// What a reader remembers between polls.
#[derive(Debug)]
pub(super) struct ReadState {
    read_size: usize,
    /// The last read filled its room: a short read right after it is the
    /// tail of the same burst (a message one read did not hold), not a
    /// sign that input got small, so it does not shrink the read size.
    filled: bool,
    timer: Timer,
    /// The closing handshake is done (our Close flushed, the stream shut
    /// down, a client waited for the end of stream).
    finished: bool,
    /// The end has been reported; `recv` returns `None` from now on.
    done: bool,
    /// A write that failed while a message was being handed out: reported
    /// once the messages that arrived before it are out.
    deferred: Option<Error>,
}

impl ReadState {
    pub(super) fn new() -> ReadState {
        ReadState {
            read_size: STACK_READ,
            filled: false,
            timer: Timer::default(),
            finished: false,
            done: false,
            deferred: None,
        }
    }
}

/// The next message; `None` once the connection has ended normally (after
/// the peer's Close was handed out and the closing handshake completed),
/// `Some(Err)` once for any other end, then `None`.
pub(super) fn poll_recv<R: ReadSide>(
    cx: &mut Context<'_>,
    side: &mut R,
    state: &mut ReadState,
) -> Poll<Option<Result<Message, Error>>> {
    loop {
        if state.done {
            return Poll::Ready(None);
        }
        let next = side.with(|d| d.next_step(now));
        match next {
            Step::Event(event, owed) => {
                // As in the blocking driver: the message arrived whole, so
                // it is handed out even if writing its reply fails; the
                // failure is reported after it. A reply that cannot be
                // written yet stays queued for the next poll. Only control
                // frames are answered at once; what the application queued
                // (an echo `feed`) goes out in one write before the next
                // read, so a batch of input costs one write, not one per
                // message.
                let is_close = matches!(event, Event::Close(_));
                let answered = is_close || matches!(event, Event::Ping(_));
                if (owed && answered) || is_close {
                    if let Poll::Ready(Err(e)) = side.poll_write_owed(cx) {
                        if !is_close {
                            state.deferred.get_or_insert(e);
                        }
                    }
                }
                return Poll::Ready(Some(Ok(Message::from(event))));
            }
            Step::Ended => {
                if let Some(e) = state.deferred.take() {
                    state.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                ready!(poll_finish(cx, side, state));
                state.done = true;
                return Poll::Ready(match side.with(|d| d.ended()) {
                    Error::ConnectionClosed => None,
                    e => Some(Err(e)),
                });
            }
            Step::Read(deadline, owed) => {
                // TCP back-pressure, as the blocking adapter has it: while
                // what we owe the peer cannot be written (a peer that sends
                // Pings and never reads), input is not read either, so the
                // peer's sends block instead of ours piling up.
                let mut blocked = false;
                if owed {
                    match side.poll_write_owed(cx) {
                        Poll::Ready(Err(e)) => {
                            state.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                        Poll::Pending => blocked = side.backpressure(),
                        Poll::Ready(Ok(())) => {}
                    }
                }
                if !blocked {
                    match side.poll_read_into_core(cx, state.read_size) {
                        Poll::Ready(Ok(n)) => {
                            let size = state.read_size;
                            if n == size || !state.filled {
                                state.read_size = ReadSize::next(size, n, STACK_READ);
                            }
                            state.filled = n == size;
                            continue;
                        }
                        Poll::Ready(Err(e)) => {
                            side.with(Driver::fail);
                            state.done = true;
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        Poll::Pending => {}
                    }
                }
                // Waiting for input (or for room to write) and the deadline.
                match deadline {
                    Some(deadline) if state.timer.poll_until(cx, deadline).is_ready() => {}
                    _ => {
                        if !blocked {
                            // Nothing to hold while waiting for input.
                            side.with(|d| d.conn.release_buffers());
                        }
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// The end of the connection: flush our Close and shut down, then (a
/// client) wait for the server's end of stream, bounded by the close
/// timeout. Errors no longer matter here: the connection is over.
fn poll_finish<R: ReadSide>(cx: &mut Context<'_>, side: &mut R, state: &mut ReadState) -> Poll<()> {
    while !state.finished {
        let failed = side.with(|d| {
            d.conn.handle_timeout(now());
            d.is_failed()
        });
        if failed {
            break;
        }
        match side.poll_write_owed(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => break,
            Poll::Pending => return Poll::Pending,
        }
        let (finished, deadline) =
            side.with(|d| (d.conn.is_finished() || d.is_failed(), d.conn.poll_timeout()));
        if finished {
            break;
        }
        // Input is discarded now; this waits for the end of stream or the
        // close deadline.
        match side.poll_read_into_core(cx, STACK_READ) {
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(_)) => break,
            Poll::Pending => match deadline {
                Some(deadline) if state.timer.poll_until(cx, deadline).is_ready() => {}
                _ => return Poll::Pending,
            },
        }
    }
    state.finished = true;
    Poll::Ready(())
}

/// One read into the core: into a buffer on the stack while reads are
/// small (nothing is reserved in the core while the stream has nothing to
/// give), straight into the core's buffer once they fill it (no copy, no
/// zero-filling). The end of stream is told to the core.
pub(super) fn poll_read_direct<S: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    driver: &mut Driver,
    size: usize,
) -> Poll<io::Result<usize>> {
    let n = if size <= STACK_READ {
        ready!(poll_read_stack(cx, stream, driver))?
    } else {
        let result = {
            let mut space = driver.conn.receive_buf_mut(size);
            pin!(stream.read_buf(&mut space)).poll(cx)
        };
        let n = match &result {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        // Commits what arrived, or gives the lent space back. A violation
        // is sticky in the core and reported once earlier messages are out.
        let _ = driver.conn.receive_commit(n);
        ready!(result)?;
        if n == 0 {
            driver.conn.receive_eof();
        }
        n
    };
    Poll::Ready(Ok(n))
}

/// One read into a buffer on the stack, fed to the core.
pub(super) fn poll_read_stack<S: AsyncRead + Unpin + ?Sized>(
    cx: &mut Context<'_>,
    stream: &mut S,
    driver: &mut Driver,
) -> Poll<io::Result<usize>> {
    let mut buf = [MaybeUninit::<u8>::uninit(); STACK_READ];
    let mut read = ReadBuf::uninit(&mut buf);
    ready!(Pin::new(stream).poll_read(cx, &mut read))?;
    let input = read.filled();
    if input.is_empty() {
        driver.conn.receive_eof();
    } else {
        let _ = driver.conn.receive_data(input);
    }
    Poll::Ready(Ok(input.len()))
}
