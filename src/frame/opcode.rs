//! The 4-bit frame opcode (RFC 6455 §5.2).

use crate::error::ProtocolError;

/// What a frame carries.
///
/// RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint
/// MUST _Fail the WebSocket Connection_." The reserved values 0x3–0x7 and
/// 0xB–0xF are therefore not representable; decoding them is a
/// [`ProtocolError::ReservedOpcode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: the closing handshake.
    Close = 0x8,
    /// 0x9: a ping, answered by a pong with the same payload.
    Ping = 0x9,
    /// 0xA: a pong.
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    #[inline]
    pub fn from_u8(value: u8) -> Result<OpCode, ProtocolError> {
        match value {
            0x0 => Ok(OpCode::Continuation),
            0x1 => Ok(OpCode::Text),
            0x2 => Ok(OpCode::Binary),
            0x8 => Ok(OpCode::Close),
            0x9 => Ok(OpCode::Ping),
            0xA => Ok(OpCode::Pong),
            other => Err(ProtocolError::ReservedOpcode(other)),
        }
    }

    /// The 4-bit wire value.
    #[inline]
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Control frames (Close, Ping, Pong): opcodes with the high bit set
    /// (RFC 6455 §5.5: "Control frames are identified by opcodes where the
    /// most significant bit of the opcode is 1").
    #[inline]
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// Data frames (Continuation, Text, Binary).
    #[inline]
    pub fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl TryFrom<u8> for OpCode {
    type Error = ProtocolError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        OpCode::from_u8(value)
    }
}

impl From<OpCode> for u8 {
    fn from(opcode: OpCode) -> u8 {
        opcode.as_u8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_or_is_reserved() {
        for value in 0u8..16 {
            match OpCode::from_u8(value) {
                Ok(op) => assert_eq!(op.as_u8(), value),
                Err(e) => {
                    assert!(matches!(value, 3..=7 | 0xB..=0xF), "{value}");
                    assert_eq!(e, ProtocolError::ReservedOpcode(value));
                    assert_eq!(e.close_code(), 1002);
                }
            }
        }
    }

    #[test]
    fn control_is_the_high_bit() {
        assert!(
            OpCode::Close.is_control() && OpCode::Ping.is_control() && OpCode::Pong.is_control()
        );
        assert!(
            OpCode::Continuation.is_data() && OpCode::Text.is_data() && OpCode::Binary.is_data()
        );
    }
}
