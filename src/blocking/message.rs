//! [`Message`]: what [`WebSocket::read`](super::WebSocket::read) returns and
//! [`WebSocket::send`](super::WebSocket::send) takes.

use bytes::Bytes;

use crate::{CloseCode, CloseFrame, Utf8Bytes};

/// A whole message or control frame, either direction.
///
/// Payloads are reference-counted: a received message shares memory with
/// the receive buffer, and a large payload sent is not copied (a server
/// never copies; a client masks a payload it owns alone in place).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message, valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A Ping (at most 125 bytes). Received ones are already answered.
    Ping(Bytes),
    /// A Pong (at most 125 bytes).
    Pong(Bytes),
    /// A Close: received, the peer's (code 1005 when it had none; our echo
    /// is already sent); sent, starts the closing handshake.
    Close(CloseFrame),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// A Close with a code and a reason of at most 123 bytes.
    pub fn close(code: impl Into<CloseCode>, reason: &str) -> Message {
        Message::Close(CloseFrame {
            code: code.into(),
            reason: Utf8Bytes::from(reason),
        })
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The payload bytes (for a Close, its reason).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(c) => c.reason.as_bytes(),
        }
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::text(text)
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Message {
        Message::Text(text)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}
