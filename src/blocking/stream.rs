//! What the adapters need from a transport beyond `Read + Write`: bounding a
//! blocking read in time, shutting the write half down, and splitting into
//! halves that two threads can use at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A byte stream the blocking adapters can drive.
///
/// `Read + Write` carry the bytes; the two extra methods let the adapter
/// enforce the core's deadlines (handshake, close and keepalive timeouts)
/// while it blocks in `read`, and end the connection the way RFC 6455 §7.1.1
/// asks (shut down the write half, then wait for the peer). Both have
/// defaults that do nothing, so any stream (a pipe, an in-memory buffer, a
/// tunnel) can be used with a one-line `impl Stream for MyStream {}`; such a
/// stream then checks deadlines only when a read returns.
pub trait Stream: Read + Write {
    /// Bounds the next blocking reads (`None`: block until data arrives).
    /// A read that times out fails with `WouldBlock` or `TimedOut`.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Bounds the next blocking writes (`None`: block until written).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Signals the end of our bytes (TCP `shutdown(Write)`, TLS
    /// `close_notify`), keeping the read half open.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`Stream`] that can be divided into a read half and a write half,
/// usable from two threads at once (see
/// [`WebSocket::split`](super::WebSocket::split)).
pub trait SplitStream: Stream + Sized {
    /// The half that reads.
    type Reader: ReadHalf;
    /// The half that writes.
    type Writer: WriteHalf;

    /// Divides the stream. For a socket this duplicates the handle
    /// (`try_clone`), which can fail.
    fn split_stream(self) -> io::Result<(Self::Reader, Self::Writer)>;
}

/// The read half of a [`SplitStream`].
pub trait ReadHalf: Read {
    /// As [`Stream::set_read_timeout`].
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// The write half of a [`SplitStream`].
pub trait WriteHalf: Write {
    /// As [`Stream::shutdown_write`].
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// As [`Stream::set_write_timeout`]; the writer bounds its writes by
    /// the close timeout once the connection is closing. The default does
    /// nothing (writes then block as long as the peer does not read).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }
}

/// Errors of a shutdown on a socket the peer already closed are not worth
/// reporting: the goal (no more bytes from us) is reached.
fn quiet_shutdown(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// `set_read_timeout` refuses a zero duration; a deadline that is due now
/// becomes the shortest wait instead.
pub(crate) fn nonzero(timeout: Option<Duration>) -> Option<Duration> {
    timeout.map(|t| t.max(Duration::from_millis(1)))
}

/// A boxed stream, e.g. `Box<dyn Stream + Send>` to mix kinds of streams.
impl<S: Stream + ?Sized> Stream for Box<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

impl Stream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, nonzero(timeout))
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, nonzero(timeout))
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        quiet_shutdown(self.shutdown(Shutdown::Write))
    }
}

impl SplitStream for TcpStream {
    type Reader = TcpStream;
    type Writer = TcpStream;
    /// Both halves are handles to the same socket (`try_clone`).
    fn split_stream(self) -> io::Result<(TcpStream, TcpStream)> {
        let writer = self.try_clone()?;
        Ok((self, writer))
    }
}

impl ReadHalf for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, nonzero(timeout))
    }
}

impl WriteHalf for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        quiet_shutdown(self.shutdown(Shutdown::Write))
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, nonzero(timeout))
    }
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::unix::net::UnixStream;

    impl Stream for UnixStream {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            UnixStream::set_read_timeout(self, nonzero(timeout))
        }
        fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            UnixStream::set_write_timeout(self, nonzero(timeout))
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            quiet_shutdown(self.shutdown(Shutdown::Write))
        }
    }

    impl SplitStream for UnixStream {
        type Reader = UnixStream;
        type Writer = UnixStream;
        fn split_stream(self) -> io::Result<(UnixStream, UnixStream)> {
            let writer = self.try_clone()?;
            Ok((self, writer))
        }
    }

    impl ReadHalf for UnixStream {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            UnixStream::set_read_timeout(self, nonzero(timeout))
        }
    }

    impl WriteHalf for UnixStream {
        fn shutdown_write(&mut self) -> io::Result<()> {
            quiet_shutdown(self.shutdown(Shutdown::Write))
        }
        fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            UnixStream::set_write_timeout(self, nonzero(timeout))
        }
    }
}

/// A stream that is plain or wrapped in TLS, as [`connect`](super::connect)
/// returns for `ws://` and `wss://` URLs.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// No encryption (`ws://`).
    Plain(S),
    /// TLS with rustls (`wss://`, or a server that accepted TLS).
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream<S>>),
}

impl<S> MaybeTlsStream<S> {
    /// The socket under any TLS layer, e.g. for its peer address.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.get_ref(),
        }
    }

    /// Whether the bytes are encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

impl<S: Read + Write> Read for MaybeTlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.read(buf),
        }
    }
}

impl<S: Read + Write> Write for MaybeTlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.flush(),
        }
    }
}

impl<S: Stream> Stream for MaybeTlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.set_read_timeout(timeout),
        }
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.set_write_timeout(timeout),
        }
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.shutdown_write(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.shutdown_write(),
        }
    }
}

/// The read half of a split [`MaybeTlsStream`].
#[non_exhaustive]
pub enum MaybeTlsReader<S: SplitStream> {
    /// A plain stream's read half.
    Plain(S::Reader),
    /// A TLS stream's read half.
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsReader<S::Reader>),
}

/// The write half of a split [`MaybeTlsStream`].
#[non_exhaustive]
pub enum MaybeTlsWriter<S: SplitStream> {
    /// A plain stream's write half.
    Plain(S::Writer),
    /// A TLS stream's write half.
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsWriter<S::Writer>),
}

impl<S: SplitStream> SplitStream for MaybeTlsStream<S> {
    type Reader = MaybeTlsReader<S>;
    type Writer = MaybeTlsWriter<S>;

    /// A plain stream splits as `S` does. A TLS stream splits its socket
    /// too; the two halves share only the TLS state, under a lock held
    /// while records are encrypted or decrypted, never during socket I/O.
    fn split_stream(self) -> io::Result<(Self::Reader, Self::Writer)> {
        match self {
            MaybeTlsStream::Plain(s) => {
                let (r, w) = s.split_stream()?;
                Ok((MaybeTlsReader::Plain(r), MaybeTlsWriter::Plain(w)))
            }
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => {
                let (r, w) = t.split()?;
                Ok((MaybeTlsReader::Tls(r), MaybeTlsWriter::Tls(w)))
            }
        }
    }
}

impl<S: SplitStream> Read for MaybeTlsReader<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsReader::Plain(r) => r.read(buf),
            #[cfg(feature = "tls")]
            MaybeTlsReader::Tls(r) => r.read(buf),
        }
    }
}

impl<S: SplitStream> ReadHalf for MaybeTlsReader<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsReader::Plain(r) => r.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsReader::Tls(r) => r.set_read_timeout(timeout),
        }
    }
}

impl<S: SplitStream> Write for MaybeTlsWriter<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsWriter::Plain(w) => w.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsWriter::Plain(w) => w.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.flush(),
        }
    }
}

impl<S: SplitStream> WriteHalf for MaybeTlsWriter<S> {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.shutdown_write(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.shutdown_write(),
        }
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.set_write_timeout(timeout),
        }
    }
}
