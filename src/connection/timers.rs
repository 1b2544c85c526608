//! Deadlines without a clock: the close timeout and the keepalive.
//!
//! The connection never reads the time. Input and commands only *note*
//! what happened (bytes arrived, our Close was queued); the next
//! [`Connection::handle_timeout`] call, which carries `now`, turns those
//! notes into instants. So the driver calls `handle_timeout(now)` after
//! every batch of input and commands, and again when the instant from
//! [`Connection::poll_timeout`] is reached.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use crate::time::Moment;

use super::{Connection, Shutdown, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::Timeout;
use crate::frame::OpCode;

#[derive(Debug)]
pub(super) struct Timers<T> {
    /// The `now` of the last `handle_timeout` call.
    last_now: Option<T>,
    /// Bytes arrived since the last `handle_timeout`.
    activity: bool,
    /// When traffic from the peer was last noted.
    last_activity: Option<T>,
    /// When our keepalive Ping went out, while it awaits an answer.
    ping_sent: Option<T>,
    /// Our Close was queued since the last `handle_timeout`.
    close_unarmed: bool,
    /// When we stop waiting for the peer (its Close, or for a client, its
    /// end of stream after the closing handshake).
    close_deadline: Option<T>,
    /// A message began since the last `handle_timeout`: its deadline is
    /// armed at the next one if it is still in progress.
    message_unarmed: bool,
    /// When the message in progress must have ended.
    message_deadline: Option<T>,
    /// Set once the connection is over: no more deadlines.
    stopped: bool,
    /// The deadline that ended the connection, if one did.
    fired: Option<Timeout>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            last_now: None,
            activity: false,
            last_activity: None,
            ping_sent: None,
            close_unarmed: false,
            close_deadline: None,
            message_unarmed: false,
            message_deadline: None,
            stopped: false,
            fired: None,
        }
    }
}

impl<T> Timers<T> {
    pub(super) fn activity(&mut self) {
        self.activity = true;
    }

    pub(super) fn close_sent(&mut self) {
        self.close_unarmed = true;
    }

    pub(super) fn stop(&mut self) {
        self.stopped = true;
    }

    /// A received message began.
    pub(super) fn message_began(&mut self) {
        self.message_unarmed = true;
    }

    /// The received message ended (or was dropped).
    pub(super) fn message_ended(&mut self) {
        self.message_unarmed = false;
        self.message_deadline = None;
    }

    /// Records the deadline that ended the connection.
    pub(super) fn fired(&mut self, timeout: Timeout) {
        self.fired.get_or_insert(timeout);
    }
}

