//! The SOCKS5 exchange (RFC 1928) with username/password authentication
//! (RFC 1929) as a state machine.

use crate::prelude::*;
use core::net::IpAddr;

use super::error::{ProxyError, Socks5Reply};
use super::url::Credentials;
use crate::Parsed;

/// RFC 1928 §3: "The VER field is set to X'05' for this version of the
/// protocol."
const VERSION: u8 = 5;
/// RFC 1928 §3: "X'00' NO AUTHENTICATION REQUIRED".
const NO_AUTH: u8 = 0x00;
/// RFC 1928 §3: "X'02' USERNAME/PASSWORD".
const USER_PASS: u8 = 0x02;
/// RFC 1928 §3: "X'FF' NO ACCEPTABLE METHODS".
const NO_ACCEPTABLE: u8 = 0xff;
/// RFC 1929 §2: "The VER field contains the current version of the
/// subnegotiation, which is X'01'."
const AUTH_VERSION: u8 = 1;
/// RFC 1928 §4: "CONNECT X'01'".
const CONNECT: u8 = 1;
/// RFC 1928 §4: "IP V4 address: X'01'", "DOMAINNAME: X'03'", "IP V6
/// address: X'04'".
const ATYP_V4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_V6: u8 = 4;

/// Which answer of the proxy comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// `VER METHOD` (2 bytes).
    Method,
    /// RFC 1929 `VER STATUS` (2 bytes).
    Auth,
    /// `VER REP RSV ATYP BND.ADDR BND.PORT` (at most 262 bytes).
    Reply,
    /// Nothing: the tunnel is open.
    Done,
}

/// A SOCKS5 `CONNECT` to a target: the method negotiation, the
/// username/password subnegotiation when the proxy asks for it, and the
/// request.
///
/// Each answer of the proxy has a size known from its first bytes (262 at
/// most), so nothing is buffered beyond it; bytes beyond an answer, before
/// the next message was sent, are [`ProxyError::UnexpectedData`].
#[derive(Debug)]
pub struct Socks5Connect {
    credentials: Option<Credentials>,
    request: Vec<u8>,
    out: Option<Vec<u8>>,
    awaiting: Awaiting,
    buf: Vec<u8>,
}

