//! [`WebSocket`]: one connection over a blocking stream, driving the
//! sans-IO [`Connection`].

use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::{Error, is_timeout};
use super::stream::Stream;
use crate::Message;
use crate::{CloseCode, Config, Connection, Event, Role, State, Transmit, UsageError};

/// First and smallest read size: small, so an idle connection holds little
/// and a read that brings one small message zero-fills little of the
/// buffer it reads into (`receive_buffer` zero-fills what it lends).
pub(super) const MIN_READ: usize = 1 << 10;
/// Largest read size, reached only while reads keep filling the buffer.
pub(super) const MAX_READ: usize = 64 << 10;
/// Slices handed to one vectored write.
const MAX_SLICES: usize = 16;

/// Grows the read size while reads fill it and shrinks it when they come
/// back mostly empty, so bulk transfers use few system calls and small
/// messages do not pay for zeroing a large buffer.
pub(super) fn next_read_size(size: usize, got: usize) -> usize {
    if got == size {
        (size * 2).min(MAX_READ)
    } else if got < size / 4 {
        (size / 2).max(MIN_READ)
    } else {
        size
    }
}

/// The message for an event of the core.
pub(super) fn to_message(event: Event) -> Message {
    match event {
        Event::Text(t) => Message::Text(t),
        Event::Binary(b) => Message::Binary(b),
        Event::Ping(p) => Message::Ping(p),
        Event::Pong(p) => Message::Pong(p),
        Event::Close(c) => Message::Close(c),
    }
}

/// The error that reports how a closed connection ended; returned by every
/// read after the end, so a read loop always stops.
pub(super) fn ended(conn: &Connection, saw_eof: bool) -> Error {
    if let Some(e) = conn.error() {
        return Error::Protocol(e.clone());
    }
    match conn.close_frame() {
        Some(frame) if frame.code == CloseCode::ABNORMAL => {
            if saw_eof {
                Error::ConnectionLost
            } else {
                Error::CloseTimeout
            }
        }
        _ => Error::ConnectionClosed,
    }
}

/// Queues a message on the core. A refused send on a connection that is
/// over reports how it ended.
pub(super) fn queue_on(
    conn: &mut Connection,
    message: Message,
    saw_eof: bool,
) -> Result<(), Error> {
    let result = match message {
        Message::Text(text) => conn.send_text(text),
        Message::Binary(data) => conn.send_binary(data),
        Message::Ping(data) => conn.send_ping(data),
        Message::Pong(data) => conn.send_pong(data),
        Message::Close(frame) => conn.close(frame.code, frame.reason.as_str()),
    };
    result.map_err(|e| refused(conn, e, saw_eof))
}

pub(super) fn refused(conn: &Connection, e: UsageError, saw_eof: bool) -> Error {
    if e == UsageError::Closed && conn.state() == State::Closed {
        ended(conn, saw_eof)
    } else {
        Error::Usage(e)
    }
}

/// The read timeout last set on the stream, so that it is changed (a system
/// call) only when a deadline needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadTimeout {
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
    pub(super) fn update(
        &mut self,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Option<Option<Duration>> {
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
}

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
    pub(super) conn: Connection,
    pub(super) protocol: Option<String>,
    read_size: usize,
    read_timeout: ReadTimeout,
    write_timeout_set: bool,
    pub(super) saw_eof: bool,
    ended: bool,
}

