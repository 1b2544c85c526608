//! The methods of the blocking [`WebSocket`] and its split halves that
//! wait: each runs the shared driver on this thread ([`block_poll`]).

use std::time::{Duration, Instant};

use super::runtime::{Blocking, block_poll};
use super::stream::{ReadHalf, SplitStream, Stream, WriteHalf};
use super::{WebSocket, WebSocketReader, WebSocketWriter};
use crate::driver::recv::{Outcome, Received};
use crate::driver::{Error, split};
use crate::{CloseCode, Message};

/// What a blocking read returns: the message, `None` when the caller's
/// bound passed, or how the connection ended (every call after the end
/// reports it again, so a read loop always stops).
fn outcome(received: Received) -> Result<Option<Message>, Error> {
    match received {
        Received::Message(message) => Ok(Some(message)),
        Received::Idle => Ok(None),
        Received::Ended { error, .. } | Received::Failed(error) => Err(error),
        Received::WouldBlock(e) => Err(Error::Io(e)),
    }
}

/// The message of a read without a bound of its own.
impl Outcome for Result<Message, Error> {
    #[inline]
    fn message(message: Message) -> Self {
        Ok(message)
    }

    fn other(received: Received) -> Self {
        outcome(received)?.ok_or_else(|| Error::Io(std::io::ErrorKind::WouldBlock.into()))
    }
}

impl<S: Stream> WebSocket<S> {
    /// Reads the next message, answering Pings and the peer's Close on the
    /// way (the Pong or Close echo is written before this returns).
    ///
    /// After the peer's Close has been returned, the next call completes
    /// the closing handshake (a client waits for the server to close TCP,
    /// bounded by the close timeout) and returns
    /// [`Error::ConnectionClosed`], as does every call after it. A peer that
    /// vanishes gives [`Error::ConnectionLost`] (1006); a protocol violation
    /// gives [`Error::Protocol`] once its Close has been sent; a peer that
    /// leaves the keepalive's Ping unanswered
    /// ([`Config::pong_timeout`](crate::Config::pong_timeout)) gives
    /// [`Error::KeepaliveTimeout`] once our Close (1011) has been sent.
    ///
    /// This owns the stream's read timeout (it sets it to the core's next
    /// deadline); to wait with a bound of your own, use
    /// [`read_timeout`](Self::read_timeout). On a non-blocking stream, a
    /// read that would block returns [`Error::Io`] with
    /// [`WouldBlock`](std::io::ErrorKind::WouldBlock) (not fatal: call again
    /// when the stream is readable) instead of spinning.
    pub fn read(&mut self) -> Result<Message, Error> {
        block_poll(|cx| self.poll_next(cx, None))
    }

    /// Reads the next message, waiting at most `timeout`: `Ok(None)` when
    /// none arrived in time. Nothing is lost when it returns `None`: a
    /// partial message stays in the connection and the next read goes on
    /// from there. Pings, keepalive and close deadlines are handled as in
    /// [`read`](Self::read).
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let until = Some(Instant::now() + timeout);
        outcome(block_poll(|cx| self.poll_next(cx, until)))
    }

    /// Queues a message and writes everything queued. Blocks while the
    /// peer is not reading (TCP back-pressure).
    ///
    /// A [`Message::Close`] starts the closing handshake like
    /// [`close`](Self::close).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message)?;
        self.flush()
    }

    /// Queues a message without writing it, to send several in one system
    /// call with [`flush`](Self::flush). Writes first when the queue is
    /// over [`Config::max_write_buffer`](crate::Config::max_write_buffer), so memory stays bounded.
    pub fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        block_poll(|cx| self.poll_room(cx))?;
        WebSocket::queue_message(self, message.into())
    }

    /// Queues a [`PreparedMessage`](crate::PreparedMessage) and writes
    /// everything queued: see
    /// [`feed_prepared`](crate::adapter::WebSocket::feed_prepared), which
    /// never waits for a slow peer (it drops it with 1013 instead).
    pub fn send_prepared(
        &mut self,
        message: &crate::PreparedMessage,
    ) -> Result<crate::Delivery, Error> {
        let delivery = self.feed_prepared(message)?;
        if delivery == crate::Delivery::Queued {
            self.flush()?;
        }
        Ok(delivery)
    }

    /// Sends a text message; a borrowed `&str` is copied without an
    /// allocation when small (see [`TextPayload`](crate::TextPayload)).
    pub fn send_text(&mut self, text: impl crate::TextPayload) -> Result<(), Error> {
        self.driver.command(|conn| conn.send_text(text))?;
        self.flush()
    }

    /// Sends a binary message; see [`BinaryPayload`](crate::BinaryPayload)
    /// for which payloads are copied.
    pub fn send_binary(&mut self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        self.driver.command(|conn| conn.send_binary(data))?;
        self.flush()
    }

    /// Sends a Ping with up to 125 bytes of `payload`, borrowed or owned
    /// (copied next to its frame header). A longer payload is refused with
    /// [`UsageError::ControlPayloadTooLong`](crate::UsageError::ControlPayloadTooLong)
    /// ([`Error::Usage`], not fatal). The peer's Pong comes out of
    /// [`read`](Self::read) as a [`Message::Pong`]; Pings from the peer
    /// are answered without this.
    ///
    /// ```no_run
    /// use wsproto::blocking::{connect, Message};
    ///
    /// let (mut ws, _) = connect("ws://127.0.0.1:9001/")?;
    /// let label = format!("ping {}", 1);
    /// ws.send_ping(&label)?;
    /// ws.send(Message::ping(&label))?; // the same, as a message
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.driver.command(|conn| conn.send_ping(payload))?;
        self.flush()
    }

    /// Writes everything queued (messages, Pongs, a Close) and flushes the
    /// stream.
    ///
    /// A write that fails or times out ([the write timeout](crate::adapter::WebSocket::set_write_timeout)) ends the
    /// connection: a frame may be half written, so it cannot be resumed.
    /// The error is fatal ([`Error::is_fatal`]); later calls report
    /// [`Error::ConnectionLost`].
    pub fn flush(&mut self) -> Result<(), Error> {
        block_poll(|cx| self.poll_write_out(cx))
    }

    /// Starts the closing handshake: sends a Close with `code` and
    /// `reason` (at most 123 bytes). Keep calling [`read`](Self::read):
    /// messages already in flight arrive, then the peer's Close, then
    /// [`Error::ConnectionClosed`] (or [`Error::CloseTimeout`] when the peer
    /// does not answer within [`Config::close_timeout`](crate::Config::close_timeout)).
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.queue_close(code.into(), reason)?;
        self.flush()
    }
}

