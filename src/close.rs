//! Close codes and Close frame payloads (RFC 6455 §5.5.1, §7.4).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Timeout, UsageError};
use crate::frame::MAX_CONTROL_PAYLOAD;
use crate::utf8::Utf8Bytes;

/// Longest close reason: a control payload (125 bytes) minus the 2-byte code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// A close status code (RFC 6455 §7.4).
///
/// A plain number with named constants, so codes the RFC leaves to
/// applications (3000–4999) need no enum variant. Which codes may travel in a
/// Close frame is [`CloseCode::is_allowed_on_wire`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: a Close frame without a code arrived. Never sent on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection ended without a Close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data did not match its type (non-UTF-8 text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: an unexpected condition (also used here for a keepalive timeout).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (registered with IANA); a client
    /// may reconnect after a short delay.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (registered with IANA: a temporary
    /// condition; sent here to a reader too slow for a broadcast, see
    /// [`Connection::send_prepared`](crate::Connection::send_prepared)).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid answer from upstream
    /// (registered with IANA).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// A code from its number (any number; see
    /// [`CloseCode::is_allowed_on_wire`]).
    pub const fn new(code: u16) -> Self {
        CloseCode(code)
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a Close frame, sent or received.
    ///
    /// Allowed: 1000–1003, 1007–1014 and 3000–4999. Refused: 0–999 (RFC 6455
    /// §7.4.2: "not used"), 1004 (reserved), 1005, 1006 and 1015 (§7.4.1:
    /// "MUST NOT be set as a status code in a Close control frame by an
    /// endpoint"), and 1016–2999 (reserved for future revisions, so no
    /// meaning is defined yet). 1012 (service restart), 1013 (try again
    /// later) and 1014 (bad gateway) are registered with IANA and sent by
    /// real servers, so they are accepted; the Autobahn suite does not test
    /// them.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl CloseCode {
    /// The name of a code this crate has a constant for.
    fn name(self) -> Option<&'static str> {
        Some(match self {
            CloseCode::NORMAL => "NORMAL",
            CloseCode::GOING_AWAY => "GOING_AWAY",
            CloseCode::PROTOCOL_ERROR => "PROTOCOL_ERROR",
            CloseCode::UNSUPPORTED_DATA => "UNSUPPORTED_DATA",
            CloseCode::NO_STATUS => "NO_STATUS",
            CloseCode::ABNORMAL => "ABNORMAL",
            CloseCode::INVALID_PAYLOAD => "INVALID_PAYLOAD",
            CloseCode::POLICY => "POLICY",
            CloseCode::TOO_BIG => "TOO_BIG",
            CloseCode::MANDATORY_EXTENSION => "MANDATORY_EXTENSION",
            CloseCode::INTERNAL_ERROR => "INTERNAL_ERROR",
            CloseCode::SERVICE_RESTART => "SERVICE_RESTART",
            CloseCode::TRY_AGAIN_LATER => "TRY_AGAIN_LATER",
            CloseCode::BAD_GATEWAY => "BAD_GATEWAY",
            CloseCode::TLS_HANDSHAKE => "TLS_HANDSHAKE",
            _ => return None,
        })
    }
}

/// `CloseCode(1000 NORMAL)`, or `CloseCode(4001)` for a code without a name.
impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "CloseCode({} {name})", self.0),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

/// A code compares equal to its number: `assert_eq!(code, 1000)`.
impl PartialEq<u16> for CloseCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl PartialEq<CloseCode> for u16 {
    fn eq(&self, other: &CloseCode) -> bool {
        *self == other.0
    }
}

