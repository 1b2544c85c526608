//! The HTTP `CONNECT` exchange (RFC 9110 §9.3.6) as a state machine.

use crate::prelude::*;
use base64::Engine;

use super::error::ProxyError;
use super::url::Credentials;
use crate::handshake::head::{HeadError, HeadScanner, StartLine};
use crate::{HandshakeLimits, Parsed};

/// A `CONNECT` request to an HTTP proxy and the reading of its answer.
///
/// [`poll_transmit`](Self::poll_transmit) hands out the request once; feed
/// the proxy's answer to [`receive_data`](Self::receive_data) in pieces of
/// any size. The response head is scanned once, in linear time, under the
/// [`HandshakeLimits`] caps. Interim 1xx responses are skipped.
#[derive(Debug)]
pub struct HttpConnect {
    request: Option<Vec<u8>>,
    sent_credentials: bool,
    scanner: HeadScanner,
    max_headers: usize,
    buf: Vec<u8>,
    done: bool,
}

impl HttpConnect {
    /// A request for a tunnel to `host` (a name, or an IP address, IPv6
    /// without brackets) and `port`, with `Proxy-Authorization: Basic`
    /// when there are credentials.
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<&Credentials>,
        limits: HandshakeLimits,
    ) -> Self {
        // RFC 9110 §9.3.6: "A client sending a CONNECT request MUST send
        // the authority form of request-target (Section 7.1); i.e., the
        // request-target consists of only the host name and port number of
        // the tunnel destination, separated by a colon." (§7.2: the Host
        // header carries the same authority.)
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request =
            format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
        if let Some(c) = credentials {
            // RFC 9110 §11.7.2: "The "Proxy-Authorization" header field
            // allows the client to identify itself (or its user) to a proxy
            // that requires authentication." RFC 7617 §2: the user-id and
            // password are joined by "a single colon (":") character" and
            // encoded in Base64.
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username(),
                c.password()
            ));
            request.extend_from_slice(b"Proxy-Authorization: Basic ");
            request.extend_from_slice(token.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        // RFC 9110 §9.3.6: "A CONNECT request message does not have
        // content."
        request.extend_from_slice(b"\r\n");
        HttpConnect {
            request: Some(request),
            sent_credentials: credentials.is_some(),
            scanner: HeadScanner::new(limits, StartLine::Response),
            max_headers: limits.max_headers,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The request, the first time; nothing after.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.request.take()
    }

    /// Takes in bytes of the proxy's response: [`Parsed::Partial`] until
    /// the head of a 2xx is complete, then [`Parsed::Complete`]; any other
    /// final status is [`ProxyError::HttpRefused`].
    pub fn receive_data(&mut self, data: &[u8]) -> Result<Parsed<()>, ProxyError> {
        if self.done {
            return if data.is_empty() {
                Ok(Parsed::Complete(()))
            } else {
                Err(ProxyError::UnexpectedData)
            };
        }
        self.buf.extend_from_slice(data);
        loop {
            let len = match self.scanner.scan(&self.buf) {
                Ok(None) => return Ok(Parsed::Partial),
                Ok(Some(len)) => len,
                Err(HeadError::TooLarge) => {
                    return Err(ProxyError::ResponseTooLarge("longer than max_head_size"));
                }
                Err(HeadError::TooManyHeaders) => {
                    return Err(ProxyError::ResponseTooLarge("more than max_headers fields"));
                }
                Err(HeadError::LineTooLong) => {
                    return Err(ProxyError::ResponseTooLarge(
                        "a line longer than max_line_length",
                    ));
                }
                Err(HeadError::BadStartLine(why)) => {
                    return Err(ProxyError::MalformedResponse(why));
                }
            };
            let mut headers = vec![httparse::EMPTY_HEADER; self.max_headers.max(1)];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[..len]) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => return Err(ProxyError::MalformedResponse("invalid response head")),
            }
            let status = response.code.unwrap_or(0);
            match status {
                // RFC 9110 §15.2: "A client MUST be able to parse one or
                // more 1xx responses received prior to a final response".
                100 | 102..=199 => {
                    self.buf.drain(..len);
                    self.scanner.reset();
                    continue;
                }
                200..=299 => {
                    // RFC 9110 §9.3.6: "Any 2xx (Successful) response
                    // indicates that the sender (and all inbound proxies)
                    // will switch to tunnel mode immediately after the
                    // response header section". "A client MUST ignore any
                    // Content-Length or Transfer-Encoding header fields
                    // received in a successful response to CONNECT."
                    // We have sent nothing through the tunnel, and the
                    // WebSocket or TLS client speaks first, so nothing can
                    // have come from the target yet.
                    if self.buf.len() > len {
                        return Err(ProxyError::UnexpectedData);
                    }
                    self.done = true;
                    self.buf = Vec::new();
                    return Ok(Parsed::Complete(()));
                }
                _ => {
                    // RFC 9110 §9.3.6: "Any response other than a
                    // successful response indicates that the tunnel has
                    // not yet been formed." §15.5.8: a 407 proxy "MUST
                    // send a Proxy-Authenticate header field (Section
                    // 11.7.1) containing a challenge applicable to that
                    // proxy for the request."
                    // A 401 can only be the proxy's too (the target was
                    // never reached); tinyproxy 1.11 answers wrong
                    // credentials so, with `WWW-Authenticate`.
                    let challenge = match status {
                        401 => "www-authenticate",
                        _ => "proxy-authenticate",
                    };
                    let authenticate = response
                        .headers
                        .iter()
                        .filter(|h| h.name.eq_ignore_ascii_case(challenge))
                        .filter_map(|h| auth_scheme(h.value))
                        .collect();
                    return Err(ProxyError::HttpRefused {
                        status,
                        authenticate,
                        sent_credentials: self.sent_credentials,
                    });
                }
            }
        }
    }
}

