//! [`WebSocketReader`] and [`WebSocketWriter`]: one connection used from two
//! threads at once, one blocked in `read` while the other sends.
//!
//! # How the halves share the connection
//!
//! The sans-IO [`Connection`] sits behind a `Mutex` that is held only for
//! the microseconds it takes to feed it bytes or take bytes out of it,
//! never during a system call:
//!
//! - The **reader** blocks in `read(2)` on its own handle of the stream,
//!   into its own buffer, then locks the connection, feeds it, and unlocks.
//! - Outgoing bytes are written by whoever holds the **write lock** (a
//!   second `Mutex` around the write half): it takes the queued chunks out
//!   of the connection (reference-counted, no copy), releases the
//!   connection, and writes them with vectored writes. Taking and writing
//!   under one lock keeps the bytes in order on the wire.
//! - The duties of the reader (a Pong for a Ping, the keepalive Ping) are
//!   queued on the connection, and the reader then *tries* the write lock:
//!   if the writer is busy writing, it is left to the writer, which looks
//!   for newly queued bytes after every write and again after releasing the
//!   lock, so nothing is stranded. The reader therefore never waits for a
//!   writer blocked on a peer that does not read — which could otherwise
//!   deadlock two such peers. The echo of the peer's Close is the
//!   exception: the reader waits for the write lock then, since the
//!   connection is over.
//!
//! A Close sent by the writer starts the close timeout, which the reader
//! (blocked in `read`) cannot see at once; the reader therefore never
//! blocks longer than half the close timeout, and a peer that does not
//! answer a Close is dropped within 1.5 × the close timeout.

use std::fmt;
use std::io::{self, IoSlice, Read};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Instant;

use bytes::Bytes;

use super::error::{Error, is_timeout};
use super::stream::{ReadHalf, SplitStream, WriteHalf};
use super::websocket::{
    MIN_READ, ReadTimeout, WebSocket, ended, next_read_size, queue_on, refused, to_message,
};
use crate::Message;
use crate::{CloseCode, Connection, Event, State, Transmit};

/// Slices handed to one vectored write.
const MAX_SLICES: usize = 32;

/// The connection and what the halves learned about the stream.
struct Core {
    conn: Connection,
    saw_eof: bool,
}

/// The write half and the chunks being written.
struct Out<W> {
    stream: W,
    chunks: Vec<Bytes>,
}

struct Shared<W> {
    core: Mutex<Core>,
    out: Mutex<Out<W>>,
    protocol: Option<String>,
}

/// Locks, ignoring poisoning: a panic in another thread while it held the
/// lock leaves the connection in a consistent state (every method of the
/// core either completes or changes nothing), so there is nothing to
/// recover.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<W: WriteHalf> Shared<W> {
    /// Writes everything queued on the connection. With `wait`, waits for
    /// the write lock; without, leaves the work to its holder (see the
    /// module docs for why nothing is stranded).
    fn flush(&self, wait: bool) -> Result<(), Error> {
        let mut wait = wait;
        loop {
            let mut out = if wait {
                lock(&self.out)
            } else {
                match self.out.try_lock() {
                    Ok(out) => out,
                    Err(TryLockError::WouldBlock) => return Ok(()),
                    Err(TryLockError::Poisoned(p)) => p.into_inner(),
                }
            };
            loop {
                let mut shutdown = false;
                {
                    let mut core = lock(&self.core);
                    while let Some(transmit) = core.conn.poll_transmit() {
                        match transmit {
                            Transmit::Data(bytes) => out.chunks.push(bytes),
                            Transmit::Shutdown => shutdown = true,
                        }
                    }
                }
                if out.chunks.is_empty() && !shutdown {
                    break;
                }
                out.write_chunks()?;
                if shutdown {
                    out.stream.flush()?;
                    out.stream.shutdown_write()?;
                }
            }
            out.stream.flush()?;
            drop(out);
            // Bytes queued by a half whose `try_lock` failed while we held
            // the lock are ours to write.
            if lock(&self.core).conn.buffered_amount() == 0 {
                return Ok(());
            }
            wait = false;
        }
    }
}

