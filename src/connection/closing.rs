//! The closing handshake (RFC 6455 §5.5.1, §7) and failing the
//! connection (§7.1.7): our Close command, the reaction to the peer's Close
//! or a violation (held back until the events before it are handed out),
//! the move to [`State::Closed`] and the shutdown of the write half owed
//! after it. Deadlines on the way (the close timeout) are in `timers.rs`.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::time::Moment;
use bytes::BytesMut;

use super::{Connection, State};
use crate::Message;
use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::error::{ProtocolError, UsageError};
use crate::frame::OpCode;
use crate::role::Role;
use crate::utf8::Utf8Bytes;

/// Input that ends the connection, held back while events that arrived
/// before it wait to be handed out, so that the application can still
/// answer them (see [`Connection::poll_event`]).
#[derive(Debug, Clone)]
pub(super) enum Ending {
    /// The peer's Close frame.
    Close(CloseFrame),
    /// A protocol violation.
    Fail(ProtocolError),
}

/// The shutdown of the write half, owed once the connection is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shutdown {
    NotYet,
    Owed,
    Done,
}

impl<T: Moment> Connection<T> {
    /// Starts the closing handshake (RFC 6455 §7.1.2) with `code` and a
    /// reason of at most 123 bytes.
    ///
    /// Afterwards no message can be sent ([`UsageError::Closed`]); messages
    /// from the peer still arrive until its Close. The Close is queued even
    /// when the outgoing buffer is over its cap.
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), UsageError> {
        let code = code.into();
        if self.close_sent || self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        CloseFrame::check_sendable(code, reason)?;
        self.queue_close(code, reason.as_bytes());
        self.state = State::Closing;
        Ok(())
    }

    /// Queues our Close frame and starts the close timeout.
    pub(super) fn queue_close(&mut self, code: CloseCode, reason: &[u8]) {
        debug_assert!(!self.close_sent && reason.len() <= MAX_CLOSE_REASON);
        let key = self.next_key();
        self.tx
            .push_frame_with(OpCode::Close, 2 + reason.len(), key, |out| {
                CloseFrame::encode_payload(code, reason, out)
            });
        self.close_sent = true;
        self.timers.close_sent();
    }

    /// Input has ended with the peer's Close or a violation: stop
    /// processing input now, and react once the events before it are
    /// handed out (at once when there are none).
    pub(super) fn end_input(&mut self, ending: Ending) {
        if let Ending::Fail(error) = &ending {
            self.error = Some(error.clone());
        }
        self.ending = Some(ending);
        self.stop_input();
        if self.events.is_empty() {
            self.settle();
        }
    }

    /// Reacts to an input that ended the connection, if one waits. Inline
    /// for the usual case (nothing waits): every `poll_event` on an empty
    /// queue asks.
    #[inline]
    pub(super) fn settle(&mut self) {
        if self.ending.is_some() {
            self.settle_ending();
        }
    }

    #[cold]
    fn settle_ending(&mut self) {
        match self.ending.take() {
            None => {}
            Some(Ending::Close(frame)) => self.on_close_received(frame),
            Some(Ending::Fail(error)) => self.fail(error),
        }
    }

    /// The peer's Close arrived (RFC 6455 §5.5.1).
    pub(super) fn on_close_received(&mut self, frame: CloseFrame) {
        self.close_received = true;
        if !self.close_sent {
            // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did
            // not previously send a Close frame, the endpoint MUST send a
            // Close frame in response. (When sending a Close frame in
            // response, the endpoint typically echos the status code it
            // received.)" An empty Close is answered with 1000.
            let code = if frame.code == CloseCode::NO_STATUS {
                CloseCode::NORMAL
            } else {
                frame.code
            };
            self.queue_close(code, b"");
        }
        self.owed_pong = None;
        self.events.push_back(Message::Close(frame.clone()));
        self.finish(frame);
        // RFC 6455 §5.5.1: "The server MUST close the underlying TCP
        // connection immediately; the client SHOULD wait for the server to
        // close the connection" (the close timeout bounds that wait).
        if self.role == Role::Server {
            self.shutdown = Shutdown::Owed;
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): queue a Close with the
    /// error's code unless one went out already, stop processing input, and
    /// make the error sticky.
    pub(super) fn fail(&mut self, error: ProtocolError) {
        let code = error.close_code();
        let text = error.to_string();
        self.error = Some(error);
        self.close_now(code, &text);
    }

    /// Ends the connection at once with a Close of `code` (unless one went
    /// out already), its reason `text` cut to fit: a violation, or the
    /// keepalive's timeout. [`close_frame`](Connection::close_frame)
    /// reports the frame that was sent, reason included.
    pub(super) fn close_now(&mut self, code: CloseCode, text: &str) {
        let mut outcome = CloseFrame::new(code);
        if !self.close_sent {
            // RFC 6455 §7.1.7: "the endpoint SHOULD send a Close frame with
            // an appropriate status code". The reason is the error's text,
            // cut to fit 123 bytes on a character boundary.
            let mut end = text.len().min(MAX_CLOSE_REASON);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let reason = &text[..end];
            self.queue_close(code, reason.as_bytes());
            outcome.reason = Utf8Bytes::from(reason);
        }
        self.owed_pong = None;
        self.finish(outcome);
        // RFC 6455 §7.1.7: "the client MUST _Close the WebSocket
        // Connection_ ... the server MUST _Close the WebSocket Connection_".
        self.shutdown = Shutdown::Owed;
    }

    /// Enters [`State::Closed`] with `outcome` and drops all input state:
    /// RFC 6455 §7.1.7, "An endpoint MUST NOT continue to attempt to process
    /// data (including a responding Close frame) from the remote endpoint".
    pub(super) fn finish(&mut self, outcome: CloseFrame) {
        self.state = State::Closed;
        self.outcome.get_or_insert(outcome);
        self.stop_input();
    }

    /// Drops all input state; input from now on is ignored.
    pub(super) fn stop_input(&mut self) {
        self.frame = None;
        self.assembler.reset();
        self.timers.message_ended();
        self.rx = BytesMut::new();
        self.rx_peak = 0;
        self.rx_lent = None;
    }
}
