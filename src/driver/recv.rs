//! The read loop, written once for every adapter and both shapes (one
//! socket, or the reader half of a split one): hand out what the core
//! parsed, write what it owes (a Pong, the Close echo, the keepalive
//! Ping), keep its deadlines, read, and at the end finish the closing
//! handshake.
//!
//! Cancel safety comes from where state lives: a `poll_*` function keeps
//! nothing between calls but what is stored in [`ReadState`] or in the
//! core, so the future that calls it can be dropped at any `Pending`
//! without losing a byte. Reads are exact (a partial frame stays in the
//! core). A write that failed is fatal (a frame may be half on the wire):
//! the core is told the transport is gone, and every later call reports
//! [`Error::ConnectionLost`].

use std::io;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use super::budget::Grant;
use super::error::Error;
use super::runtime::{Read, Runtime};
use super::spare;
use super::state::{Driver, Step};
use crate::Message;

/// Reads that follow a quiet connection go into a small buffer (the
/// runtime's: on the stack for tokio, so a connection waiting for input
/// holds no receive buffer); once reads fill it they grow, up to
/// [`MAX_READ`], and go straight into the core's buffer.
pub(crate) const SMALL_READ: usize = 4 << 10;

/// Largest read size, reached only while reads keep filling the buffer.
pub(crate) const MAX_READ: usize = 64 << 10;

/// How a reader reaches the connection and the stream: one socket owns
/// both; the split reader shares the connection with the writers.
pub(crate) trait ReadSide {
    /// Runs `f` on the driver (owned, or under the split's lock).
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver) -> T) -> T;
    /// Writes what the core queued (a Pong, the Close echo, the keepalive
    /// Ping) as far as the stream takes it now. `Pending` is not a
    /// failure: the bytes stay queued (and the task is woken when they can
    /// go on).
    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;
    /// One read from the stream into the core, `size` bytes at most; the
    /// end of stream is told to the core. `Ok(None)` when `deadline`
    /// passed first.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>>;
    /// The runtime that waits for this reader.
    type Rt: Runtime;
    /// Its waiting state (for a wait of the loop's own: room to write).
    fn rt(&mut self) -> &mut Self::Rt;
    /// What this reader remembers between calls.
    fn read_state(&mut self) -> &mut ReadState;
    /// Whether reading stops while what is owed cannot be written. One
    /// socket stops (TCP back-pressure: a peer that sends Pings and never
    /// reads meets a full socket instead of our memory); the split reader
    /// goes on: a writer busy with the stream owns the write, and the
    /// reader's Pongs are coalesced by the core meanwhile.
    fn backpressure(&self) -> bool;
}

/// What a reader remembers between calls.
#[derive(Debug)]
pub(crate) struct ReadState {
    read_size: usize,
    /// The last read filled its room: a short read right after it is the
    /// tail of the same burst (a message one read did not hold), not a
    /// sign that input got small, so it does not shrink the read size.
    filled: bool,
    /// The closing handshake is done (our Close flushed, the stream shut
    /// down, a client waited for the end of stream).
    finished: bool,
    /// The end has been reported.
    reported: bool,
    /// A write that failed while a message was being handed out: reported
    /// once the messages that arrived before it are out.
    deferred: Option<Error>,
}

impl ReadState {
    pub(crate) fn new() -> ReadState {
        ReadState {
            read_size: SMALL_READ,
            filled: false,
            finished: false,
            reported: false,
            deferred: None,
        }
    }

    /// Adapts the read size to what the last read brought: larger while
    /// reads fill it (bulk transfers use few system calls), smaller again
    /// when they come back mostly empty (small messages do not pay for a
    /// large buffer).
    #[inline]
    fn after_read(&mut self, got: usize) {
        let size = self.read_size;
        if got == size || !self.filled {
            self.read_size = if got == size {
                (size * 2).min(MAX_READ)
            } else if got < size / 4 {
                (size / 2).max(SMALL_READ)
            } else {
                size
            };
        }
        self.filled = got == size;
    }
}

/// What a call to [`poll_recv`] ends with.
#[derive(Debug)]
pub(crate) enum Received {
    /// The next message.
    Message(Message),
    /// The connection is over; this is how it ended
    /// ([`Error::ConnectionClosed`] for the normal end). `first`: the end
    /// has not been reported before.
    Ended {
        error: Error,
        // Read by the async adapters, which report an end once.
        #[allow(dead_code)]
        first: bool,
    },
    /// The caller's own bound (`until`) passed first; nothing is lost.
    Idle,
    /// A read that would block on a stream that does not wait (a
    /// non-blocking socket); call again when it is readable.
    WouldBlock(io::Error),
    /// The stream failed: the connection is lost.
    Failed(Error),
}

/// What an adapter returns from a receive: built where the read loop
/// returns, so that the usual case (a message) is put in the adapter's
/// type once, not matched out of a [`Received`] again.
pub(crate) trait Outcome {
    /// The next message.
    fn message(message: Message) -> Self;
    /// Any other end of the call.
    fn other(received: Received) -> Self;
}

impl Outcome for Received {
    #[inline]
    fn message(message: Message) -> Self {
        Received::Message(message)
    }

    #[inline]
    fn other(received: Received) -> Self {
        received
    }
}