impl<T: Moment> Connection<T> {
    /// When [`handle_timeout`](Self::handle_timeout) should be called next,
    /// if ever.
    ///
    /// An instant in the past (the `now` of the last call) means "call it
    /// again right away": something happened since that needs the time.
    ///
    /// A connection made with [`Connection::new_at`] knows the time from
    /// creation, so the keepalive deadline is reported at once. One made
    /// with [`Connection::new`] has never been told the time and answers
    /// `None` until the first `handle_timeout(now)`; a driver that waits
    /// for this deadline before calling it would never send a keepalive.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        let t = &self.timers;
        if t.stopped || self.shutdown != Shutdown::NotYet {
            return None;
        }
        if t.close_unarmed || t.message_unarmed {
            return t.last_now;
        }
        let mut next = earliest(t.close_deadline, t.message_deadline);
        let interval = self
            .config
            .ping_interval
            .filter(|_| self.state == State::Open);
        if let Some(interval) = interval {
            let keepalive = match t.ping_sent {
                Some(sent) => sent.checked_add(self.config.pong_timeout),
                None => t.last_activity.and_then(|at| at.checked_add(interval)),
            };
            next = earliest(next, keepalive);
        }
        next
    }

    /// Whether [`handle_timeout`](Self::handle_timeout) has anything to
    /// do: a deadline runs (the close timeout, the keepalive) or waits to
    /// be started (our Close was just queued). `false` for an open
    /// connection without keepalive ([`Config::ping_interval`] `None`, the
    /// default) and once the deadlines are over: a driver may then skip
    /// reading the clock, as the adapters do (two `clock_gettime` per
    /// echoed message were 1.3 % of a tokio echo server's time).
    ///
    /// [`Config::ping_interval`]: crate::Config::ping_interval
    #[must_use]
    pub fn needs_clock(&self) -> bool {
        let t = &self.timers;
        !t.stopped
            && (t.close_unarmed
                || t.close_deadline.is_some()
                || t.message_unarmed
                || t.message_deadline.is_some()
                || (self.config.ping_interval.is_some() && self.state == State::Open))
    }

    /// Tells the connection the time: notes when traffic and our Close
    /// happened, and fires what is due.
    ///
    /// - **Close timeout**: [`Config::close_timeout`](crate::Config::close_timeout)
    ///   after our Close, if the peer's Close has not arrived, the connection
    ///   is closed with 1006 (no Close received) and the write half is to be
    ///   shut down. A client that completed the closing handshake waits as
    ///   long for the server's end of stream, then shuts down itself
    ///   (RFC 6455 §7.1.1: "In abnormal cases (such as not having received a
    ///   TCP Close from the server after a reasonable amount of time) a
    ///   client MAY initiate the TCP Close.").
    /// - **Keepalive**, with [`Config::ping_interval`](crate::Config::ping_interval):
    ///   after that much silence from the peer, an empty Ping is sent; if
    ///   the peer then stays silent for
    ///   [`Config::pong_timeout`](crate::Config::pong_timeout), the
    ///   connection ends with [`Timeout::Keepalive`]: a Close with code 1011
    ///   and the reason `no traffic from the peer within the pong timeout`
    ///   is queued (and reported as is by [`close_frame`](Self::close_frame)),
    ///   then the shutdown, without waiting for the peer's Close. Any
    ///   traffic from the peer counts, not only the Pong.
    ///
    /// Returns the deadline that ended the connection ([`Timeout`]), from
    /// the call that fires it on, as [`timed_out`](Self::timed_out) does:
    /// `None` while none has (the usual case; `Option` is not
    /// `#[must_use]`, so a driver that looks at the outcome elsewhere may
    /// ignore it). Nothing about it is an [`Message`](crate::Message), which
    /// is what the peer sent, nor an [`error`](Self::error), which is the
    /// peer's fault.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsproto::{Config, Connection, Role, Timeout};
    ///
    /// let mut config = Config::default();
    /// config.ping_interval = Some(Duration::from_secs(30));
    /// config.pong_timeout = Duration::from_secs(10);
    /// let t0 = Instant::now();
    /// let mut server = Connection::new_at(Role::Server, config, t0);
    /// assert_eq!(server.handle_timeout(t0 + Duration::from_secs(30)), None); // Ping sent
    /// // Silence: no Pong, nothing.
    /// let end = server.handle_timeout(t0 + Duration::from_secs(40));
    /// assert_eq!(end, Some(Timeout::Keepalive));
    /// let frame = server.close_frame().unwrap();
    /// assert_eq!(frame.code.as_u16(), 1011);
    /// assert_eq!(frame.reason, "no traffic from the peer within the pong timeout");
    /// assert!(server.error().is_none()); // not the peer's protocol violation
    /// ```
    pub fn handle_timeout(&mut self, now: T) -> Option<Timeout> {
        self.tick(now);
        self.timers.fired
    }

    /// The deadline that ended the connection, if one did: the keepalive
    /// ([`Timeout::Keepalive`], close code 1011) or the close timeout
    /// ([`Timeout::Close`], 1006). Set by [`handle_timeout`](Self::handle_timeout)
    /// and sticky. A client that completed the closing handshake and then
    /// stopped waiting for the server's end of stream was not ended by a
    /// deadline: `None`.
    pub fn timed_out(&self) -> Option<Timeout> {
        self.timers.fired
    }

    fn tick(&mut self, now: T) {
        let t = &mut self.timers;
        t.last_now = Some(now);
        if t.stopped {
            return;
        }
        if t.activity || t.last_activity.is_none() {
            t.activity = false;
            t.last_activity = Some(now);
            t.ping_sent = None;
        }
        if t.close_unarmed {
            t.close_unarmed = false;
            // A timeout too large to add (`Duration::MAX`) means "never".
            t.close_deadline = now.checked_add(self.config.close_timeout);
        }
        if t.message_unarmed {
            t.message_unarmed = false;
            if self.assembler.in_progress() {
                t.message_deadline = self
                    .config
                    .message_timeout
                    .and_then(|timeout| now.checked_add(timeout));
            }
        }
        if t.message_deadline.is_some_and(|deadline| now >= deadline) {
            t.message_deadline = None;
            if self.state == State::Open || self.assembler.in_progress() {
                // RFC 6455 §7.4.1: 1008 "indicates that an endpoint is
                // terminating the connection because it has received a
                // message that violates its policy".
                t.fired = Some(Timeout::Message);
                let reason = Timeout::Message.to_string();
                self.close_now(CloseCode::POLICY, &reason);
                self.timers.stopped = true;
                return;
            }
        }
        let t = &mut self.timers;
        if t.close_deadline.is_some_and(|deadline| now >= deadline) {
            t.close_deadline = None;
            if self.state != State::Closed {
                t.fired = Some(Timeout::Close);
                self.finish(CloseFrame::new(CloseCode::ABNORMAL));
            }
            self.owed_pong = None;
            if self.shutdown == Shutdown::NotYet {
                self.shutdown = Shutdown::Owed;
            }
            self.timers.stopped = true;
            return;
        }
        let Some(interval) = self.config.ping_interval else {
            return;
        };
        if self.state != State::Open {
            return;
        }
        match t.ping_sent {
            Some(sent) if reached(now, sent, self.config.pong_timeout) => {
                // RFC 6455 §5.5.2: "A Ping frame may serve either as a
                // keepalive or as a means to verify that the remote
                // endpoint is still responsive." It is not: we close with
                // 1011, §7.4.1: "terminating the connection because it
                // encountered an unexpected condition that prevented it
                // from fulfilling the request."
                t.fired = Some(Timeout::Keepalive);
                let reason = Timeout::Keepalive.to_string();
                self.close_now(CloseCode::INTERNAL_ERROR, &reason);
                self.timers.stopped = true;
            }
            Some(_) => {}
            None => {
                if t.last_activity.is_some_and(|at| reached(now, at, interval)) {
                    t.ping_sent = Some(now);
                    let key = self.next_key();
                    self.tx.push_frame_copied(OpCode::Ping, true, b"", key);
                }
            }
        }
    }
}

/// Whether `now` is at least `duration` after `start`; a sum too large to
/// represent is never reached.
fn reached<T: Moment>(now: T, start: T, duration: Duration) -> bool {
    start
        .checked_add(duration)
        .is_some_and(|deadline| now >= deadline)
}

/// The earlier of two optional instants.
fn earliest<T: Moment>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
