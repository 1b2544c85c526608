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
    /// The start line cannot begin a head of the expected kind.
    BadStartLine(&'static str),
}

/// Which start line the head begins with, checked as it arrives so that
/// bytes that are not HTTP (a TLS ClientHello on a plain port, random
/// garbage) are refused at once instead of after the size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// `method SP request-target SP HTTP-version`.
    Request,
    /// `HTTP-version SP status-code SP reason-phrase`.
    Response,
}

/// Incremental search for the blank line that ends an HTTP head.
///
/// Lines end in CRLF or a bare LF (as `httparse` accepts both); empty lines
/// before the start line are skipped, as `httparse` skips them too.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    limits: HandshakeLimits,
    kind: StartLine,
    /// The request method (the start line up to its first space) is over.
    method_done: bool,
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
    pub(crate) fn new(limits: HandshakeLimits, kind: StartLine) -> Self {
        HeadScanner {
            limits,
            kind,
            method_done: false,
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
            ..HeadScanner::new(self.limits, self.kind)
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
                if !self.started {
                    self.check_start_byte(i - self.line_start, byte)?;
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
                check_start_line(self.kind, &buf[end - len..end])?;
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

    /// Checks byte `at` of the start line as it arrives: a request begins
    /// with a method token (RFC 9110 §9.1: `method = token`), a response
    /// with `HTTP/`. Leading empty lines were skipped already.
    ///
    /// A CR passes here (an empty line may precede the start line, RFC 9112
    /// §2.2); one inside the line fails the whole-line check.
    fn check_start_byte(&mut self, at: usize, byte: u8) -> Result<(), HeadError> {
        if byte == b'\r' {
            return Ok(());
        }
        match self.kind {
            StartLine::Request => {
                if byte == b' ' {
                    self.method_done = true;
                } else if !self.method_done && !is_tchar(byte) {
                    return Err(HeadError::BadStartLine(
                        "request line does not start with a method",
                    ));
                }
            }
            StartLine::Response => {
                if at < 5 && byte != b"HTTP/"[at] {
                    return Err(HeadError::BadStartLine(
                        "status line does not start with HTTP/",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Checks a complete start line (without its line ending) once.
fn check_start_line(kind: StartLine, line: &[u8]) -> Result<(), HeadError> {
    let mut parts = line.split(|&b| b == b' ');
    let (first, second) = (parts.next().unwrap_or_default(), parts.next());
    let well_formed = match kind {
        StartLine::Request => {
            let version = parts.next();
            !first.is_empty()
                && first.iter().all(|&b| is_tchar(b))
                && second.is_some_and(|target| {
                    !target.is_empty() && target.iter().all(|&b| b > b' ' && b != 0x7f)
                })
                && version.is_some_and(is_http_version)
                && parts.next().is_none()
        }
        StartLine::Response => {
            is_http_version(first)
                && second.is_some_and(|code| code.len() == 3 && code.iter().all(u8::is_ascii_digit))
        }
    };
    if well_formed {
        Ok(())
    } else {
        Err(HeadError::BadStartLine(match kind {
            StartLine::Request => "malformed request line",
            StartLine::Response => "malformed status line",
        }))
    }
}

/// `HTTP/d.d`.
fn is_http_version(v: &[u8]) -> bool {
    matches!(v, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
/// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        assert_eq!(s.scan(head), Ok(Some(27)));
        assert_eq!(s.fields(), 1);
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        for n in 0..27 {
            assert_eq!(s.scan(&head[..n]), Ok(None));
        }
        assert_eq!(s.scan(&head[..27]), Ok(Some(27)));
        assert_eq!(s.scanned(), 27);
    }

    #[test]
    fn bare_lf_and_leading_blank_lines() {
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        assert_eq!(s.scan(b"\r\n\nGET / HTTP/1.1\nA: b\n\n"), Ok(Some(24)));
        assert_eq!(s.fields(), 1);
    }

    #[test]
    fn caps() {
        let mut s = HeadScanner::new(limits(10, 8, 100), StartLine::Request);
        assert_eq!(s.scan(b"GET / HTTP/1.1"), Err(HeadError::TooLarge));
        let mut s = HeadScanner::new(limits(100, 8, 14), StartLine::Request);
        assert_eq!(s.scan(b"GET / HTTP/1.1\r"), Ok(None));
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n"), Ok(None));
        let mut s = HeadScanner::new(limits(100, 8, 14), StartLine::Request);
        assert_eq!(s.scan(b"GET /x HTTP/1.1\r"), Err(HeadError::LineTooLong));
        let mut s = HeadScanner::new(limits(100, 1, 100), StartLine::Request);
        assert_eq!(
            s.scan(b"G / HTTP/1.1\r\na\r\nb\r\n"),
            Err(HeadError::TooManyHeaders)
        );
        let mut s = HeadScanner::new(limits(100, 1, 100), StartLine::Request);
        assert_eq!(s.scan(b"G / HTTP/1.1\r\na\r\n\r\n"), Ok(Some(19)));
    }

    #[test]
    fn shorter_buffer_restarts() {
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n"), Ok(None));
        assert_eq!(s.scan(b"G / HTTP/1.0\n\n"), Ok(Some(14)));
    }

    #[test]
    fn non_http_bytes_are_refused_at_once() {
        // The first bytes of a TLS ClientHello.
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        assert!(matches!(
            s.scan(b"\x16\x03\x01\x02\x00"),
            Err(HeadError::BadStartLine(_))
        ));
        assert_eq!(s.scanned(), 1);
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
        assert!(matches!(
            s.scan(b"GE\x00T / HTTP/1.1"),
            Err(HeadError::BadStartLine(_))
        ));
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Response);
        assert!(matches!(s.scan(b"HTTX"), Err(HeadError::BadStartLine(_))));
        assert_eq!(s.scanned(), 4);
    }

    #[test]
    fn start_lines_are_checked_whole_when_complete() {
        for line in [
            &b"GET /\r\n"[..],
            b"GET / HTTP/1.1 x\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/11\r\n",
        ] {
            let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Request);
            assert!(
                matches!(s.scan(line), Err(HeadError::BadStartLine(_))),
                "{line:?}"
            );
        }
        for line in [
            &b"HTTP/1.1 10\r\n"[..],
            b"HTTP/1.1\r\n",
            b"HTTP/1.1 abc OK\r\n",
        ] {
            let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Response);
            assert!(
                matches!(s.scan(line), Err(HeadError::BadStartLine(_))),
                "{line:?}"
            );
        }
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Response);
        assert_eq!(s.scan(b"HTTP/1.1 101 Switching Protocols\r\n"), Ok(None));
        let mut s = HeadScanner::new(HandshakeLimits::default(), StartLine::Response);
        assert_eq!(s.scan(b"HTTP/1.1 200 \r\n"), Ok(None));
    }
}
