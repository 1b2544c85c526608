//! The one driver under every blocking adapter: the loop that feeds the
//! core what the stream reads, hands out its events, writes its queue and
//! turns its deadlines into read timeouts.
//!
//! [`WebSocket`](super::WebSocket) and both split halves call the same
//! functions here. They differ only in how they reach the connection
//! (owned, or behind the split's lock) and where the stream reads into
//! (the core's buffer, or the split reader's own): that is the
//! [`ReadSide`] trait. Writing has one engine, [`write_all`] (in
//! `outgoing.rs`), over the core's queue or over chunks the split writer
//! took out of it.
//!
//! Failure rule: reads are exact (a partial frame stays in the core), so a
//! read that times out can be retried. A write is not: a frame may be half
//! on the wire, and over TLS the plaintext is already encrypted. So any
//! write error, a write timeout included, ends the connection for good:
//! the core is told the transport is gone, the stream is not touched again,
//! and every later call reports [`Error::ConnectionLost`].

use std::io;
use std::time::{Duration, Instant};

use super::stream::Stream;
pub(super) use crate::driver::Driver;
use crate::driver::error::{Error, is_timeout};
use crate::driver::outgoing::{Chunks, write_all};
use crate::driver::state::{self, ReadSize, Step};
use crate::{Event, Message, State};

/// First and smallest read size: small, so an idle connection holds little
/// and a read that brings one small message zero-fills little of the
/// buffer it reads into (`receive_buffer` zero-fills what it lends).
const MIN_READ: usize = 1 << 10;

impl Driver {
    /// Writes everything the core has queued to `stream` (the unsplit
    /// socket): vectored writes straight from the core's buffers, then the
    /// shutdown once the core asks for it, then a flush.
    pub(super) fn write_to<S: Stream>(&mut self, stream: &mut S) -> Result<(), Error> {
        if self.is_failed() {
            return Err(Error::ConnectionLost);
        }
        let result = self.write_to_inner(stream);
        result.map_err(|e| self.write_failed(e))
    }

    fn write_to_inner<S: Stream>(&mut self, stream: &mut S) -> io::Result<()> {
        if let Some(timeout) = self.closing_write_timeout() {
            stream.set_write_timeout(Some(timeout))?;
        }
        write_all(stream, &mut self.conn)?;
        // The shutdown comes only once the connection is over, so an open
        // one need not ask.
        if self.conn.state() == State::Closed {
            let mut rest = Chunks::default();
            if state::take_transmits(&mut self.conn, &mut rest) {
                write_all(stream, &mut rest)?;
                stream.flush()?;
                stream.shutdown_write()?;
            }
        }
        stream.flush()
    }
}

/// How a reading adapter reaches the connection and the stream; the read
/// loop ([`read`], [`read_timeout`]) and the end ([`finish`]) are the same for all.
pub(super) trait ReadSide {
    /// Runs `f` on the driver (owned, or under the split's lock).
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R;
    /// Writes what the core queued (a Pong, the Close echo). `must`: write
    /// it now even if another thread is writing (the split reader then
    /// waits for the write lock; otherwise it leaves the bytes to the
    /// thread that holds it).
    fn write_owed(&mut self, must: bool) -> Result<(), Error>;
    /// As [`Stream::set_read_timeout`](super::Stream::set_read_timeout).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// One read of at most `size` bytes from the stream into the core; `0`
    /// is the end of stream (not yet told to the core).
    fn read_into_core(&mut self, size: usize) -> io::Result<usize>;
    /// The longest one read may block, so a deadline that another thread
    /// starts (the split writer's Close) is noticed in time.
    fn max_wait(&mut self) -> Option<Duration> {
        None
    }
}

/// What a reader remembers between reads.
#[derive(Debug)]
pub(super) struct ReadState {
    read_size: usize,
    read_timeout: ReadTimeout,
    ended: bool,
    /// A write that failed while a message was being handed out: reported
    /// once the messages that arrived before it are out.
    deferred: Option<Error>,
}

impl ReadState {
    pub(super) fn new() -> ReadState {
        ReadState {
            read_size: MIN_READ,
            read_timeout: ReadTimeout::Unknown,
            ended: false,
            deferred: None,
        }
    }
}

/// Reads the next message, waiting as long as it takes.
pub(super) fn read<R: ReadSide>(side: &mut R, state: &mut ReadState) -> Result<Message, Error> {
    loop {
        if let Some(message) = read_until(side, state, None)? {
            return Ok(message);
        }
    }
}

/// Reads the next message, waiting at most `timeout`: `Ok(None)` when it
/// passes first.
pub(super) fn read_timeout<R: ReadSide>(
    side: &mut R,
    state: &mut ReadState,
    timeout: Duration,
) -> Result<Option<Message>, Error> {
    read_until(side, state, Some(Instant::now() + timeout))
}