impl Socks5Connect {
    /// A `CONNECT` to `host` (an IP address, sent as one, or a name of at
    /// most 255 bytes, sent for the proxy to resolve) and `port`;
    /// username/password is offered when there are credentials.
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<&Credentials>,
    ) -> Result<Self, ProxyError> {
        // RFC 1928 §4: "VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT",
        // "RSV RESERVED" (X'00'), "DST.PORT desired destination port in
        // network octet order".
        let mut request = vec![VERSION, CONNECT, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => {
                request.push(ATYP_V4);
                request.extend_from_slice(&ip.octets());
            }
            Ok(IpAddr::V6(ip)) => {
                request.push(ATYP_V6);
                request.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                // RFC 1928 §5: "the address field contains a fully-qualified
                // domain name. The first octet of the address field contains
                // the number of octets of name that follow, there is no
                // terminating NUL octet."
                let len = u8::try_from(host.len()).ok().filter(|&n| n > 0).ok_or(
                    ProxyError::InvalidTarget("a SOCKS5 domain name has 1 to 255 bytes"),
                )?;
                request.push(ATYP_DOMAIN);
                request.push(len);
                request.extend_from_slice(host.as_bytes());
            }
        }
        request.extend_from_slice(&port.to_be_bytes());
        // RFC 1928 §3: "The client connects to the server, and sends a
        // version identifier/method selection message: VER | NMETHODS |
        // METHODS".
        let greeting = match credentials {
            Some(_) => vec![VERSION, 2, NO_AUTH, USER_PASS],
            None => vec![VERSION, 1, NO_AUTH],
        };
        Ok(Socks5Connect {
            credentials: credentials.cloned(),
            request,
            out: Some(greeting),
            awaiting: Awaiting::Method,
            buf: Vec::new(),
        })
    }

    /// The next message for the proxy, once each.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.take()
    }

    /// Takes in bytes from the proxy: [`Parsed::Partial`] until the reply
    /// to the `CONNECT` says it succeeded; write what
    /// [`poll_transmit`](Self::poll_transmit) has after each call.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<Parsed<()>, ProxyError> {
        if self.awaiting == Awaiting::Done {
            return if data.is_empty() {
                Ok(Parsed::Complete(()))
            } else {
                Err(ProxyError::UnexpectedData)
            };
        }
        if self.out.is_some() && !data.is_empty() {
            // An answer to a message not sent yet.
            return Err(ProxyError::UnexpectedData);
        }
        self.buf.extend_from_slice(data);
        let Some(need) = self.answer_len()? else {
            return Ok(Parsed::Partial);
        };
        if self.buf.len() < need {
            return Ok(Parsed::Partial);
        }
        if self.buf.len() > need {
            return Err(ProxyError::UnexpectedData);
        }
        let answer = core::mem::take(&mut self.buf);
        match self.awaiting {
            Awaiting::Method => self.on_method(answer[1])?,
            Awaiting::Auth => {
                // RFC 1929 §2: "A STATUS field of X'00' indicates success.
                // If the server returns a `failure' (STATUS value other
                // than X'00') status, it MUST close the connection."
                if answer[1] != 0 {
                    return Err(ProxyError::Socks5AuthFailed);
                }
                self.out = Some(core::mem::take(&mut self.request));
                self.awaiting = Awaiting::Reply;
            }
            Awaiting::Reply => {
                self.awaiting = Awaiting::Done;
                return Ok(Parsed::Complete(()));
            }
            Awaiting::Done => unreachable!("returned above"),
        }
        Ok(Parsed::Partial)
    }

    /// The length of the awaited answer, once its first bytes tell it;
    /// checks each byte that decides as soon as it is there.
    fn answer_len(&self) -> Result<Option<usize>, ProxyError> {
        let buf = &self.buf;
        let version = match self.awaiting {
            Awaiting::Auth => AUTH_VERSION,
            _ => VERSION,
        };
        if let Some(&v) = buf.first() {
            if v != version {
                return Err(ProxyError::Socks5Malformed(match self.awaiting {
                    Awaiting::Auth => "the authentication status is not version X'01'",
                    _ => "not a SOCKS5 answer (version is not X'05')",
                }));
            }
        }
        match self.awaiting {
            Awaiting::Method | Awaiting::Auth => Ok(Some(2)),
            Awaiting::Reply => {
                // RFC 1928 §6: "VER | REP | RSV | ATYP | BND.ADDR |
                // BND.PORT", "REP Reply field: X'00' succeeded", and "When
                // a reply (REP value other than X'00') indicates a failure,
                // the SOCKS server MUST terminate the TCP connection shortly
                // after sending the reply": a refusal is final at once.
                match buf.get(1) {
                    None => return Ok(None),
                    Some(0) => {}
                    Some(&code) => {
                        return Err(ProxyError::Socks5Refused(Socks5Reply::from_code(code)));
                    }
                }
                if buf.get(2).is_some_and(|&rsv| rsv != 0) {
                    return Err(ProxyError::Socks5Malformed("reserved byte is not X'00'"));
                }
                let Some(&atyp) = buf.get(3) else {
                    return Ok(None);
                };
                let addr = match atyp {
                    ATYP_V4 => 4,
                    ATYP_V6 => 16,
                    ATYP_DOMAIN => match buf.get(4) {
                        Some(&n) => 1 + usize::from(n),
                        None => return Ok(None),
                    },
                    _ => return Err(ProxyError::Socks5Malformed("unknown address type")),
                };
                Ok(Some(4 + addr + 2))
            }
            Awaiting::Done => Ok(Some(0)),
        }
    }

    fn on_method(&mut self, method: u8) -> Result<(), ProxyError> {
        match (method, &self.credentials) {
            (NO_AUTH, _) => {
                self.out = Some(core::mem::take(&mut self.request));
                self.awaiting = Awaiting::Reply;
            }
            (USER_PASS, Some(c)) => {
                // RFC 1929 §2: "VER | ULEN | UNAME | PLEN | PASSWD", each
                // length one octet (the URL parser checked 1..=255).
                let mut auth = vec![AUTH_VERSION, c.username().len() as u8];
                auth.extend_from_slice(c.username().as_bytes());
                auth.push(c.password().len() as u8);
                auth.extend_from_slice(c.password().as_bytes());
                self.out = Some(auth);
                self.awaiting = Awaiting::Auth;
            }
            // RFC 1928 §3: "If the selected METHOD is X'FF', none of the
            // methods listed by the client are acceptable, and the client
            // MUST close the connection."
            (NO_ACCEPTABLE, _) => {
                return Err(ProxyError::Socks5NoAcceptableMethod {
                    offered_password: self.credentials.is_some(),
                });
            }
            _ => {
                return Err(ProxyError::Socks5Malformed(
                    "the proxy chose a method that was not offered",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a whole exchange: the proxy's answers (one per message we
    /// send), whole and one byte at a time; returns what we sent and the
    /// outcome, which must agree.
    fn run(
        host: &str,
        creds: Option<&Credentials>,
        answers: &[&[u8]],
    ) -> (Vec<Vec<u8>>, Result<Parsed<()>, ProxyError>) {
        let mut results = Vec::new();
        for bytewise in [false, true] {
            let mut s = Socks5Connect::new(host, 443, creds).unwrap();
            let mut sent = Vec::new();
            let mut last = Ok(Parsed::Partial);
            'answers: for answer in answers {
                if let Some(m) = s.poll_transmit() {
                    sent.push(m);
                }
                let pieces: Vec<&[u8]> = if bytewise {
                    answer.chunks(1).collect()
                } else {
                    vec![answer]
                };
                for piece in pieces {
                    last = s.receive_data(piece);
                    if last.is_err() {
                        break 'answers;
                    }
                }
            }
            results.push((sent, last));
        }
        let second = results.pop().unwrap();
        let first = results.pop().unwrap();
        assert_eq!(first, second);
        first
    }

    const OK_V4: &[u8] = &[5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];

    #[test]
    fn no_auth_connect_by_name() {
        let (sent, result) = run("example.com", None, &[&[5, 0], OK_V4]);
        assert_eq!(result, Ok(Parsed::Complete(())));
        assert_eq!(sent[0], [5, 1, 0]);
        let mut request = vec![5, 1, 0, 3, 11];
        request.extend_from_slice(b"example.com");
        request.extend_from_slice(&[1, 187]);
        assert_eq!(sent[1], request);
    }

    #[test]
    fn ip_targets_are_sent_as_addresses() {
        let (sent, _) = run("10.1.2.3", None, &[&[5, 0], OK_V4]);
        assert_eq!(sent[1], [5, 1, 0, 1, 10, 1, 2, 3, 1, 187]);
        let (sent, _) = run("::1", None, &[&[5, 0], OK_V4]);
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&[0; 15]);
        v6.extend_from_slice(&[1, 1, 187]);
        assert_eq!(sent[1], v6);
    }

    #[test]
    fn username_password_when_the_proxy_asks() {
        let creds = Credentials::new("alice", "pw");
        let reply_with_domain: &[u8] = &[5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80];
        let (sent, result) = run("h", Some(&creds), &[&[5, 2], &[1, 0], reply_with_domain]);
        assert_eq!(result, Ok(Parsed::Complete(())));
        assert_eq!(sent[0], [5, 2, 0, 2]);
        assert_eq!(sent[1], b"\x01\x05alice\x02pw");
        assert_eq!(sent[2], [5, 1, 0, 3, 1, b'h', 1, 187]);
        // A proxy that needs no authentication skips the subnegotiation.
        let (sent, result) = run("h", Some(&creds), &[&[5, 0], OK_V4]);
        assert_eq!((sent.len(), result), (2, Ok(Parsed::Complete(()))));
    }

    #[test]
    fn refusals_are_named() {
        let creds = Credentials::new("alice", "wrong");
        assert_eq!(
            run("h", Some(&creds), &[&[5, 2], &[1, 1]]).1,
            Err(ProxyError::Socks5AuthFailed)
        );
        assert_eq!(
            run("h", None, &[&[5, 0xff]]).1,
            Err(ProxyError::Socks5NoAcceptableMethod {
                offered_password: false
            })
        );
        for code in 1..=9u8 {
            let (_, result) = run("h", None, &[&[5, 0], &[5, code]]);
            assert_eq!(
                result,
                Err(ProxyError::Socks5Refused(Socks5Reply::from_code(code)))
            );
            assert_eq!(Socks5Reply::from_code(code).code(), code);
        }
        let e = ProxyError::Socks5Refused(Socks5Reply::ConnectionRefused);
        assert_eq!(
            e.to_string(),
            "the SOCKS5 proxy refused the connection: connection refused (X'05')"
        );
    }

    #[test]
    fn malformed_answers() {
        for answers in [
            &[&[4u8, 0][..]][..],
            &[&[5, 2]], // user/pass without credentials to give
            &[&[5, 1]], // GSSAPI, never offered
            &[&[5, 0], &[5, 0, 1]],
            &[&[5, 0], &[5, 0, 0, 9]],
            &[&[5, 0], &[4, 0, 0, 1, 0, 0, 0, 0, 0, 0]],
        ] {
            let result = run("h", None, answers).1;
            assert!(
                matches!(result, Err(ProxyError::Socks5Malformed(_))),
                "{answers:?}: {result:?}"
            );
        }
        let mut too_much = OK_V4.to_vec();
        too_much.push(0);
        assert_eq!(
            run("h", None, &[&[5, 0], &too_much]).1,
            Err(ProxyError::UnexpectedData)
        );
        assert_eq!(
            run("h", None, &[&[5, 0, 5]]).1,
            Err(ProxyError::UnexpectedData)
        );
    }

    #[test]
    fn a_name_longer_than_255_bytes_cannot_be_sent() {
        let long = "a".repeat(256);
        assert!(matches!(
            Socks5Connect::new(&long, 1, None),
            Err(ProxyError::InvalidTarget(_))
        ));
        assert!(Socks5Connect::new(&long[..255], 1, None).is_ok());
    }
}
