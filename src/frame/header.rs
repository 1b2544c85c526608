//! Decoding and encoding of the frame header (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use super::OpCode;
use crate::error::ProtocolError;
use crate::status::Parsed;

/// The longest a header can be: 2 fixed bytes, an 8-byte length, a 4-byte key.
pub const MAX_HEADER_LEN: usize = 14;

/// Largest payload a control frame may carry.
///
/// RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes
/// or less and MUST NOT be fragmented."
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Everything in a frame before its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1: reserved for extensions (permessage-deflate uses it).
    pub rsv1: bool,
    /// RSV2: reserved for extensions.
    pub rsv2: bool,
    /// RSV3: reserved for extensions.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Length of the payload that follows the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked frame without RSV bits.
    pub fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns the header and the number of bytes it took, or
    /// [`Parsed::Partial`] when `buf` ends inside the header (nothing is
    /// consumed then). Only the header is read: the payload may or may not
    /// follow in `buf`, and nothing is allocated from the declared length.
    ///
    /// Errors, each failing the connection with close code 1002, are reported
    /// as soon as the bytes that prove them are present:
    /// a reserved opcode, a control frame with FIN clear or a payload over
    /// 125 bytes, and a 64-bit length with its most significant bit set.
    /// RSV bits and the MASK bit are returned as they are: whether they are
    /// allowed depends on extensions and the role, which the connection knows.
    ///
    /// ```
    /// use wsproto::frame::{FrameHeader, OpCode};
    /// use wsproto::Parsed;
    ///
    /// // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    /// let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// let Parsed::Complete((header, used)) = FrameHeader::decode(&bytes)? else { panic!() };
    /// assert_eq!((header.opcode, header.payload_len, used), (OpCode::Text, 5, 2));
    /// assert!(FrameHeader::decode(&bytes[..1])?.is_partial());
    /// # Ok::<(), wsproto::ProtocolError>(())
    /// ```
    // Always inlined: the connection decodes from two places (the input and
    // its buffer), and left to itself the compiler then calls it, which
    // measured 10 % slower on 16-byte messages.
    #[inline(always)]
    pub fn decode(buf: &[u8]) -> Result<Parsed<(FrameHeader, usize)>, ProtocolError> {
        let Some(&b0) = buf.first() else {
            return Ok(Parsed::Partial);
        };
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            // RFC 6455 §5.5: control frames "MUST NOT be fragmented".
            return Err(ProtocolError::FragmentedControlFrame);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Parsed::Partial);
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        let len_bytes = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if opcode.is_control() && len_bytes != 0 {
            // RFC 6455 §5.5: "All control frames MUST have a payload length
            // of 125 bytes or less".
            return Err(ProtocolError::ControlFrameTooLong);
        }
        if len_bytes == 8 && buf.get(2).is_some_and(|&b| b & 0x80 != 0) {
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            return Err(ProtocolError::LengthMsbSet);
        }
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(Parsed::Partial);
        }
        // `buf` holds the whole header now: the slices below are in bounds,
        // which the compiler sees (one 2-, 4- or 8-byte load each; four
        // byte loads with their bounds checks for the key cost ~45
        // instructions per frame, measured with callgrind).
        let head = &buf[..header_len];
        let payload_len = match len_bytes {
            0 => u64::from(len7),
            2 => u64::from(u16::from_be_bytes(head[2..4].try_into().expect("2 bytes"))),
            _ => u64::from_be_bytes(head[2..10].try_into().expect("8 bytes")),
        };
        let mask = if masked {
            Some(head[header_len - 4..].try_into().expect("4 bytes"))
        } else {
            None
        };
        Ok(Parsed::Complete((
            FrameHeader {
                fin,
                rsv1: b0 & 0x40 != 0,
                rsv2: b0 & 0x20 != 0,
                rsv3: b0 & 0x10 != 0,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// How many bytes [`FrameHeader::encode`] writes for this header.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` and returns how many bytes it used.
    ///
    /// The length always takes its minimal form (RFC 6455 §5.2: "the minimal
    /// number of bytes MUST be used to encode the length"). The header is
    /// written as given: the caller (normally the connection) is responsible
    /// for the control-frame limits and for `payload_len < 2^63`.
    ///
    /// ```
    /// use wsproto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    ///
    /// let mut out = [0; MAX_HEADER_LEN];
    /// let used = FrameHeader::new(OpCode::Binary, 256).encode(&mut out);
    /// assert_eq!(&out[..used], [0x82, 0x7E, 0x01, 0x00]);
    /// ```
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ok(bytes: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(bytes).unwrap().complete().unwrap()
    }

    #[test]
    fn errors_are_reported_as_soon_as_provable() {
        // Reserved opcode: the first byte is enough.
        assert_eq!(
            FrameHeader::decode(&[0x83]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        // Fragmented ping: the first byte is enough.
        assert_eq!(
            FrameHeader::decode(&[0x09]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        // Ping with a 16-bit length: the second byte is enough.
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        // 64-bit length with the MSB set: the third byte is enough.
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80]),
            Err(ProtocolError::LengthMsbSet)
        );
        assert!(
            FrameHeader::decode(&[0x82, 0x7F, 0x7F])
                .unwrap()
                .is_partial()
        );
    }

    #[test]
    fn largest_legal_length_decodes_without_allocating() {
        let bytes = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let (header, used) = decode_ok(&bytes);
        assert_eq!((header.payload_len, used), (i64::MAX as u64, 10));
    }

    #[test]
    fn non_minimal_lengths_are_accepted_on_decode() {
        // 5 in the 16-bit form: legal to read, never produced by encode.
        let (header, used) = decode_ok(&[0x82, 0x7E, 0x00, 0x05]);
        assert_eq!((header.payload_len, used), (5, 4));
        let mut out = [0; MAX_HEADER_LEN];
        assert_eq!(header.encode(&mut out), 2);
    }

    #[test]
    fn rsv_bits_are_reported() {
        let (header, _) = decode_ok(&[0xF2, 0x00]);
        assert!(header.rsv1 && header.rsv2 && header.rsv3 && header.fin);
        let (header, _) = decode_ok(&[0x20, 0x00]);
        assert!(!header.rsv1 && header.rsv2 && !header.rsv3 && !header.fin);
    }

    #[test]
    fn length_form_boundaries() {
        for (len, form) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (0xFFFF, 4),
            (0x1_0000, 10),
            (i64::MAX as u64, 10),
        ] {
            let header = FrameHeader::new(OpCode::Binary, len);
            assert_eq!(header.encoded_len(), form, "{len}");
            let mut out = [0; MAX_HEADER_LEN];
            let used = header.encode(&mut out);
            assert_eq!(used, form);
            assert_eq!(decode_ok(&out[..used]), (header, used));
        }
    }
}
