//! `Sec-WebSocket-Key` generation and validation, and `Sec-WebSocket-Accept`.

#[allow(unused_imports)]
use crate::prelude::*;
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};

/// The GUID a server appends to the client's key (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Standard base64 with padding. Decoding tolerates non-zero trailing bits:
/// the RFC's own example key `AQIDBAUGBwgJCgsMDQ4PEC==` (§4.1) has them.
const B64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
///
/// RFC 6455 §4.2.2: "The value of this header field is constructed by
/// concatenating /key/ [...] with the string
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this
/// concatenated value to obtain a 20-byte value and base64-encoding [...]
/// this 20-byte hash." The key is used as sent (not decoded), with leading
/// and trailing whitespace removed.
///
/// ```
/// use wsproto::handshake::accept_key;
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim_matches([' ', '\t']).as_bytes());
    sha.update(GUID.as_bytes());
    B64.encode(sha.finalize())
}

/// The `Sec-WebSocket-Key` for a 16-byte nonce.
///
/// RFC 6455 §4.1: "The value of this header field MUST be a nonce consisting
/// of a randomly selected 16-byte value that has been base64-encoded". Take
/// the nonce from a strong random source; tests pass a fixed one.
pub fn key_from_nonce(nonce: [u8; 16]) -> String {
    B64.encode(nonce)
}

/// A fresh `Sec-WebSocket-Key` from the thread-local CSPRNG of `rand`.
///
/// RFC 6455 §4.1: "The nonce MUST be selected randomly for each connection."
/// Needs `std`; without it, draw the nonce from the platform's generator
/// and use [`key_from_nonce`].
#[cfg(feature = "std")]
pub fn generate_key() -> String {
    key_from_nonce(rand::random())
}

/// Whether a received `Sec-WebSocket-Key` is base64 for exactly 16 bytes.
///
/// RFC 6455 §4.2.1: "A |Sec-WebSocket-Key| header field with a
/// base64-encoded [...] value that, when decoded, is 16 bytes in length."
pub(crate) fn is_valid_key(value: &[u8]) -> bool {
    // 16 bytes always encode to 22 characters plus "==".
    value.len() == 24 && B64.decode(value).is_ok_and(|bytes| bytes.len() == 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1_3_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t"),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn nonce_round_trip() {
        assert_eq!(
            key_from_nonce(*b"the sample nonce"),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        #[cfg(feature = "std")]
        assert!(is_valid_key(generate_key().as_bytes()));
        #[cfg(feature = "std")]
        assert_ne!(generate_key(), generate_key());
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        // RFC 6455 §4.1's example, with non-zero trailing bits.
        assert!(is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PEC=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // no padding
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=")); // short
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZXg=")); // 17 bytes
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZ!==")); // bad alphabet
        assert!(!is_valid_key(b""));
    }
}
