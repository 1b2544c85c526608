//! [`MaybeTlsStream`]: a stream that is plain or wrapped in TLS, and its
//! split halves; what [`connect`](super::connect) returns.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::stream::{ReadHalf, SplitStream, Stream, WriteHalf};
#[cfg(feature = "tls")]
use super::tls::{TlsReader, TlsStream, TlsWriter, client_tls};
#[cfg(feature = "tls")]
use crate::driver::Error;
#[cfg(feature = "tls")]
use rustls::{ClientConfig, Connection, ServerConfig, ServerConnection};
#[cfg(feature = "tls")]
use std::sync::Arc;

/// A stream that is plain or wrapped in TLS, as [`connect`](super::connect)
/// returns for `ws://` and `wss://` URLs.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// No encryption (`ws://`).
    Plain(S),
    /// TLS with rustls (`wss://`, or a server that accepted TLS; also
    /// `ws://` through an `https://` proxy, the TLS being the proxy's).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<S>>),
    /// `wss://` through an `https://` proxy: TLS with the server inside
    /// TLS with the proxy.
    #[cfg(feature = "tls")]
    TlsInTls(Box<TlsStream<TlsStream<S>>>),
}

impl<S> MaybeTlsStream<S> {
    /// The socket under any TLS layer, e.g. for its peer address.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.get_ref(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.get_ref().get_ref(),
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
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.read(buf),
        }
    }
}

impl<S: Read + Write> Write for MaybeTlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => t.flush(),
        }
    }
}

impl<S: Stream> Stream for MaybeTlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => Stream::set_read_timeout(s, timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Stream::set_read_timeout(&mut **t, timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => Stream::set_read_timeout(&mut **t, timeout),
        }
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => Stream::set_write_timeout(s, timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Stream::set_write_timeout(&mut **t, timeout),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => Stream::set_write_timeout(&mut **t, timeout),
        }
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => Stream::shutdown_write(s),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Stream::shutdown_write(&mut **t),
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => Stream::shutdown_write(&mut **t),
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
    Tls(TlsReader<S::Reader>),
    /// A TLS-in-TLS stream's read half.
    #[cfg(feature = "tls")]
    TlsInTls(TlsReader<TlsReader<S::Reader>>),
}

/// The write half of a split [`MaybeTlsStream`].
#[non_exhaustive]
pub enum MaybeTlsWriter<S: SplitStream> {
    /// A plain stream's write half.
    Plain(S::Writer),
    /// A TLS stream's write half.
    #[cfg(feature = "tls")]
    Tls(TlsWriter<S::Writer>),
    /// A TLS-in-TLS stream's write half.
    #[cfg(feature = "tls")]
    TlsInTls(TlsWriter<TlsWriter<S::Writer>>),
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
            #[cfg(feature = "tls")]
            MaybeTlsStream::TlsInTls(t) => {
                let (r, w) = t.split()?;
                Ok((MaybeTlsReader::TlsInTls(r), MaybeTlsWriter::TlsInTls(w)))
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
            #[cfg(feature = "tls")]
            MaybeTlsReader::TlsInTls(r) => r.read(buf),
        }
    }
}

impl<S: SplitStream> ReadHalf for MaybeTlsReader<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsReader::Plain(r) => r.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsReader::Tls(r) => r.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsReader::TlsInTls(r) => r.set_read_timeout(timeout),
        }
    }
}

impl<S: SplitStream> Write for MaybeTlsWriter<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsWriter::Plain(w) => w.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::TlsInTls(w) => w.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsWriter::Plain(w) => w.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::TlsInTls(w) => w.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::TlsInTls(w) => w.flush(),
        }
    }
}

impl<S: SplitStream> WriteHalf for MaybeTlsWriter<S> {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.shutdown_write(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.shutdown_write(),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::TlsInTls(w) => w.shutdown_write(),
        }
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTlsWriter::Plain(w) => w.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::Tls(w) => w.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            MaybeTlsWriter::TlsInTls(w) => w.set_write_timeout(timeout),
        }
    }
}

/// Runs the server side of the TLS handshake on an accepted socket, giving
/// up after `timeout` (a peer that stalls is dropped), and returns the
/// stream to pass to [`accept`](super::accept) or
/// [`accept_with`](super::accept_with).
#[cfg(feature = "tls")]
pub fn accept_tls<S: Stream>(
    sock: S,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error> {
    let conn = ServerConnection::new(config)?;
    let stream = TlsStream::handshake(Connection::Server(conn), sock, timeout)?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

/// Runs the client side of the TLS handshake for `host` (a DNS name or an
/// IP address) over a connected socket.
#[cfg(feature = "tls")]
pub fn connect_tls<S: Stream>(
    sock: S,
    host: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<MaybeTlsStream<S>, Error> {
    Ok(MaybeTlsStream::Tls(Box::new(client_tls(
        sock, host, config, timeout,
    )?)))
}
