//! The connection as every adapter holds it: the core plus what the
//! adapter learned about its transport, and the decisions that do not
//! depend on how the adapter waits (how a connection ended, a refused
//! send, when writes get bounded by the close timeout, what leaves the
//! core's queue).

use std::io;
use std::time::{Duration, Instant};

use super::error::{Error, is_timeout};
use super::outgoing::Chunks;
use crate::{CloseCode, Connection, Event, Message, State, Timeout, Transmit, UsageError};
#[cfg(feature = "tokio")]
use crate::{Delivery, PreparedMessage};

/// The connection and what the adapter learned about its stream.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) conn: Connection,
    /// A read or write failed: the connection is lost and the stream is
    /// not used again.
    failed: bool,
    /// The write timeout was bounded by the close timeout (done once the
    /// connection stops being open).
    close_bounded: bool,
}

impl Driver {
    pub(crate) fn new(conn: Connection) -> Driver {
        Driver {
            conn,
            failed: false,
            close_bounded: false,
        }
    }

    /// The error that reports how a closed connection ended; returned by
    /// every read after the end, so a read loop always stops.
    pub(crate) fn ended(&self) -> Error {
        if self.failed {
            return Error::ConnectionLost;
        }
        if let Some(e) = self.conn.error() {
            return Error::Protocol(e.clone());
        }
        match self.conn.timed_out() {
            Some(Timeout::Keepalive) => return Error::KeepaliveTimeout,
            Some(Timeout::Close) => return Error::CloseTimeout,
            _ => {}
        }
        match self.conn.close_frame() {
            Some(frame) if frame.code == CloseCode::ABNORMAL => Error::ConnectionLost,
            _ => Error::ConnectionClosed,
        }
    }

    /// Queues a message on the core.
    pub(crate) fn queue(&mut self, message: Message) -> Result<(), Error> {
        let result = match message {
            Message::Text(text) => self.conn.send_text(text),
            Message::Binary(data) => self.conn.send_binary(data),
            Message::Ping(data) => self.conn.send_ping(data),
            Message::Pong(data) => self.conn.send_pong(data),
            Message::Close(frame) => self.conn.close(frame.code, frame.reason.as_str()),
        };
        result.map_err(|e| self.refused(e))
    }

    /// Queues a prepared message on the core (never waits for room: a
    /// reader too slow is dropped, see `Connection::send_prepared`);
    /// `elsewhere` is what the adapter took out and has not written.
    #[cfg(feature = "tokio")]
    pub(crate) fn queue_prepared(
        &mut self,
        message: &PreparedMessage,
        elsewhere: usize,
    ) -> Result<Delivery, Error> {
        self.conn
            .send_prepared_beyond(message, elsewhere)
            .map_err(|e| self.refused(e))
    }

    /// A send the core refused; on a connection that is over, how it ended.
    pub(crate) fn refused(&self, e: UsageError) -> Error {
        if e == UsageError::Closed && self.conn.state() == State::Closed {
            self.ended()
        } else {
            Error::Usage(e)
        }
    }

    /// The transport failed: the connection is lost (1006), nothing more is
    /// read or written.
    pub(crate) fn fail(&mut self) {
        self.failed = true;
        self.conn.receive_eof();
    }

    /// Ends the connection after a failed write and says why. A write that
    /// timed out (`WouldBlock` on Unix) is reported as `TimedOut`, so that
    /// [`Error::is_fatal`] calls it fatal.
    pub(crate) fn write_failed(&mut self, e: io::Error) -> Error {
        self.fail();
        if is_timeout(&e) {
            return Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "write timed out; the connection is lost (a frame may be half sent)",
            ));
        }
        e.into()
    }

    /// The write timeout to set once the connection stops being open: a
    /// peer that does not read must not hold a closing connection past the
    /// close timeout.
    pub(crate) fn closing_write_timeout(&mut self) -> Option<Duration> {
        if self.close_bounded || self.conn.state() == State::Open {
            return None;
        }
        self.close_bounded = true;
        let config = self.conn.config();
        Some(config.write_timeout.map_or(config.close_timeout, |write| {
            write.min(config.close_timeout)
        }))
    }

    /// Takes what the core queued into `out` (the split writer's chunks,
    /// written without the core's lock); returns the write timeout to set
    /// first, if the connection just started closing, and whether to shut
    /// down after writing.
    pub(crate) fn take_queue(&mut self, out: &mut Chunks) -> (Option<Duration>, bool) {
        let timeout = self.closing_write_timeout();
        (timeout, take_transmits(&mut self.conn, out))
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failed
    }
}

/// What a reader does next ([`Driver::next_step`]).
pub(crate) enum Step {
    /// Hand out this event; whether bytes are owed (queued to write).
    Event(Event, bool),
    /// The connection is over: finish and report how it ended.
    Ended,
    /// Read from the stream, waiting at most until the deadline; whether
    /// bytes are owed first.
    Read(Option<Instant>, bool),
}

impl Driver {
    /// The reader's next step, the same for every adapter: events already
    /// parsed go out first, without a look at the clock (a `clock_gettime`
    /// per message was a fifth of the cost of reading small ones); only
    /// when none waits, and only if a deadline runs
    /// ([`Connection::needs_clock`]), are the deadlines checked at `now()`.
    /// Messages that arrived whole before a failure are still handed out.
    pub(crate) fn next_step(&mut self, now: impl FnOnce() -> Instant) -> Step {
        let event = match self.conn.poll_event() {
            Some(event) => Some(event),
            None if !self.conn.needs_clock() => None,
            None => {
                self.conn.handle_timeout(now());
                self.conn.poll_event()
            }
        };
        let owed = self.conn.buffered_amount() > 0;
        match event {
            Some(event) => Step::Event(event, owed),
            None if self.failed || self.conn.state() == State::Closed => Step::Ended,
            None => Step::Read(self.conn.poll_timeout(), owed),
        }
    }
}

/// Moves the core's pending output into `out`; whether it asked for the
/// shutdown.
pub(crate) fn take_transmits(conn: &mut Connection, out: &mut Chunks) -> bool {
    let mut shutdown = false;
    while let Some(transmit) = conn.poll_transmit() {
        match transmit {
            Transmit::Data(bytes) => out.push(bytes),
            Transmit::Shutdown => shutdown = true,
        }
    }
    shutdown
}

/// Largest read size, reached only while reads keep filling the buffer.
pub(crate) const MAX_READ: usize = 64 << 10;

/// How much one read asks for.
pub(crate) struct ReadSize;

impl ReadSize {
    /// Grows the read size while reads fill it and shrinks it (down to
    /// `min`) when they come back mostly empty, so bulk transfers use few
    /// system calls and small messages do not pay for a large buffer.
    pub(crate) fn next(size: usize, got: usize, min: usize) -> usize {
        if got == size {
            (size * 2).min(MAX_READ)
        } else if got < size / 4 {
            (size / 2).max(min)
        } else {
            size
        }
    }
}