impl<W: WriteHalf> Out<W> {
    /// Writes the chunks in order, several per system call.
    fn write_chunks(&mut self) -> io::Result<()> {
        let result = self.write_chunks_inner();
        // Dropping the chunks lets the connection reuse their memory.
        self.chunks.clear();
        result
    }

    fn write_chunks_inner(&mut self) -> io::Result<()> {
        let (mut first, mut offset) = (0, 0);
        while first < self.chunks.len() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for (i, chunk) in self.chunks[first..].iter().take(MAX_SLICES).enumerate() {
                slices[i] = IoSlice::new(if i == 0 { &chunk[offset..] } else { chunk });
                n += 1;
            }
            let mut written = match self.stream.write_vectored(&slices[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => written,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while written > 0 && first < self.chunks.len() {
                let left = self.chunks[first].len() - offset;
                if written >= left {
                    written -= left;
                    first += 1;
                    offset = 0;
                } else {
                    offset += written;
                    written = 0;
                }
            }
        }
        Ok(())
    }
}

impl<S: SplitStream> WebSocket<S> {
    /// Splits the connection into a reader and a writer that two threads
    /// can use at once: one blocks in [`WebSocketReader::read`] while the
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
    pub fn split(self) -> Result<(WebSocketReader<S>, WebSocketWriter<S>), Error> {
        let (reader, writer) = self.stream.split_stream()?;
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                conn: self.conn,
                saw_eof: self.saw_eof,
            }),
            out: Mutex::new(Out {
                stream: writer,
                chunks: Vec::new(),
            }),
            protocol: self.protocol,
        });
        Ok((
            WebSocketReader {
                stream: reader,
                shared: shared.clone(),
                buf: Vec::new(),
                read_size: MIN_READ,
                read_timeout: ReadTimeout::Unknown,
                ended: false,
            },
            WebSocketWriter { shared },
        ))
    }
}

/// The reading half of a split [`WebSocket`]: receives messages and
/// answers Pings and the peer's Close (through the shared write half).
///
/// Locking and guarantees are described on [`WebSocket::split`]: the
/// connection's lock is never held while blocking in `read(2)`, so the
/// writer is never held up by a waiting reader.
pub struct WebSocketReader<S: SplitStream> {
    stream: S::Reader,
    shared: Arc<Shared<S::Writer>>,
    buf: Vec<u8>,
    read_size: usize,
    read_timeout: ReadTimeout,
    ended: bool,
}

/// The writing half of a split [`WebSocket`]. Cheap to clone: clones send
/// on the same connection, in the order their calls take the lock.
pub struct WebSocketWriter<S: SplitStream> {
    shared: Arc<Shared<S::Writer>>,
}

impl<S: SplitStream> Clone for WebSocketWriter<S> {
    fn clone(&self) -> Self {
        WebSocketWriter {
            shared: self.shared.clone(),
        }
    }
}

