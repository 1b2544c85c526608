//! Frames built by hand, byte by byte, never by the encoder under test;
//! and the sample values of RFC 6455, each under a name that says which
//! one it is.

/// The masking key of RFC 6455 §5.7's examples: client frames in the
/// tests are masked with it, so their bytes can be checked by eye against
/// the RFC.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The `Sec-WebSocket-Key` of RFC 6455 §1.3 (the sample nonce).
pub const SAMPLE_NONCE: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The `Sec-WebSocket-Accept` that answers [`SAMPLE_NONCE`] (RFC 6455
/// §1.3).
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// First bytes: the FIN bit plus the opcode.
pub const TEXT: u8 = 0x81;
pub const TEXT_FIRST: u8 = 0x01;
pub const BINARY: u8 = 0x82;
pub const BINARY_FIRST: u8 = 0x02;
pub const CONT: u8 = 0x00;
pub const CONT_LAST: u8 = 0x80;
pub const CLOSE: u8 = 0x88;
pub const PING: u8 = 0x89;

/// The first byte of a frame: FIN and the opcode (`0x0`..=`0xF`).
pub fn first_byte(fin: bool, opcode: u8) -> u8 {
    if fin { 0x80 | opcode } else { opcode }
}

/// A frame header declaring `len` payload bytes, whatever follows, in the
/// shortest length form (RFC 6455 §5.2), masked with `mask` if given.
pub fn header(first: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let bit = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![first];
    if len < 126 {
        out.push(bit | len as u8);
    } else if len <= 0xffff {
        out.push(bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// A whole frame: [`header`] and `payload`, masked with `mask` if given
/// (a client's frame), as it goes on the wire.
pub fn frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = header(first, payload.len() as u64, mask);
    let key = mask.unwrap_or([0; 4]);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A client frame, masked with [`MASK_KEY`].
pub fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, payload, Some(MASK_KEY))
}

/// An upgrade request (RFC 6455 §1.3) for `target` with the sample
/// nonce, `extra` header lines (each ending in CRLF) before the blank line.
pub fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_NONCE}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}