/// The auth-scheme of a challenge (RFC 9110 §11.3: `challenge =
/// auth-scheme [ 1*SP ( token68 / #auth-param ) ]`): its first token,
/// at most 32 bytes shown.
fn auth_scheme(value: &[u8]) -> Option<String> {
    let text = core::str::from_utf8(value).ok()?.trim();
    let scheme: String = text
        .split([' ', ','])
        .next()?
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    (!scheme.is_empty()).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(creds: Option<&Credentials>) -> HttpConnect {
        HttpConnect::new("example.com", 443, creds, HandshakeLimits::default())
    }

    /// Feeds `answer` whole and one byte at a time: the outcomes agree.
    fn answer(creds: Option<&Credentials>, answer: &[u8]) -> Result<Parsed<()>, ProxyError> {
        let mut whole = connect(creds);
        let _ = whole.poll_transmit();
        let whole = whole.receive_data(answer);
        let mut bytewise = connect(creds);
        let mut last = Ok(Parsed::Partial);
        for b in answer {
            last = bytewise.receive_data(std::slice::from_ref(b));
            if last.is_err() {
                break;
            }
        }
        assert_eq!(whole, last);
        whole
    }

    #[test]
    fn the_request_is_in_authority_form_with_host() {
        let mut c = connect(None);
        assert_eq!(
            c.poll_transmit().unwrap(),
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        assert_eq!(c.poll_transmit(), None);
        let mut v6 = HttpConnect::new("::1", 80, None, HandshakeLimits::default());
        assert!(
            v6.poll_transmit()
                .unwrap()
                .starts_with(b"CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n")
        );
    }

    #[test]
    fn credentials_go_in_proxy_authorization_basic() {
        // RFC 7617 §2's example: Aladdin / open sesame.
        let creds = Credentials::new("Aladdin", "open sesame");
        let request = connect(Some(&creds)).poll_transmit().unwrap();
        let text = String::from_utf8(request).unwrap();
        assert!(
            text.contains("\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_2xx_opens_the_tunnel_and_content_length_is_ignored() {
        for ok in [
            &b"HTTP/1.1 200 Connection established\r\n\r\n"[..],
            b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 Tunnel\r\n\r\n",
            b"\r\nHTTP/1.1 200 OK\n\n",
        ] {
            assert_eq!(answer(None, ok), Ok(Parsed::Complete(())), "{ok:?}");
        }
    }

    #[test]
    fn refusals_carry_status_and_challenge_schemes() {
        let e = answer(
            None,
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"tinyproxy\"\r\nProxy-Authenticate: Digest realm=\"x\", nonce=\"y\"\r\nContent-Length: 3\r\n\r\nabc",
        )
        .unwrap_err();
        assert_eq!(
            e,
            ProxyError::HttpRefused {
                status: 407,
                authenticate: vec!["Basic".into(), "Digest".into()],
                sent_credentials: false
            }
        );
        assert_eq!(
            e.to_string(),
            "the HTTP proxy refused the tunnel: 407 Proxy Authentication Required \
             (Proxy-Authenticate: Basic, Digest); the proxy URL has no credentials"
        );
        let creds = Credentials::new("u", "wrong");
        let e = answer(
            Some(&creds),
            b"HTTP/1.1 407 No\r\nProxy-Authenticate: Basic\r\n\r\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("credentials in the proxy URL were refused"),
            "{e}"
        );
        // tinyproxy 1.11's answer to wrong credentials.
        let e = answer(
            Some(&creds),
            b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the HTTP proxy refused the tunnel: 401 Unauthorized (WWW-Authenticate: Basic); \
             the credentials in the proxy URL were refused"
        );
        for (head, status) in [
            (&b"HTTP/1.1 403 Forbidden\r\n\r\n"[..], 403),
            (
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
                502,
            ),
        ] {
            let e = answer(None, head).unwrap_err();
            assert_eq!(e.http_status(), Some(status));
        }
    }

    #[test]
    fn bytes_after_a_2xx_are_unexpected() {
        assert_eq!(
            answer(None, b"HTTP/1.1 200 OK\r\n\r\nX"),
            Err(ProxyError::UnexpectedData)
        );
        let mut c = connect(None);
        assert_eq!(
            c.receive_data(b"HTTP/1.1 200 OK\r\n\r\n"),
            Ok(Parsed::Complete(()))
        );
        assert_eq!(c.receive_data(b"late"), Err(ProxyError::UnexpectedData));
    }

    #[test]
    fn an_endless_head_is_capped_like_a_servers() {
        let limits = HandshakeLimits::default().max_head_size(1024);
        let mut c = HttpConnect::new("h", 1, None, limits);
        assert_eq!(c.receive_data(b"HTTP/1.1 200 OK\r\n"), Ok(Parsed::Partial));
        let mut result = Ok(Parsed::Partial);
        for _ in 0..100 {
            result = c.receive_data(b"X-Filler: 0123456789abcdef\r\n");
            if result.is_err() {
                break;
            }
        }
        assert!(
            matches!(result, Err(ProxyError::ResponseTooLarge(_))),
            "{result:?}"
        );
        let endless_line = vec![b'a'; 20_000];
        let mut c = connect(None);
        let _ = c.receive_data(b"HTTP/1.1 200 ");
        assert!(matches!(
            c.receive_data(&endless_line),
            Err(ProxyError::ResponseTooLarge(_))
        ));
    }

    #[test]
    fn not_http_is_malformed() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n"[..],
            b"\x05\x00",
            b"HTTP/1.1 2000 OK\r\n\r\n",
        ] {
            assert!(
                matches!(answer(None, bad), Err(ProxyError::MalformedResponse(_))),
                "{bad:?}"
            );
        }
    }
}