impl<S: SplitStream> fmt::Debug for WebSocketReader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketReader")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<S: SplitStream> fmt::Debug for WebSocketWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketWriter")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<S: SplitStream> WebSocketReader<S> {
    /// Reads the next message; as [`WebSocket::read`], including the end
    /// of the connection ([`Error::ConnectionClosed`] after the Close, on
    /// every later call).
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            let (deadline, owed) = {
                let mut core = lock(&self.shared.core);
                // As `WebSocket::read`: the clock is read only when no
                // message is waiting.
                let event = match core.conn.poll_event() {
                    Some(event) => Some(event),
                    None => {
                        core.conn.handle_timeout(Instant::now());
                        core.conn.poll_event()
                    }
                };
                if let Some(event) = event {
                    let is_close = matches!(event, Event::Close(_));
                    let owed = core.conn.buffered_amount() > 0;
                    drop(core);
                    if is_close {
                        // The echo and the shutdown; the peer may be gone
                        // already, which does not matter now.
                        let _ = self.shared.flush(true);
                    } else if owed {
                        self.shared.flush(false)?;
                    }
                    return Ok(to_message(event));
                }
                if core.conn.state() == State::Closed {
                    drop(core);
                    return Err(self.finish());
                }
                (core.conn.poll_timeout(), core.conn.buffered_amount() > 0)
            };
            if owed {
                self.shared.flush(false)?;
            }
            self.read_once(deadline)?;
        }
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.core).conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// The read half of the stream.
    pub fn get_ref(&self) -> &S::Reader {
        &self.stream
    }

    /// One read into the local buffer, then into the core under its lock.
    fn read_once(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        let now = Instant::now();
        let close_timeout = lock(&self.shared.core).conn.config().close_timeout;
        // A Close sent by the writer is seen at the next wake-up at the
        // latest.
        let cap = now + close_timeout / 2;
        let deadline = Some(deadline.map_or(cap, |d| d.min(cap)));
        if let Some(timeout) = self.read_timeout.update(deadline, now) {
            self.stream.set_read_timeout(timeout)?;
        }
        if self.buf.len() < self.read_size {
            self.buf.resize(self.read_size, 0);
        }
        match self.stream.read(&mut self.buf[..self.read_size]) {
            Ok(0) => {
                let mut core = lock(&self.shared.core);
                core.conn.receive_eof();
                core.saw_eof = true;
            }
            Ok(n) => {
                self.read_size = next_read_size(self.read_size, n);
                // A violation is sticky in the core and reported by `read`
                // once the messages before it are out.
                let _ = lock(&self.shared.core).conn.receive_data(&self.buf[..n]);
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted && !is_timeout(&e) {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// As [`WebSocket::read`] at the end: flush our Close and shut down,
    /// then (a client) wait for the server's end of stream.
    fn finish(&mut self) -> Error {
        if !self.ended {
            self.ended = true;
            loop {
                lock(&self.shared.core).conn.handle_timeout(Instant::now());
                if self.shared.flush(true).is_err() {
                    break;
                }
                let (finished, deadline) = {
                    let core = lock(&self.shared.core);
                    (core.conn.is_finished(), core.conn.poll_timeout())
                };
                if finished || self.read_once(deadline).is_err() {
                    break;
                }
            }
        }
        let core = lock(&self.shared.core);
        ended(&core.conn, core.saw_eof)
    }
}

impl<S: SplitStream> WebSocketWriter<S> {
    /// Queues a message and writes everything queued, as
    /// [`WebSocket::send`].
    pub fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues a message without writing it; see [`WebSocket::queue`].
    pub fn queue(&self, message: impl Into<Message>) -> Result<(), Error> {
        let over = {
            let core = lock(&self.shared.core);
            core.conn.buffered_amount() > core.conn.config().max_write_buffer
        };
        if over {
            self.flush()?;
        }
        let mut core = lock(&self.shared.core);
        let saw_eof = core.saw_eof;
        queue_on(&mut core.conn, message.into(), saw_eof)
    }

    /// Sends a text message without allocating for a small `&str`; see
    /// [`WebSocket::send_text`].
    pub fn send_text(&self, text: impl crate::TextPayload) -> Result<(), Error> {
        {
            let mut core = lock(&self.shared.core);
            if let Err(e) = core.conn.send_text(text) {
                return Err(refused(&core.conn, e, core.saw_eof));
            }
        }
        self.flush()
    }

    /// Sends a binary message; see [`WebSocket::send_binary`].
    pub fn send_binary(&self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        {
            let mut core = lock(&self.shared.core);
            if let Err(e) = core.conn.send_binary(data) {
                return Err(refused(&core.conn, e, core.saw_eof));
            }
        }
        self.flush()
    }

    /// Writes everything queued, waiting for the write lock.
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.flush(true)
    }

    /// Sends a Close; the reader then gets the peer's Close and
    /// [`Error::ConnectionClosed`] (or [`Error::CloseTimeout`]).
    pub fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        {
            let mut core = lock(&self.shared.core);
            if let Err(e) = core.conn.close(code, reason) {
                return Err(refused(&core.conn, e, core.saw_eof));
            }
            // Starts the close timeout now rather than at the reader's
            // next wake-up.
            core.conn.handle_timeout(Instant::now());
        }
        self.flush()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.core).conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }
}
