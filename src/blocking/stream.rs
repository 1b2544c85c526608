//! What the adapters need from a transport beyond `Read + Write`: bounding a
//! blocking read in time, shutting the write half down, and splitting into
//! halves that two threads can use at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A byte stream the blocking adapters can drive.
///
/// `Read + Write` carry the bytes; the three extra methods let the adapter
/// enforce the core's deadlines (handshake, close and keepalive timeouts)
/// while it blocks, and end the connection the way RFC 6455 §7.1.1 asks
/// (shut down the write half, then wait for the peer). All have defaults
/// that do nothing, so any stream (a pipe, an in-memory buffer, a tunnel)
/// can be used with a one-line `impl Stream for MyStream {}`; such a stream
/// then checks deadlines only when a read returns.
///
/// What the adapters expect of an implementation:
///
/// - `read` blocks until at least one byte is there, returns `Ok(0)` only
///   at the end of stream, and fails with `WouldBlock` or `TimedOut` when
///   the read timeout passes (never before it: a timeout error that comes
///   back sooner than half the timeout is taken for a non-blocking
///   stream's and returned to the caller as `WouldBlock`).
/// - `write` takes at least one byte or fails; a write that fails,
///   `WouldBlock`/`TimedOut` included, ends the connection (see
///   [`Error::is_fatal`](super::Error::is_fatal)), since a frame may be
///   half written.
/// - The adapter owns the read timeout: it sets it before reads to the
///   core's next deadline (or the bound given to
///   [`WebSocket::read_timeout`](super::WebSocket::read_timeout)).
pub trait Stream: Read + Write {
    /// Bounds the next blocking reads (`None`: block until data arrives).
    /// A read that times out fails with `WouldBlock` or `TimedOut`, no
    /// sooner than `timeout`.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Bounds the next blocking writes (`None`: block until written). A
    /// write that times out fails (and ends the connection).
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
/// [`WebSocket::into_split`](super::WebSocket::into_split)).
pub trait SplitStream: Stream + Sized {
    /// The half that reads.
    type Reader: ReadHalf;
    /// The half that writes.
    type Writer: WriteHalf;

    /// Divides the stream. For a socket this duplicates the handle
    /// (`try_clone`), which can fail.
    fn split_stream(self) -> io::Result<(Self::Reader, Self::Writer)>;
}

/// The read half of a [`SplitStream`] (every [`Stream`] is one too).
pub trait ReadHalf: Read {
    /// As [`Stream::set_read_timeout`].
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// The write half of a [`SplitStream`] (every [`Stream`] is one too).
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

/// A whole stream reads as its own read half.
impl<S: Stream + ?Sized> ReadHalf for S {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Stream::set_read_timeout(self, timeout)
    }
}

/// A whole stream writes as its own write half.
impl<S: Stream + ?Sized> WriteHalf for S {
    fn shutdown_write(&mut self) -> io::Result<()> {
        Stream::shutdown_write(self)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Stream::set_write_timeout(self, timeout)
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
}
