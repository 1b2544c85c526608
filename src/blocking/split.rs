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
//! answer a Close is dropped within 1.5 × the close timeout. Once the
//! connection is closing, writes are bounded by the close timeout too
//! (the write timeout, if shorter), so a writer sending its Close to a
//! peer that does not read gives up in time.
//!
//! The read loop, the end of the connection and the write engine are the
//! shared driver's (`driver.rs`, `outgoing.rs`), as for the unsplit
//! socket; this file only decides how the halves reach the connection. A
//! failed write ends the connection for both halves, as it does unsplit.

use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::driver::{self, Driver, ReadSide, ReadState};
use super::stream::{ReadHalf, SplitStream, WriteHalf};
use super::websocket::WebSocket;
use crate::driver::error::Error;
use crate::driver::outgoing::{Chunks, Outgoing, write_all};
use crate::{CloseCode, Message, State};

/// The write half and the chunks taken out of the connection for it.
struct Out<W> {
    stream: W,
    queue: Chunks,
}

struct Shared<W> {
    driver: Mutex<Driver>,
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
            let out = &mut *out;
            if let Err(e) = self.write_queue(out) {
                // Whatever was taken out is lost with the connection.
                out.queue.clear();
                return Err(lock(&self.driver).write_failed(e));
            }
            // Bytes queued by a half whose `try_lock` failed while we held
            // the lock are ours to write.
            let driver = lock(&self.driver);
            if driver.is_failed() {
                return Err(driver.ended());
            }
            if driver.conn.buffered_amount() == 0 {
                return Ok(());
            }
            wait = false;
        }
    }

    /// Takes the connection's queue and writes it, until nothing is left;
    /// the connection's lock is held only while taking.
    fn write_queue(&self, out: &mut Out<W>) -> io::Result<()> {
        loop {
            let (timeout, shutdown) = {
                let mut driver = lock(&self.driver);
                if driver.is_failed() {
                    return Ok(());
                }
                driver.take_queue(&mut out.queue)
            };
            if let Some(timeout) = timeout {
                out.stream.set_write_timeout(Some(timeout))?;
            }
            if out.queue.is_empty() && !shutdown {
                return out.stream.flush();
            }
            write_all(&mut out.stream, &mut out.queue)?;
            if shutdown {
                out.stream.flush()?;
                out.stream.shutdown_write()?;
            }
        }
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
        // A Close sent by the writer starts the close timeout, which a
        // reader blocked in `read(2)` cannot see: it wakes at least twice
        // per close timeout.
        let max_wait = self.driver.conn.config().close_timeout / 2;
        let shared = Arc::new(Shared {
            driver: Mutex::new(self.driver),
            out: Mutex::new(Out {
                stream: writer,
                queue: Chunks::default(),
            }),
            protocol: self.protocol,
        });
        Ok((
            WebSocketReader {
                stream: reader,
                shared: shared.clone(),
                buf: Vec::new(),
                read_state: self.read_state,
                max_wait,
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
    read_state: ReadState,
    /// The longest one `read(2)` may block: half the close timeout.
    max_wait: Duration,
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
        let (mut side, state) = self.side();
        driver::read(&mut side, state)
    }

    /// Reads the next message, waiting at most `timeout`; as
    /// [`WebSocket::read_timeout`].
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let (mut side, state) = self.side();
        driver::read_timeout(&mut side, state, timeout)
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.driver).conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// The read half of the stream.
    pub fn get_ref(&self) -> &S::Reader {
        &self.stream
    }

    /// The driver's view of this reader, and its read state.
    fn side(&mut self) -> (SplitReader<'_, S>, &mut ReadState) {
        let side = SplitReader::<S> {
            stream: &mut self.stream,
            shared: &self.shared,
            buf: &mut self.buf,
            max_wait: self.max_wait,
        };
        (side, &mut self.read_state)
    }
}

/// The split reader as the driver sees it: the connection behind the
/// lock, which is never held during `read(2)`; the stream reads into the
/// reader's own buffer, fed to the core afterwards.
struct SplitReader<'a, S: SplitStream> {
    stream: &'a mut S::Reader,
    shared: &'a Shared<S::Writer>,
    buf: &'a mut Vec<u8>,
    max_wait: Duration,
}

impl<S: SplitStream> ReadSide for SplitReader<'_, S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R {
        f(&mut lock(&self.shared.driver))
    }

    fn write_owed(&mut self, must: bool) -> Result<(), Error> {
        self.shared.flush(must)
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    fn read_into_core(&mut self, size: usize) -> io::Result<usize> {
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        let n = self.stream.read(&mut self.buf[..size])?;
        // A violation is sticky in the core and reported by `read` once
        // the messages before it are out.
        let _ = lock(&self.shared.driver).conn.receive_data(&self.buf[..n]);
        Ok(n)
    }

    fn max_wait(&mut self) -> Option<Duration> {
        Some(self.max_wait)
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
            let conn = &lock(&self.shared.driver).conn;
            conn.buffered_amount() > conn.config().max_write_buffer
        };
        if over {
            self.flush()?;
        }
        lock(&self.shared.driver).queue(message.into())
    }

    /// Sends a text message without allocating for a small `&str`; see
    /// [`WebSocket::send_text`].
    pub fn send_text(&self, text: impl crate::TextPayload) -> Result<(), Error> {
        {
            let mut driver = lock(&self.shared.driver);
            if let Err(e) = driver.conn.send_text(text) {
                return Err(driver.refused(e));
            }
        }
        self.flush()
    }

    /// Sends a binary message; see [`WebSocket::send_binary`].
    pub fn send_binary(&self, data: impl crate::BinaryPayload) -> Result<(), Error> {
        {
            let mut driver = lock(&self.shared.driver);
            if let Err(e) = driver.conn.send_binary(data) {
                return Err(driver.refused(e));
            }
        }
        self.flush()
    }

    /// Sends a Ping with up to 125 bytes of `payload` (copied); see
    /// [`WebSocket::send_ping`]. The Pong reaches the reader.
    pub fn send_ping(&self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        {
            let mut driver = lock(&self.shared.driver);
            if let Err(e) = driver.conn.send_ping(payload) {
                return Err(driver.refused(e));
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
            let mut driver = lock(&self.shared.driver);
            if let Err(e) = driver.conn.close(code, reason) {
                return Err(driver.refused(e));
            }
            // Starts the close timeout now rather than at the reader's
            // next wake-up.
            driver.conn.handle_timeout(Instant::now());
        }
        self.flush()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        lock(&self.shared.driver).conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }
}
