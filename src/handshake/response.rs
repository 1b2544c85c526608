//! Writing HTTP responses: the 101, refusals, and plain HTTP on the same port.

use super::error::HandshakeUsageError;
use super::http1::{write_header, write_status_line};
use crate::headers::is_token;
#[allow(unused_imports)]
use crate::prelude::*;

/// Builds a complete HTTP/1.1 response: status line, `headers`, then `body`.
///
/// For answering plain HTTP (a page, a health check) on the WebSocket port,
/// and for refusing a handshake. `Content-Length` is added unless the caller
/// set it or `Transfer-Encoding`; statuses that carry no body (1xx, 204, 304)
/// must get an empty one. Names must be tokens and values free of CR, LF
/// and NUL, so a value taken from a request cannot inject header lines.
///
/// ```
/// let bytes = wsproto::handshake::http_response(200, &[("Content-Type", "text/plain")], b"ok")?;
/// assert_eq!(bytes, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
/// # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
/// ```
pub fn http_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<u8>, HandshakeUsageError> {
    if !(100..=999).contains(&status) {
        return Err(HandshakeUsageError::InvalidStatus(status));
    }
    let bodyless = status < 200 || status == 204 || status == 304;
    if bodyless && !body.is_empty() {
        return Err(HandshakeUsageError::BodyNotAllowed(status));
    }
    for (name, value) in headers {
        check_header(name, value)?;
    }
    let framed = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    });
    let mut out = Vec::with_capacity(64 + body.len());
    write_status_line(&mut out, status);
    for (name, value) in headers {
        write_header(&mut out, name, value);
    }
    if !bodyless && !framed {
        write_header(&mut out, "Content-Length", &body.len().to_string());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Refuses a header a peer could be tricked with: the name must be a token,
/// the value free of CR, LF and NUL (RFC 7230 §3.2 field-value).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), HandshakeUsageError> {
    if !is_token(name.as_bytes()) || value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(HandshakeUsageError::InvalidHeader(name.to_owned()));
    }
    Ok(())
}

/// Refuses extra headers whose names the handshake writes itself.
pub(crate) fn check_not_reserved(name: &str, reserved: &[&str]) -> Result<(), HandshakeUsageError> {
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(HandshakeUsageError::ReservedHeader(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodyless_statuses() {
        assert_eq!(
            http_response(204, &[], b"").unwrap(),
            b"HTTP/1.1 204 No Content\r\n\r\n"
        );
        assert_eq!(
            http_response(204, &[], b"x"),
            Err(HandshakeUsageError::BodyNotAllowed(204))
        );
        assert_eq!(
            http_response(99, &[], b""),
            Err(HandshakeUsageError::InvalidStatus(99))
        );
    }

    #[test]
    fn caller_framing_kept() {
        let got = http_response(599, &[("content-length", "1")], b"x").unwrap();
        assert_eq!(got, b"HTTP/1.1 599 \r\ncontent-length: 1\r\n\r\nx");
    }

    #[test]
    fn header_injection_refused() {
        for (n, v) in [
            ("X-A", "a\r\nSet-Cookie: x"),
            ("X A", "a"),
            ("", "a"),
            ("X", "\0"),
        ] {
            assert_eq!(
                http_response(200, &[(n, v)], b""),
                Err(HandshakeUsageError::InvalidHeader(n.into()))
            );
        }
    }
}
