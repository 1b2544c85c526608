//! [`TlsStream`] and its split halves: rustls over a blocking socket,
//! readable and writable as plaintext.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::Connection;

use crate::blocking::stream::{ReadHalf, SplitStream, Stream, WriteHalf};
use crate::driver::error::{Error, is_timeout};

/// A rustls connection over a socket: either role, readable and writable
/// as plaintext. Inside
/// [`MaybeTlsStream::Tls`](crate::blocking::MaybeTlsStream::Tls).
pub struct TlsStream<S> {
    conn: Connection,
    sock: S,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

impl<S> TlsStream<S> {
    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The rustls connection (negotiated ALPN protocol, peer certificates…).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl<S: Stream> TlsStream<S> {
    /// Completes the TLS handshake within `timeout`.
    pub(crate) fn handshake(
        conn: Connection,
        mut sock: S,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let deadline = Instant::now() + timeout;
        sock.set_write_timeout(Some(timeout))?;
        let mut stream = TlsStream { conn, sock };
        while stream.conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::HandshakeTimeout);
            }
            stream.sock.set_read_timeout(Some(left))?;
            match stream.conn.complete_io(&mut stream.sock) {
                Ok((0, 0)) if stream.conn.is_handshaking() => {
                    return Err(Error::HandshakeEof);
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Err(Error::HandshakeTimeout),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        stream.sock.set_read_timeout(None)?;
        stream.sock.set_write_timeout(None)?;
        Ok(stream)
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// Writes out what rustls has queued. Not `complete_io`: when a write
    /// times out (`WouldBlock`) it goes on to read, which blocks for as long
    /// as the peer sends nothing, so a write timeout would never surface.
    fn complete_writes(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.complete_writes()?;
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                // End of stream without close_notify: an end of stream all
                // the same for the WebSocket above (which sees no Close).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                Err(_) => {}
            }
            let (read, _) = self.conn.complete_io(&mut self.sock)?;
            if read == 0 && !self.conn.wants_read() {
                return self.conn.reader().read(buf).or(Ok(0));
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.complete_writes()?;
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.conn.writer().write_vectored(bufs)?;
        self.complete_writes()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.complete_writes()?;
        self.sock.flush()
    }
}

impl<S: Stream> Stream for TlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.complete_writes()?;
        self.sock.shutdown_write()
    }
}

/// The halves of a split [`TlsStream`] over `S`.
type TlsHalves<S> = (
    TlsReader<<S as SplitStream>::Reader>,
    TlsWriter<<S as SplitStream>::Writer>,
);

impl<S: SplitStream> TlsStream<S> {
    /// Splits the socket and shares the TLS state (see the module docs).
    pub(crate) fn split(self) -> io::Result<TlsHalves<S>> {
        let (r, w) = self.sock.split_stream()?;
        let tls = Arc::new(Mutex::new(self.conn));
        Ok((
            TlsReader {
                tls: tls.clone(),
                sock: r,
                raw: Vec::new(),
                start: 0,
                end: 0,
                eof: false,
            },
            TlsWriter {
                tls,
                sock: w,
                out: Vec::new(),
            },
        ))
    }
}

/// A TLS stream splits like its socket: what lets TLS run inside TLS (to
/// a `wss://` server through an `https://` proxy) split too.
impl<S: SplitStream> SplitStream for TlsStream<S> {
    type Reader = TlsReader<S::Reader>;
    type Writer = TlsWriter<S::Writer>;

    fn split_stream(self) -> io::Result<(Self::Reader, Self::Writer)> {
        self.split()
    }
}

/// A rustls stream made by hand (server or client connection) works with
/// [`accept`](crate::blocking::accept) and
/// [`client_handshake`](crate::blocking::client_handshake). Its writes go
/// through rustls' `complete_io`, which after a write timeout goes on to
/// read: prefer [`accept_tls`](crate::blocking::accept_tls) and
/// [`connect_tls`](crate::blocking::connect_tls) when writes have a timeout.
impl<C, D, S> Stream for rustls::StreamOwned<C, S>
where
    C: DerefMut + Deref<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
    S: Stream,
{
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown_write()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ciphertext read per system call by a split TLS reader: one maximal
/// TLS record and its overhead.
const RAW_READ: usize = 16 << 10 | 512;

/// The read half of a split TLS stream.
pub struct TlsReader<R> {
    tls: Arc<Mutex<Connection>>,
    sock: R,
    raw: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R> fmt::Debug for TlsReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsReader").finish_non_exhaustive()
    }
}

impl<R: Read> Read for TlsReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut tls = lock(&self.tls);
                loop {
                    // Plaintext first, so rustls' plaintext buffer never
                    // fills up.
                    match tls.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                        Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                        Err(_) => {}
                    }
                    if self.start == self.end {
                        break;
                    }
                    let mut pending = &self.raw[self.start..self.end];
                    self.start += tls.read_tls(&mut pending)?;
                    tls.process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
                if self.eof {
                    return Ok(0);
                }
            }
            // Nothing to decrypt: wait for ciphertext without the lock.
            if self.raw.len() < RAW_READ {
                self.raw.resize(RAW_READ, 0);
            }
            let n = self.sock.read(&mut self.raw)?;
            self.start = 0;
            self.end = n;
            if n == 0 {
                self.eof = true;
                let mut tls = lock(&self.tls);
                tls.read_tls(&mut io::empty())?;
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
        }
    }
}

impl<R: ReadHalf> ReadHalf for TlsReader<R> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }
}

/// The write half of a split TLS stream.
pub struct TlsWriter<W> {
    tls: Arc<Mutex<Connection>>,
    sock: W,
    out: Vec<u8>,
}

impl<W> fmt::Debug for TlsWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsWriter").finish_non_exhaustive()
    }
}

impl<W: Write> TlsWriter<W> {
    /// Encrypts under the lock with `f`, then writes the records without it.
    fn with_tls<T>(&mut self, f: impl FnOnce(&mut Connection) -> io::Result<T>) -> io::Result<T> {
        let value = {
            let mut tls = lock(&self.tls);
            let value = f(&mut tls)?;
            while tls.wants_write() {
                tls.write_tls(&mut self.out)?;
            }
            value
        };
        let result = self.sock.write_all(&self.out);
        self.out.clear();
        result.map(|()| value)
    }
}

impl<W: Write> Write for TlsWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with_tls(|tls| tls.writer().write(buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.with_tls(|tls| tls.writer().write_vectored(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.with_tls(|_| Ok(()))?;
        self.sock.flush()
    }
}

impl<W: WriteHalf> WriteHalf for TlsWriter<W> {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.with_tls(|tls| {
            tls.send_close_notify();
            Ok(())
        })?;
        self.sock.shutdown_write()
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }
}