impl<S: Stream> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done, with the given role
    /// and limits. `leftover` is what was read after the handshake's head
    /// (frames the peer sent right away); it is processed first.
    pub fn from_stream(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        let mut conn = Connection::new(role, config);
        // A protocol violation in the leftover is sticky in the core and
        // reported by the first `read`.
        let _ = conn.receive_data(leftover);
        WebSocket::from_connection(stream, conn, None)
    }

    pub(super) fn from_connection(
        mut stream: S,
        conn: Connection,
        protocol: Option<String>,
    ) -> Self {
        // On the socket itself, so split halves (clones of it) share it. A
        // stream that cannot take a timeout simply blocks, as before.
        let _ = stream.set_write_timeout(conn.config().write_timeout);
        WebSocket {
            stream,
            conn,
            protocol,
            read_size: MIN_READ,
            read_timeout: ReadTimeout::Unknown,
            write_timeout_set: false,
            saw_eof: false,
            ended: false,
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
    /// gives [`Error::Protocol`] once its Close has been sent.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            // Messages already parsed go out without a look at the clock
            // (a `clock_gettime` per message was a fifth of the cost of
            // reading small ones); the deadlines are checked before every
            // read from the stream, and traffic is timed from then.
            let mut now = None;
            let event = match self.conn.poll_event() {
                Some(event) => Some(event),
                None => {
                    let at = *now.insert(Instant::now());
                    self.conn.handle_timeout(at);
                    self.conn.poll_event()
                }
            };
            if let Some(event) = event {
                let is_close = matches!(event, Event::Close(_));
                let written = self.write_pending();
                // The peer that sent a Close may already be gone; its
                // message still counts.
                if !is_close {
                    written?;
                }
                return Ok(to_message(event));
            }
            if self.conn.state() == State::Closed {
                return Err(self.finish());
            }
            let writes = self.conn.buffered_amount() > 0;
            self.write_pending()?;
            // A write can block (a peer that stops reading): then the
            // clock is read again, or the read timeout would be computed
            // from a stale instant and the deadline overshot.
            let now = match now {
                Some(at) if !writes => at,
                _ => Instant::now(),
            };
            self.read_once(now)?;
        }
    }

    /// Queues a message and writes everything queued. Blocks while the
    /// peer is not reading (TCP back-pressure).
    ///
    /// A [`Message::Close`] starts the closing handshake like
    /// [`close`](Self::close).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.queue(message)?;
        self.write_pending()
    }

    /// Queues a message without writing it, to send several in one system
    /// call with [`flush`](Self::flush). Writes first when the queue is
    /// over [`Config::max_write_buffer`], so memory stays bounded.
    pub fn queue(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        if self.conn.buffered_amount() > self.conn.config().max_write_buffer {
            self.write_pending()?;
        }
        queue_on(&mut self.conn, message.into(), self.saw_eof)
    }

    /// Sends a text message; a borrowed `&str` is copied without an
    /// allocation when small (see [`TextPayload`](crate::TextPayload)).
    pub fn send_text(&mut self, text: impl crate::TextPayload) -> Result<(), Error> {
        if let Err(e) = self.conn.send_text(text) {
            return Err(refused(&self.conn, e, self.saw_eof));
        }
        self.write_pending()
    }

    /// Sends a binary message; see [`BinaryPayload`](crate::BinaryPayload)
    /// for which payloads are copied.
    pub fn send_binary(&mut self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        if let Err(e) = self.conn.send_binary(data) {
            return Err(refused(&self.conn, e, self.saw_eof));
        }
        self.write_pending()
    }

    /// Writes everything queued (messages, Pongs, a Close) and flushes the
    /// stream.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_pending()
    }

    /// Starts the closing handshake: sends a Close with `code` and
    /// `reason` (at most 123 bytes). Keep calling [`read`](Self::read):
    /// messages already in flight arrive, then the peer's Close, then
    /// [`Error::ConnectionClosed`] (or [`Error::CloseTimeout`] when the peer
    /// does not answer within [`Config::close_timeout`]).
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        if let Err(e) = self.conn.close(code, reason) {
            return Err(refused(&self.conn, e, self.saw_eof));
        }
        self.write_pending()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The sans-IO connection inside, for what this type does not expose
    /// (the close frame, the buffered amount, the config).
    pub fn connection(&self) -> &Connection {
        &self.conn
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

    /// One read from the stream into the core, bounded by its next
    /// deadline.
    fn read_once(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(timeout) = self.read_timeout.update(self.conn.poll_timeout(), now) {
            self.stream.set_read_timeout(timeout)?;
        }
        let buf = self.conn.receive_buffer(self.read_size);
        match self.stream.read(buf) {
            Ok(0) => {
                let _ = self.conn.receive_commit(0);
                self.conn.receive_eof();
                self.saw_eof = true;
            }
            Ok(n) => {
                self.read_size = next_read_size(self.read_size, n);
                // A violation is sticky in the core: its Close is queued,
                // and `read` reports it once earlier messages are out.
                let _ = self.conn.receive_commit(n);
            }
            Err(e) => {
                let _ = self.conn.receive_commit(0);
                if e.kind() != io::ErrorKind::Interrupted && !is_timeout(&e) {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Writes every queued byte with vectored writes (frame headers and
    /// payloads in one system call, payloads not copied), performs the
    /// shutdown once the core asks for it, and flushes.
    pub(super) fn write_pending(&mut self) -> Result<(), Error> {
        if self.conn.state() != State::Open && !self.write_timeout_set {
            // A peer that stops reading must not hold a closing connection
            // forever.
            self.write_timeout_set = true;
            let config = self.conn.config();
            let timeout = config.write_timeout.map_or(config.close_timeout, |write| {
                write.min(config.close_timeout)
            });
            self.stream.set_write_timeout(Some(timeout))?;
        }
        while self.conn.buffered_amount() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = self.conn.transmit_slices(&mut slices);
            // One slice (small frames, the usual case) goes by plain
            // `write`, which skips the kernel's import of an iovec array.
            let result = match &slices[..n] {
                [one] => self.stream.write(one),
                more => self.stream.write_vectored(more),
            };
            match result {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(written) => self.conn.advance_transmit(written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        // All bytes are out; the shutdown comes only once the connection
        // is over, so an open one need not ask.
        if self.conn.state() == State::Closed {
            while let Some(transmit) = self.conn.poll_transmit() {
                match transmit {
                    Transmit::Data(bytes) => self.write_bytes(bytes)?,
                    Transmit::Shutdown => {
                        self.stream.flush()?;
                        self.stream.shutdown_write()?;
                    }
                }
            }
        }
        self.stream.flush()?;
        Ok(())
    }

    fn write_bytes(&mut self, bytes: Bytes) -> Result<(), Error> {
        io::Write::write_all(&mut self.stream, &bytes)?;
        Ok(())
    }

    /// The end of the connection: flush our Close and shut down, then (a
    /// client) wait for the server's end of stream, bounded by the close
    /// timeout. Errors here no longer matter: the connection is over.
    fn finish(&mut self) -> Error {
        if !self.ended {
            self.ended = true;
            loop {
                self.conn.handle_timeout(Instant::now());
                if self.write_pending().is_err() || self.conn.is_finished() {
                    break;
                }
                // Input is discarded now; this waits for the end of stream
                // or the close deadline.
                if self.read_once(Instant::now()).is_err() {
                    break;
                }
            }
        }
        ended(&self.conn, self.saw_eof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_grows_while_reads_fill_it_and_shrinks_back() {
        let mut size = MIN_READ;
        for _ in 0..10 {
            size = next_read_size(size, size);
        }
        assert_eq!(size, MAX_READ);
        size = next_read_size(size, size / 2);
        assert_eq!(size, MAX_READ);
        for _ in 0..10 {
            size = next_read_size(size, 10);
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
}
