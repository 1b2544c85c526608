//! Finding the end of an HTTP head in linear time, with caps.
//!
//! `httparse` parses from the start of the buffer on every call, so feeding
//! it a head one byte at a time is quadratic (the tungstenite CVE-2023-43669
//! pattern). [`HeadScanner`] remembers how far it has looked and enforces the
//! caps while it looks; `httparse` then runs exactly once, on a complete head.

use crate::HandshakeLimits;

/// Which cap a head broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The head is longer than `max_head_size`.
    TooLarge,
    /// More header lines than `max_headers`.
    TooManyHeaders,
    /// A line longer than `max_line_length` (line ending excluded).
    LineTooLong,
}

/// Incremental search for the blank line that ends an HTTP head.
///
/// Lines end in CRLF or a bare LF (as `httparse` accepts both); empty lines
/// before the start line are skipped, as `httparse` skips them too.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    limits: HandshakeLimits,
    /// Bytes of the caller's buffer already examined.
    pos: usize,
    /// Offset where the current line starts.
    line_start: usize,
    /// Whether the start line (first non-empty line) has been seen.
    started: bool,
    /// Header lines seen so far.
    fields: usize,
    /// Bytes examined over the scanner's whole life: the work done.
    scanned: u64,
}

impl HeadScanner {
    pub(crate) fn new(limits: HandshakeLimits) -> Self {
        HeadScanner {
            limits,
            pos: 0,
            line_start: 0,
            started: false,
            fields: 0,
            scanned: 0,
        }
    }

    /// Header lines in the head found so far (exact once it is complete).
    pub(crate) fn fields(&self) -> usize {
        self.fields
    }

    /// Bytes examined over the scanner's life, across calls and resets.
    pub(crate) fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Forget the current head (keeps the work counter) to start a new one.
    pub(crate) fn reset(&mut self) {
        *self = HeadScanner {
            scanned: self.scanned,
            ..HeadScanner::new(self.limits)
        };
    }

    /// Looks at the bytes of `buf` not examined yet.
    ///
    /// `buf` must start with the bytes passed before. Returns the length of
    /// the head (up to and including its blank line) once it is complete.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HeadError> {
        if buf.len() < self.pos {
            // Not the same buffer grown: start over rather than misread it.
            self.reset();
        }
        let max_line = self.limits.max_line_length;
        while let Some(&byte) = buf.get(self.pos) {
            let i = self.pos;
            if i >= self.limits.max_head_size {
                return Err(HeadError::TooLarge);
            }
            self.pos += 1;
            self.scanned += 1;
            if byte != b'\n' {
                // The line so far may end in the CR of its CRLF: allow one more.
                if i + 1 - self.line_start > max_line.saturating_add(1) {
                    return Err(HeadError::LineTooLong);
                }
                continue;
            }
            let mut end = i;
            if end > self.line_start && buf[end - 1] == b'\r' {
                end -= 1;
            }
            let len = end - self.line_start;
            self.line_start = i + 1;
            if len > max_line {
                return Err(HeadError::LineTooLong);
            }
            if len == 0 {
                if self.started {
                    return Ok(Some(i + 1));
                }
                continue;
            }
            if !self.started {
                self.started = true;
            } else {
                self.fields += 1;
                if self.fields > self.limits.max_headers {
                    return Err(HeadError::TooManyHeaders);
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(head: usize, headers: usize, line: usize) -> HandshakeLimits {
        HandshakeLimits {
            max_head_size: head,
            max_headers: headers,
            max_line_length: line,
        }
    }

    #[test]
    fn finds_end_whole_and_bytewise() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let mut s = HeadScanner::new(HandshakeLimits::default());
        assert_eq!(s.scan(head), Ok(Some(27)));
        assert_eq!(s.fields(), 1);
        let mut s = HeadScanner::new(HandshakeLimits::default());
        for n in 0..27 {
            assert_eq!(s.scan(&head[..n]), Ok(None));
        }
        assert_eq!(s.scan(&head[..27]), Ok(Some(27)));
        assert_eq!(s.scanned(), 27);
    }

    #[test]
    fn bare_lf_and_leading_blank_lines() {
        let mut s = HeadScanner::new(HandshakeLimits::default());
        assert_eq!(s.scan(b"\r\n\nGET / HTTP/1.1\nA: b\n\n"), Ok(Some(24)));
        assert_eq!(s.fields(), 1);
    }

    #[test]
    fn caps() {
        let mut s = HeadScanner::new(limits(10, 8, 100));
        assert_eq!(s.scan(b"GET / HTTP/1.1"), Err(HeadError::TooLarge));
        let mut s = HeadScanner::new(limits(100, 8, 4));
        assert_eq!(s.scan(b"abcd\r"), Ok(None));
        assert_eq!(s.scan(b"abcd\r\n"), Ok(None));
        let mut s = HeadScanner::new(limits(100, 8, 4));
        assert_eq!(s.scan(b"abcde\r"), Err(HeadError::LineTooLong));
        let mut s = HeadScanner::new(limits(100, 1, 100));
        assert_eq!(s.scan(b"G\r\na\r\nb\r\n"), Err(HeadError::TooManyHeaders));
        let mut s = HeadScanner::new(limits(100, 1, 100));
        assert_eq!(s.scan(b"G\r\na\r\n\r\n"), Ok(Some(8)));
    }

    #[test]
    fn shorter_buffer_restarts() {
        let mut s = HeadScanner::new(HandshakeLimits::default());
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n"), Ok(None));
        assert_eq!(s.scan(b"G\r\n\r\n"), Ok(Some(5)));
    }
}