impl ProtocolError {
    /// The close code to send when failing the connection for this error:
    /// 1007 for data inconsistent with its type, 1009 for a limit, 1002
    /// otherwise.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooBig { .. }
            | ProtocolError::MessageTooBig { .. }
            | ProtocolError::TooManyFragments { .. } => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl Timeout {
    /// The close code the connection ended with: 1011 (sent in our Close)
    /// for the keepalive, 1006 (none received) for the close timeout, 1008
    /// for the message timeout, 1013 for the memory budget.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Timeout::Keepalive => CloseCode::INTERNAL_ERROR,
            Timeout::Close => CloseCode::ABNORMAL,
            Timeout::Message => CloseCode::POLICY,
            Timeout::Budget => CloseCode::TRY_AGAIN_LATER,
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a connection closed: a status code and a reason.
///
/// Received Close frames become one of these (an empty Close frame reads as
/// [`CloseCode::NO_STATUS`], RFC 6455 §7.1.5); it is also how the connection
/// reports its outcome once closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, UTF-8, at most 123 bytes on the wire; often empty.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with an empty reason.
    pub const fn new(code: CloseCode) -> Self {
        CloseFrame {
            code,
            reason: Utf8Bytes::from_static(""),
        }
    }

    /// Parses the payload of a received Close frame.
    ///
    /// An empty payload yields code 1005 and an empty reason.
    pub fn parse(payload: Bytes) -> Result<CloseFrame, ProtocolError> {
        match payload.len() {
            0 => Ok(CloseFrame::new(CloseCode::NO_STATUS)),
            // RFC 6455 §5.5.1: "If there is a body, the first two bytes of the
            // body MUST be a 2-byte unsigned integer".
            1 => Err(ProtocolError::CloseTooShort),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_allowed_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason = payload.slice(2..);
                // RFC 6455 §5.5.1: "the body MAY contain UTF-8-encoded data".
                let reason =
                    Utf8Bytes::try_from_bytes(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(CloseFrame { code, reason })
            }
        }
    }

    /// Checks a close the application wants to send.
    pub(crate) fn check_sendable(code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !code.is_allowed_on_wire() {
            return Err(UsageError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::CloseReasonTooLong(reason.len()));
        }
        Ok(())
    }

    /// Appends the payload (code, then reason) to `out`.
    pub(crate) fn encode_payload(code: CloseCode, reason: &[u8], out: &mut BytesMut) {
        out.put_u16(code.0);
        out.extend_from_slice(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &'static [u8]) -> Result<CloseFrame, ProtocolError> {
        CloseFrame::parse(Bytes::from_static(bytes))
    }

    #[test]
    fn every_code_is_sorted() {
        for code in 0..=u16::MAX {
            let allowed = CloseCode(code).is_allowed_on_wire();
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(allowed, expected, "{code}");
            let payload = Bytes::copy_from_slice(&code.to_be_bytes());
            match CloseFrame::parse(payload) {
                Ok(frame) => assert!(allowed && frame.code.as_u16() == code),
                Err(e) => {
                    assert!(!allowed);
                    assert_eq!(e, ProtocolError::InvalidCloseCode(code));
                    assert_eq!(e.close_code(), 1002);
                }
            }
        }
    }

    #[test]
    fn debug_names_the_code() {
        assert_eq!(format!("{:?}", CloseCode::NORMAL), "CloseCode(1000 NORMAL)");
        assert_eq!(
            format!("{:?}", CloseCode::new(1012)),
            "CloseCode(1012 SERVICE_RESTART)"
        );
        assert_eq!(format!("{:?}", CloseCode::new(4001)), "CloseCode(4001)");
        assert_eq!(CloseCode::GOING_AWAY, 1001);
        assert_eq!(1001, CloseCode::GOING_AWAY);
    }

    #[test]
    fn payload_shapes() {
        assert_eq!(parse(b"").unwrap(), CloseFrame::new(CloseCode::NO_STATUS));
        assert_eq!(parse(b"\x03"), Err(ProtocolError::CloseTooShort));
        let frame = parse(b"\x03\xe8bye").unwrap();
        assert_eq!((frame.code, &*frame.reason), (CloseCode::NORMAL, "bye"));
        // Autobahn 7.5.1: a reason that is not UTF-8 is 1007.
        let err = parse(b"\x03\xe8\xce\xba\xed\xa0\x80").unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code()),
            (ProtocolError::InvalidUtf8, CloseCode::INVALID_PAYLOAD)
        );
        assert_eq!(parse(b"\x03\xe8\xce"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn sendable_checks() {
        assert_eq!(CloseFrame::check_sendable(CloseCode::NORMAL, ""), Ok(()));
        assert_eq!(
            CloseFrame::check_sendable(CloseCode::NO_STATUS, ""),
            Err(UsageError::InvalidCloseCode(1005))
        );
        let long = "x".repeat(124);
        assert_eq!(
            CloseFrame::check_sendable(CloseCode::NORMAL, &long),
            Err(UsageError::CloseReasonTooLong(124))
        );
        assert_eq!(
            CloseFrame::check_sendable(CloseCode(4999), &long[..123]),
            Ok(())
        );
    }
}
