//! [`WebSocket`]: one connection over a blocking stream, driving the
//! sans-IO [`Connection`].

use std::io;
use std::time::{Duration, Instant};

use super::driver::{self, Driver, ReadSide, ReadState};
use super::stream::Stream;
use crate::driver::error::Error;
use crate::{CloseCode, Config, Connection, Message, Role, State};

/// A WebSocket connection over a blocking stream `S`.
///
/// Obtained from [`connect`](super::connect), [`accept`](super::accept) and
/// friends, or from [`WebSocket::from_stream`] for a stream whose handshake
/// happened elsewhere. All protocol work (masking, validation, Pongs,
/// the Close echo, limits, deadlines) is done by the sans-IO
/// [`Connection`] inside; this type moves bytes and turns the core's
/// deadlines into read timeouts on the stream.
///
/// ```no_run
/// use wsproto::blocking::{connect, Message};
///
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/")?;
/// ws.send(Message::text("hello"))?;
/// loop {
///     match ws.read() {
///         Ok(Message::Text(text)) => println!("{text}"),
///         Ok(_) => {}
///         Err(e) if e.is_closed() => break,
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(super) stream: S,
    pub(super) driver: Driver,
    pub(super) protocol: Option<String>,
    pub(super) read_state: ReadState,
}

impl<S: Stream> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done, with the given role
    /// and limits. `leftover` is what was read after the handshake's head
    /// (frames the peer sent right away); it is processed first.
    pub fn from_stream(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        WebSocket::from_connection(
            stream,
            Connection::new_at(role, config, Instant::now()),
            None,
            leftover,
        )
    }

    pub(super) fn from_connection(
        mut stream: S,
        mut conn: Connection,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        // A protocol violation in the leftover is sticky in the core and
        // reported by the first `read`.
        let _ = conn.receive_data(leftover);
        // On the socket itself, so split halves (clones of it) share it. A
        // stream that cannot take a timeout simply blocks, as before.
        let _ = stream.set_write_timeout(conn.config().write_timeout);
        WebSocket {
            stream,
            driver: Driver::new(conn),
            protocol,
            read_state: ReadState::new(),
        }
    }

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
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) (not fatal: call again
    /// when the stream is readable) instead of spinning.
    pub fn read(&mut self) -> Result<Message, Error> {
        let (mut side, state) = self.side();
        driver::read(&mut side, state)
    }

    /// Reads the next message, waiting at most `timeout`: `Ok(None)` when
    /// none arrived in time. Nothing is lost when it returns `None`: a
    /// partial message stays in the connection and the next read goes on
    /// from there. Pings, keepalive and close deadlines are handled as in
    /// [`read`](Self::read).
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let (mut side, state) = self.side();
        driver::read_timeout(&mut side, state, timeout)
    }

    /// Queues a message and writes everything queued. Blocks while the
    /// peer is not reading (TCP back-pressure).
    ///
    /// A [`Message::Close`] starts the closing handshake like
    /// [`close`](Self::close).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues a message without writing it, to send several in one system
    /// call with [`flush`](Self::flush). Writes first when the queue is
    /// over [`Config::max_write_buffer`], so memory stays bounded.
    pub fn queue(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let conn = &self.driver.conn;
        if conn.buffered_amount() > conn.config().max_write_buffer {
            self.flush()?;
        }
        self.driver.queue(message.into())
    }

    /// Sends a text message; a borrowed `&str` is copied without an
    /// allocation when small (see [`TextPayload`](crate::TextPayload)).
    pub fn send_text(&mut self, text: impl crate::TextPayload) -> Result<(), Error> {
        if let Err(e) = self.driver.conn.send_text(text) {
            return Err(self.driver.refused(e));
        }
        self.flush()
    }

    /// Sends a binary message; see [`BinaryPayload`](crate::BinaryPayload)
    /// for which payloads are copied.
    pub fn send_binary(&mut self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        if let Err(e) = self.driver.conn.send_binary(data) {
            return Err(self.driver.refused(e));
        }
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
        if let Err(e) = self.driver.conn.send_ping(payload) {
            return Err(self.driver.refused(e));
        }
        self.flush()
    }

    /// Writes everything queued (messages, Pongs, a Close) and flushes the
    /// stream.
    ///
    /// A write that fails or times out ([`Config::write_timeout`]) ends the
    /// connection: a frame may be half written, so it cannot be resumed.
    /// The error is fatal ([`Error::is_fatal`]); later calls report
    /// [`Error::ConnectionLost`].
    pub fn flush(&mut self) -> Result<(), Error> {
        self.driver.write_to(&mut self.stream)
    }

    /// Starts the closing handshake: sends a Close with `code` and
    /// `reason` (at most 123 bytes). Keep calling [`read`](Self::read):
    /// messages already in flight arrive, then the peer's Close, then
    /// [`Error::ConnectionClosed`] (or [`Error::CloseTimeout`] when the peer
    /// does not answer within [`Config::close_timeout`]).
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        if let Err(e) = self.driver.conn.close(code, reason) {
            return Err(self.driver.refused(e));
        }
        self.flush()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.driver.conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The sans-IO connection inside, for what this type does not expose
    /// (the close frame, the buffered amount, the config).
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably. Reading or writing it directly corrupts the
    /// connection; this is for socket options.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Takes the stream back (anything still queued is dropped).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The driver's view of this reader, and its read state.
    fn side(&mut self) -> (Unsplit<'_, S>, &mut ReadState) {
        let side = Unsplit {
            stream: &mut self.stream,
            driver: &mut self.driver,
        };
        (side, &mut self.read_state)
    }
}

/// The unsplit socket as the driver sees it: the connection owned, reads
/// straight into the core's buffer (no copy).
struct Unsplit<'a, S> {
    stream: &'a mut S,
    driver: &'a mut Driver,
}

impl<S: Stream> ReadSide for Unsplit<'_, S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R {
        f(self.driver)
    }

    fn write_owed(&mut self, _must: bool) -> Result<(), Error> {
        self.driver.write_to(self.stream)
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    fn read_into_core(&mut self, size: usize) -> io::Result<usize> {
        let buf = self.driver.conn.receive_buffer(size);
        let result = self.stream.read(buf);
        // A violation is sticky in the core: its Close is queued, and
        // `read` reports it once earlier messages are out.
        let _ = self
            .driver
            .conn
            .receive_commit(*result.as_ref().unwrap_or(&0));
        result
    }
}
