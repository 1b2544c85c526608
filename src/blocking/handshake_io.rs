//! Reading an HTTP head from a blocking stream within a deadline, shared by
//! both roles of the opening handshake.

use std::io;
use std::time::{Duration, Instant};

use super::stream::Stream;
use crate::driver::error::{Error, HandshakeFailure, is_timeout};

/// Bytes read per system call while the head arrives.
const HEAD_READ: usize = 2 << 10;

/// A handshake in progress: the stream, what has arrived, and the deadline.
pub(super) struct HeadReader {
    pub(super) buf: Vec<u8>,
    deadline: Instant,
}

impl HeadReader {
    /// Starts the clock and bounds writes by the same timeout.
    pub(super) fn start<S: Stream>(stream: &mut S, timeout: Duration) -> Result<Self, Error> {
        stream.set_write_timeout(Some(timeout))?;
        Ok(HeadReader {
            buf: Vec::new(),
            deadline: Instant::now() + timeout,
        })
    }

    /// Reads more bytes, failing with a timeout at the deadline and with
    /// [`HandshakeFailure::Eof`] at the end of stream.
    pub(super) fn read_more<S: Stream>(&mut self, stream: &mut S) -> Result<(), Error> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HandshakeFailure::Timeout.into());
            }
            stream.set_read_timeout(Some(left))?;
            let start = self.buf.len();
            self.buf.resize(start + HEAD_READ, 0);
            let result = stream.read(&mut self.buf[start..]);
            self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
            match result {
                Ok(0) => return Err(HandshakeFailure::Eof.into()),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes all of `bytes` (a request or a response) within the deadline.
    pub(super) fn write<S: Stream>(&self, stream: &mut S, bytes: &[u8]) -> Result<(), Error> {
        let result = stream.write_all(bytes).and_then(|()| stream.flush());
        match result {
            Err(e) if is_timeout(&e) => Err(HandshakeFailure::Timeout.into()),
            other => Ok(other?),
        }
    }

    /// Lifts the handshake's timeouts: from now on the connection's own
    /// deadlines apply.
    pub(super) fn done<S: Stream>(stream: &mut S) -> Result<(), Error> {
        stream.set_read_timeout(None)?;
        stream.set_write_timeout(None)?;
        Ok(())
    }
}
