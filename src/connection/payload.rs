//! What the send methods accept: borrowed payloads (copied into the send
//! buffer, no allocation, whatever their size) and owned ones (passed
//! through without a copy when large).
//!
//! A plain `impl Into<Bytes>` would turn every `&[u8]` into a freshly
//! allocated `Bytes` and every `String` whose capacity exceeds its length
//! into a second allocation (the shared header of `bytes`), even when the
//! message is small enough to be copied next to its frame header anyway.
//! These traits let the connection look at the bytes first and take
//! ownership only when that saves a copy.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Bytes, BytesMut};

use crate::utf8::Utf8Bytes;

/// A payload for [`Connection::send_binary`](super::Connection::send_binary).
///
/// Implemented for borrowed bytes (`&[u8]`, `&[u8; N]`, `&Vec<u8>`) and
/// arrays (`[u8; N]`), which are copied into the send buffer, and owned or
/// shared ones (`Vec<u8>`, `Box<[u8]>`, `Bytes`, `&Bytes`, `BytesMut`),
/// which a large message sends without a copy (a client masks an owned payload in place, and copies a shared one
/// while masking it).
pub trait BinaryPayload {
    /// Whether the payload is borrowed: it is then always copied into the
    /// send buffer (next to its frame header; no allocation), never turned
    /// into a [`Bytes`] of its own.
    const BORROWED: bool = false;
    /// The bytes, to copy when the message is small or borrowed.
    fn as_bytes(&self) -> &[u8];
    /// The bytes as [`Bytes`], for a large message (no copy for owned
    /// payloads).
    fn into_bytes(self) -> Bytes;
}

/// A payload for [`Connection::send_text`](super::Connection::send_text):
/// text, so it is valid UTF-8 by its type.
///
/// Implemented for `&str` and `&String` (copied) and `String` and
/// [`Utf8Bytes`] (sent without a copy when large).
pub trait TextPayload {
    /// Whether the text is borrowed (see [`BinaryPayload::BORROWED`]).
    const BORROWED: bool = false;
    /// The text, to copy when the message is small or borrowed.
    fn as_text(&self) -> &str;
    /// The text as [`Utf8Bytes`], for a large message.
    fn into_text(self) -> Utf8Bytes;
    /// The text's bytes; override where that is cheaper than `as_text`
    /// ([`Utf8Bytes`] derefs to `str` with a check).
    fn as_utf8(&self) -> &[u8] {
        self.as_text().as_bytes()
    }
}

impl BinaryPayload for &[u8] {
    const BORROWED: bool = true;
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> BinaryPayload for &[u8; N] {
    const BORROWED: bool = true;
    fn as_bytes(&self) -> &[u8] {
        &self[..]
    }
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> BinaryPayload for [u8; N] {
    const BORROWED: bool = true;
    fn as_bytes(&self) -> &[u8] {
        &self[..]
    }
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(&self)
    }
}

impl BinaryPayload for Box<[u8]> {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl BinaryPayload for &Vec<u8> {
    const BORROWED: bool = true;
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl BinaryPayload for Vec<u8> {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl BinaryPayload for Bytes {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl BinaryPayload for &Bytes {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        self.clone()
    }
}

impl BinaryPayload for BytesMut {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        self.freeze()
    }
}

impl TextPayload for &str {
    const BORROWED: bool = true;
    fn as_text(&self) -> &str {
        self
    }
    fn into_text(self) -> Utf8Bytes {
        Utf8Bytes::from(self)
    }
}

impl TextPayload for &String {
    const BORROWED: bool = true;
    fn as_text(&self) -> &str {
        self
    }
    fn into_text(self) -> Utf8Bytes {
        Utf8Bytes::from(self.as_str())
    }
}

impl TextPayload for String {
    fn as_text(&self) -> &str {
        self
    }
    fn into_text(self) -> Utf8Bytes {
        Utf8Bytes::from(self)
    }
}

impl TextPayload for Utf8Bytes {
    fn as_text(&self) -> &str {
        self.as_str()
    }
    fn into_text(self) -> Utf8Bytes {
        self
    }
    fn as_utf8(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl TextPayload for &Utf8Bytes {
    fn as_text(&self) -> &str {
        self.as_str()
    }
    fn into_text(self) -> Utf8Bytes {
        self.clone()
    }
    fn as_utf8(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Text as binary payload, for the shared framing code.
pub(crate) struct TextAsBinary<T>(pub(crate) T);

impl<T: TextPayload> BinaryPayload for TextAsBinary<T> {
    const BORROWED: bool = T::BORROWED;
    fn as_bytes(&self) -> &[u8] {
        self.0.as_utf8()
    }
    fn into_bytes(self) -> Bytes {
        self.0.into_text().into_bytes()
    }
}