impl<S: SplitStream> WebSocket<S> {
    /// Splits the connection into a reader and a writer that two threads
    /// can use at once: one blocks in `WebSocketReader::read` while the
    /// other sends. The writer can be cloned, so several threads can send.
    ///
    /// Over TCP (and Unix sockets) each half gets its own handle of the
    /// socket (`try_clone`, which can fail); over TLS the socket is split
    /// the same way and only the TLS state is shared.
    ///
    /// The connection state is shared under a lock that is never held
    /// during a system call: the reader blocks in `read(2)` on its own
    /// buffer and feeds the connection afterwards, and bytes are written by
    /// whoever holds a separate write lock. The reader's Pongs are written
    /// by the reader when the write lock is free, and otherwise by the
    /// writer that holds it (it checks for them before letting go), so a
    /// writer blocked on a peer that does not read never stops the reader.
    /// The reader waits at most half the close timeout in one `read(2)`,
    /// so a Close sent by the writer times out within 1.5 × the close
    /// timeout.
    #[doc(alias = "split")]
    pub fn into_split(self) -> Result<(WebSocketReader<S>, WebSocketWriter<S>), Error> {
        Ok(self.split_with(S::split_stream)?)
    }
}

impl<H: ReadHalf, W: WriteHalf> split::WebSocketReader<H, W, Blocking> {
    /// Reads the next message; as [`WebSocket::read`], including the end
    /// of the connection ([`Error::ConnectionClosed`] after the Close, on
    /// every later call).
    pub fn read(&mut self) -> Result<Message, Error> {
        block_poll(|cx| self.poll_next(cx, None))
    }

    /// Reads the next message, waiting at most `timeout`; as
    /// [`WebSocket::read_timeout`].
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let until = Some(Instant::now() + timeout);
        outcome(block_poll(|cx| self.poll_next(cx, until)))
    }
}

impl<W: WriteHalf> split::WebSocketWriter<W, Blocking> {
    /// Queues a message and writes everything queued, as
    /// [`WebSocket::send`].
    pub fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message)?;
        self.flush()
    }

    /// Queues a message without writing it; see [`WebSocket::feed`].
    pub fn feed(&self, message: impl Into<Message>) -> Result<(), Error> {
        block_poll(|cx| self.poll_room(cx))?;
        self.queue_message(message.into())
    }

    /// Sends a text message without allocating for a small `&str`; see
    /// [`WebSocket::send_text`].
    pub fn send_text(&self, text: impl crate::TextPayload) -> Result<(), Error> {
        self.command(|conn| conn.send_text(text))?;
        self.flush()
    }

    /// Sends a binary message; see [`WebSocket::send_binary`].
    pub fn send_binary(&self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        self.command(|conn| conn.send_binary(data))?;
        self.flush()
    }

    /// Sends a Ping with up to 125 bytes of `payload` (copied); see
    /// [`WebSocket::send_ping`]. The Pong reaches the reader.
    pub fn send_ping(&self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(Message::ping(payload))
    }

    /// Writes everything queued, waiting for the write lock.
    pub fn flush(&self) -> Result<(), Error> {
        block_poll(|cx| self.poll_write_out(cx))
    }

    /// Sends a Close; the reader then gets the peer's Close and
    /// [`Error::ConnectionClosed`] (or [`Error::CloseTimeout`]).
    pub fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.queue_close(code.into(), reason)?;
        self.flush()
    }
}
