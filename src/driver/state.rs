//! The connection as every adapter holds it: the core plus what the
//! adapter learned about its transport, and the decisions that do not
//! depend on how the adapter waits (how a connection ended, a refused
//! send, the limit on a stalled write, what leaves the core's queue).

use std::io;
use std::time::{Duration, Instant};

use super::budget::{Grant, Reservation};
use super::error::Error;
use super::runtime::WriteLimit;
use super::shutdown::{Membership, Order};
use super::write::Chunks;
use crate::{
    CloseCode, Connection, Delivery, Message, PreparedMessage, State, Timeout, Transmit, UsageError,
};

/// The connection and what the adapter learned about its stream.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) conn: Connection,
    /// A read or write failed: the connection is lost and the stream is
    /// not used again.
    failed: bool,
    /// The server's set this connection belongs to, if any.
    pub(crate) member: Option<Membership>,
    /// The server's memory budget, if any: what this connection counts in
    /// it.
    pub(crate) budget: Option<Reservation>,
    /// The receive buffer went to this thread's spare while waiting (see
    /// [`spare`](super::spare)): the next read takes the spare back.
    pub(crate) gave_rx: bool,
}

impl Driver {
    pub(crate) fn new(conn: Connection) -> Driver {
        Driver {
            conn,
            failed: false,
            member: None,
            budget: None,
            gave_rx: false,
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
            Some(Timeout::Message) => return Error::MessageTimeout,
            Some(Timeout::Budget) => return Error::MemoryExhausted,
            _ => {}
        }
        match self.conn.close_frame() {
            Some(frame) if frame.code == CloseCode::ABNORMAL => Error::ConnectionLost,
            _ => Error::ConnectionClosed,
        }
    }

    /// Queues a message on the core.
    #[inline]
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
    pub(crate) fn queue_prepared(
        &mut self,
        message: &PreparedMessage,
        elsewhere: usize,
    ) -> Result<Delivery, Error> {
        self.conn
            .send_prepared_beyond(message, elsewhere)
            .map_err(|e| self.refused(e))
    }

    /// Runs a command of the core, its refusal told as an adapter error.
    pub(crate) fn command(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        f(&mut self.conn).map_err(|e| self.refused(e))
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
        if super::error::is_timeout(&e) {
            return Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "write timed out; the connection is lost (a frame may be half sent)",
            ));
        }
        e.into()
    }

    /// How long a write may stall: the write timeout, and once the
    /// connection stops being open the close timeout too (a peer that does
    /// not read must not hold a closing connection past it).
    #[inline]
    pub(crate) fn write_limit(&self, write_timeout: Option<std::time::Duration>) -> WriteLimit {
        let bound = if self.conn.state() == State::Open {
            write_timeout
        } else {
            let close = self.conn.config().close_timeout;
            Some(write_timeout.map_or(close, |write| write.min(close)))
        };
        bound.map_or(WriteLimit::None, WriteLimit::Stall)
    }

    /// Moves what the core queued into `out` (the split writer's chunks,
    /// written without the core's lock); whether it asked for the
    /// shutdown.
    pub(crate) fn take_queue(&mut self, out: &mut Chunks) -> bool {
        let mut shutdown = false;
        while let Some(transmit) = self.conn.poll_transmit() {
            match transmit {
                Transmit::Data(bytes) => out.push(bytes),
                Transmit::Shutdown => shutdown = true,
            }
        }
        shutdown
    }

    /// Whether the core asks for the shutdown now that everything before
    /// it is out (it comes only once the connection is over, so an open
    /// one need not ask).
    #[inline]
    pub(crate) fn shutdown_due(&mut self) -> bool {
        self.conn.state() == State::Closed
            && std::iter::from_fn(|| self.conn.poll_transmit()).any(|t| t == Transmit::Shutdown)
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failed
    }

    /// How many bytes the next read may bring (at most `want`), or how long
    /// to wait for memory: see [`MemoryBudget`](super::budget::MemoryBudget).
    #[inline]
    pub(crate) fn grant(
        &mut self,
        want: usize,
        waker: &std::task::Waker,
        now: impl FnOnce() -> Instant,
    ) -> Grant {
        match &mut self.budget {
            None => Grant::Read(want),
            Some(budget) => budget.grant(self.conn.incomplete_input(), want, waker, now),
        }
    }

    /// Counts in the budget what the connection holds now (beyond its
    /// floor), giving back room granted to a read that did not use it.
    #[inline]
    pub(crate) fn settle_budget(&mut self) {
        if let Some(budget) = &mut self.budget {
            budget.settle(self.conn.incomplete_input());
        }
    }

    /// The budget stayed spent past its wait limit: the connection closes
    /// with 1013 and its partial input is dropped.
    pub(crate) fn give_up_for_memory(&mut self) {
        self.conn.give_up(crate::Timeout::Budget);
        self.settle_budget();
    }

    /// How long a reader may wait for input before looking again, for a
    /// runtime whose readers are not woken: while in a set, a shutdown
    /// must be seen in time. Registers the reader's waker with the set
    /// otherwise.
    #[inline]
    pub(crate) fn wait_cap(&mut self, waker: &std::task::Waker, woken: bool) -> Option<Duration> {
        let member = self.member.as_mut()?;
        if woken {
            member.register(waker);
            return None;
        }
        member.may_order().then_some(super::shutdown::SET_POLL)
    }
}

/// What a reader does next ([`Driver::next_step`]).
pub(crate) enum Step {
    /// Hand out this message; whether bytes are owed (queued to write).
    Deliver(Message, bool),
    /// The connection is over: finish and report how it ended.
    Ended,
    /// Read from the stream, waiting at most until the deadline; whether
    /// bytes are owed first.
    Read(Option<Instant>, bool),
}

impl Driver {
    /// The reader's next step, the same for every adapter: messages already
    /// parsed go out first, without a look at the clock (a `clock_gettime`
    /// per message was a fifth of the cost of reading small ones); only
    /// when none waits, and only if a deadline runs
    /// ([`Connection::needs_clock`]), are the deadlines checked at `now()`.
    /// Messages that arrived whole before a failure are still handed out.
    #[inline]
    pub(crate) fn next_step(&mut self, now: impl FnOnce() -> Instant) -> Step {
        if let Some(order) = self.member.as_mut().and_then(Membership::order) {
            match order {
                // After what the application queued; refused only when a
                // Close is already under way, which is as good.
                Order::Close(code, reason) => {
                    let _ = self.conn.close(code, &reason);
                }
                Order::Cut => self.fail(),
            }
            self.settle_budget();
        }
        // The budget is settled where what the connection holds changes:
        // after each read (`ReadSide::poll_read`), a deadline or an order
        // here, before waiting; handing a parsed message out changes
        // nothing it counts.
        if let Some(message) = self.conn.poll_event() {
            return Step::Deliver(message, self.conn.buffered_amount() > 0);
        }
        // Asked once: after `handle_timeout`, `poll_timeout` gives the
        // next deadline (none once the deadlines stopped).
        let clock = self.conn.needs_clock();
        let event = match clock {
            false => None,
            true => {
                self.conn.handle_timeout(now());
                self.settle_budget();
                self.conn.poll_event()
            }
        };
        let owed = self.conn.buffered_amount() > 0;
        match event {
            Some(message) => Step::Deliver(message, owed),
            None if self.failed || self.conn.state() == State::Closed => Step::Ended,
            // Without a deadline running there is none to compute.
            None if !clock => Step::Read(None, owed),
            None => Step::Read(self.conn.poll_timeout(), owed),
        }
    }
}