/// Reads the next message. `until` bounds the wait: `Ok(None)` when it
/// passes first. A stream that reports `WouldBlock`/`TimedOut` without
/// having waited for the timeout we set (a non-blocking socket, or a
/// stream with a timeout of its own) gets [`Error::Io`] with `WouldBlock`
/// back, not a busy loop; the call can be repeated.
fn read_until<R: ReadSide>(
    side: &mut R,
    state: &mut ReadState,
    until: Option<Instant>,
) -> Result<Option<Message>, Error> {
    loop {
        // The deadlines are checked before every read from the stream (see
        // `next_step`), and traffic is timed from then.
        let mut clock = None;
        let next = side.with(|d| d.next_step(|| *clock.insert(Instant::now())));
        match next {
            Step::Event(event, owed) => {
                // The message arrived whole, so it is returned even if
                // writing what is owed fails: a failed write (of a Pong)
                // ends the connection, and its error comes once the
                // messages that arrived before it are out. The Close echo
                // and the shutdown go to a peer that may already be gone:
                // their errors do not matter.
                let is_close = matches!(event, Event::Close(_));
                if owed || is_close {
                    if let Err(e) = side.write_owed(is_close) {
                        if !is_close {
                            state.deferred.get_or_insert(e);
                        }
                    }
                }
                return Ok(Some(Message::from(event)));
            }
            Step::Ended => {
                return Err(match state.deferred.take() {
                    Some(e) => e,
                    None => finish(side, state),
                });
            }
            Step::Read(deadline, owed) => {
                if owed {
                    side.write_owed(false)?;
                }
                // A write can block (a peer that stops reading): then the
                // clock is read again, or the read timeout would be
                // computed from a stale instant and the deadline overshot.
                let now = match clock {
                    Some(at) if !owed => at,
                    _ => Instant::now(),
                };
                if until.is_some_and(|until| until <= now) {
                    return Ok(None);
                }
                let deadline = [deadline, until].into_iter().flatten().min();
                match read_once(side, state, deadline, now) {
                    Ok(()) => {}
                    Err(e) if is_timeout(&e) => {
                        return Err(Error::Io(io::Error::new(io::ErrorKind::WouldBlock, e)));
                    }
                    Err(e) => {
                        side.with(Driver::fail);
                        return Err(e.into());
                    }
                }
            }
        }
    }
}

/// One read from the stream into the core, bounded by `deadline` (and the
/// side's longest wait). The end of stream is told to the core; a timeout
/// we asked for is not an error. Errors are the stream's: a timeout among
/// them is one we did not ask for.
fn read_once<R: ReadSide>(
    side: &mut R,
    state: &mut ReadState,
    deadline: Option<Instant>,
    now: Instant,
) -> io::Result<()> {
    let cap = side.max_wait().map(|wait| now + wait);
    let deadline = [deadline, cap].into_iter().flatten().min();
    if let Some(timeout) = state.read_timeout.update(deadline, now) {
        side.set_read_timeout(timeout)?;
    }
    match side.read_into_core(state.read_size) {
        Ok(0) => {
            side.with(|d| d.conn.receive_eof());
            Ok(())
        }
        Ok(n) => {
            state.read_size = ReadSize::next(state.read_size, n, MIN_READ);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) if is_timeout(&e) && state.read_timeout.waited(now, Instant::now()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The end of the connection: flush our Close and shut down, then (a
/// client) wait for the server's end of stream, bounded by the close
/// timeout. Errors here no longer matter: the connection is over.
pub(super) fn finish<R: ReadSide>(side: &mut R, state: &mut ReadState) -> Error {
    if !state.ended {
        state.ended = true;
        loop {
            let failed = side.with(|d| {
                d.conn.handle_timeout(Instant::now());
                d.is_failed()
            });
            if failed || side.write_owed(true).is_err() {
                break;
            }
            // Another half may have failed since (split): then the stream
            // is not read again.
            let (finished, deadline) =
                side.with(|d| (d.conn.is_finished() || d.is_failed(), d.conn.poll_timeout()));
            if finished {
                break;
            }
            // Input is discarded now; this waits for the end of stream or
            // the close deadline.
            if read_once(side, state, deadline, Instant::now()).is_err() {
                break;
            }
        }
    }
    side.with(|d| d.ended())
}

/// The read timeout last set on the stream, so that it is changed (a system
/// call) only when a deadline needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadTimeout {
    /// Not set by us yet: whatever the caller left on the stream.
    Unknown,
    /// Set to this (`None`: block).
    Set(Option<Duration>),
}

impl ReadTimeout {
    /// The timeout to set for `deadline`, or `None` when the current one is
    /// good enough: it fires no later than the deadline (give or take
    /// 1/64) and no earlier than halfway there. An early wake-up costs one
    /// loop; a timeout left in place saves a system call per read.
    fn update(&mut self, deadline: Option<Instant>, now: Instant) -> Option<Option<Duration>> {
        let want = deadline.map(|d| d.saturating_duration_since(now));
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
    use crate::driver::state::MAX_READ;

    #[test]
    fn read_size_grows_while_reads_fill_it_and_shrinks_back() {
        let mut size = MIN_READ;
        for _ in 0..10 {
            size = ReadSize::next(size, size, MIN_READ);
        }
        assert_eq!(size, MAX_READ);
        size = ReadSize::next(size, size / 2, MIN_READ);
        assert_eq!(size, MAX_READ);
        for _ in 0..10 {
            size = ReadSize::next(size, 10, MIN_READ);
        }
        assert_eq!(size, MIN_READ);
    }

    #[test]
    fn read_timeout_is_reset_only_when_needed() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let mut t = ReadTimeout::Unknown;
        // Unknown: always set, even to "block".
        assert_eq!(t.update(None, now), Some(None));
        assert_eq!(t.update(None, now), None);
        assert_eq!(t.update(Some(now + secs(20)), now), Some(Some(secs(20))));
        // A deadline that moved a little keeps the timeout.
        assert_eq!(
            t.update(Some(now + secs(20)), now + Duration::from_millis(5)),
            None
        );
        // One much earlier needs a new one; so does "no deadline".
        assert_eq!(t.update(Some(now + secs(5)), now), Some(Some(secs(5))));
        assert_eq!(t.update(None, now), Some(None));
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