/// The next message, or how the connection ended. `until` bounds the wait
/// (the blocking `recv_timeout`).
#[inline]
pub(crate) fn poll_recv<R: ReadSide, O: Outcome>(
    cx: &mut Context<'_>,
    side: &mut R,
    until: Option<Instant>,
) -> Poll<O> {
    loop {
        // The deadlines are checked before every read from the stream (see
        // `next_step`), and traffic is timed from then.
        let mut clock = None;
        let next = side.with(|d| d.next_step(|| *clock.insert(R::Rt::now())));
        match next {
            Step::Deliver(message, owed) => {
                // The message arrived whole, so it is handed out even if
                // writing its reply fails: a failed write (of a Pong) ends
                // the connection, and its error comes once the messages
                // that arrived before it are out. A reply that cannot be
                // written yet stays queued. Only control frames are
                // answered at once; what the application queued (an echo
                // `feed`) goes out in one write before the next read, so a
                // batch of input costs one write, not one per message. The
                // Close echo goes to a peer that may already be gone: its
                // errors do not matter.
                let is_close = matches!(message, Message::Close(_));
                if (owed && matches!(message, Message::Ping(_))) || is_close {
                    if let Poll::Ready(Err(e)) = side.poll_write_owed(cx) {
                        if !is_close {
                            side.read_state().deferred.get_or_insert(e);
                        }
                    }
                }
                return Poll::Ready(O::message(message));
            }
            Step::Ended => {
                if let Some(error) = side.read_state().deferred.take() {
                    side.read_state().reported = true;
                    return Poll::Ready(O::other(Received::Ended { error, first: true }));
                }
                ready!(poll_finish(cx, side));
                let first = !side.read_state().reported;
                side.read_state().reported = true;
                // The closing handshake is over: the connection leaves its
                // server's set.
                let error = side.with(|d| {
                    d.member = None;
                    d.ended()
                });
                return Poll::Ready(O::other(Received::Ended { error, first }));
            }
            Step::Read(deadline, owed) => {
                // TCP back-pressure: while what we owe the peer cannot be
                // written, input is not read either (one socket only).
                let mut blocked = false;
                if owed {
                    match side.poll_write_owed(cx) {
                        Poll::Ready(Err(e)) => {
                            side.read_state().reported = true;
                            return Poll::Ready(O::other(Received::Failed(e)));
                        }
                        Poll::Pending => blocked = side.backpressure(),
                        Poll::Ready(Ok(())) => {}
                    }
                }
                if let Some(until) = until {
                    // A write can block (a peer that stops reading): then
                    // the clock is read again.
                    let now = match clock {
                        Some(at) if !owed => at,
                        _ => R::Rt::now(),
                    };
                    if until <= now {
                        return Poll::Ready(O::other(Received::Idle));
                    }
                }
                let deadline = [deadline, until].into_iter().flatten().min();
                if blocked {
                    // Waiting for room to write, and the deadline.
                    match deadline {
                        Some(deadline) if side.rt().poll_until(cx, deadline).is_ready() => continue,
                        _ => return Poll::Pending,
                    }
                }
                let read_size = side.read_state().read_size;
                let size = match side.with(|d| {
                    if d.gave_rx {
                        d.gave_rx = false;
                        spare::lend(&mut d.conn);
                    }
                    d.grant(read_size, cx.waker(), R::Rt::now)
                }) {
                    Grant::Read(size) => size,
                    // The server's memory budget is spent: nothing is read
                    // (TCP pushes back on the peer) until another
                    // connection gives memory back, or the wait limit.
                    Grant::Wait(limit) => {
                        let until = [deadline, limit].into_iter().flatten().min();
                        match until {
                            Some(until) if side.rt().poll_until(cx, until).is_ready() => {
                                if limit.is_some_and(|limit| limit <= R::Rt::now()) {
                                    side.with(Driver::give_up_for_memory);
                                }
                                continue;
                            }
                            _ => return Poll::Pending,
                        }
                    }
                };
                match side.poll_read(cx, size, deadline) {
                    Poll::Ready(Ok(Some(n))) => side.read_state().after_read(n),
                    // The deadline passed: the next step sees it.
                    Poll::Ready(Ok(None)) => {}
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Poll::Ready(O::other(Received::WouldBlock(e)));
                    }
                    Poll::Ready(Err(e)) => {
                        side.with(Driver::fail);
                        side.read_state().reported = true;
                        return Poll::Ready(O::other(Received::Failed(e.into())));
                    }
                    Poll::Pending => {
                        // Nothing to hold while waiting for input.
                        // Nor the room the read was granted: the budget's
                        // memory goes to connections that have bytes.
                        side.with(|d| {
                            // The receive buffer goes to the thread's spare
                            // (or is freed) if idle; then the queues.
                            d.gave_rx |= spare::keep(&mut d.conn);
                            d.conn.release_queues();
                            d.settle_budget();
                        });
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
fn poll_finish<R: ReadSide>(cx: &mut Context<'_>, side: &mut R) -> Poll<()> {
    if side.read_state().finished {
        return Poll::Ready(());
    }
    loop {
        let now = R::Rt::now();
        let failed = side.with(|d| {
            d.conn.handle_timeout(now);
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
        match side.poll_read(cx, SMALL_READ, deadline) {
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(_)) => break,
            Poll::Pending => return Poll::Pending,
        }
    }
    side.read_state().finished = true;
    Poll::Ready(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_grows_while_reads_fill_it_and_shrinks_back() {
        let mut state = ReadState::new();
        for _ in 0..10 {
            state.after_read(state.read_size);
        }
        assert_eq!(state.read_size, MAX_READ);
        // The tail of a burst does not shrink it.
        state.after_read(10);
        assert_eq!(state.read_size, MAX_READ);
        for _ in 0..10 {
            state.after_read(10);
        }
        assert_eq!(state.read_size, SMALL_READ);
    }
}
