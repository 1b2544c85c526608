//! [`Message`]: what the core hands out
//! ([`Connection::poll_event`](crate::Connection::poll_event)) and what every
//! adapter reads and sends.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::Bytes;

use crate::{BinaryPayload, CloseCode, CloseFrame, TextPayload, Utf8Bytes};

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
    /// A text message, from borrowed or owned text: `&str` and `&String`
    /// are copied, `String` and [`Utf8Bytes`] moved in (see
    /// [`TextPayload`]).
    ///
    /// ```
    /// use wsproto::Message;
    ///
    /// let name = String::from("ada");
    /// let greeting = Message::text(&name); // borrowed: copied
    /// assert_eq!(greeting.as_text(), Some("ada"));
    /// assert_eq!(Message::text(name), greeting); // owned: moved
    /// ```
    pub fn text(text: impl TextPayload) -> Message {
        Message::Text(text.into_text())
    }

    /// A binary message, from borrowed or owned bytes: `&[u8]`, `&[u8; N]`,
    /// `[u8; N]` and `&Vec<u8>` are copied, `Vec<u8>`, `Box<[u8]>`,
    /// [`Bytes`] and `BytesMut` moved in (see [`BinaryPayload`]). No
    /// `'static` needed for borrowed data.
    ///
    /// ```
    /// use wsproto::{Bytes, Message};
    ///
    /// let buf = vec![1u8, 2, 3, 4];
    /// let first_two = Message::binary(&buf[..2]); // borrowed: copied
    /// assert_eq!(first_two.as_bytes(), [1, 2]);
    /// assert_eq!(Message::binary([1u8, 2]), first_two);
    /// assert_eq!(Message::binary(Bytes::from(buf)).len(), 4); // moved
    /// ```
    pub fn binary(data: impl BinaryPayload) -> Message {
        Message::Binary(data.into_bytes())
    }

    /// A Ping with `payload` (copied: a control frame carries at most 125
    /// bytes). A longer one is refused when it is sent, with
    /// [`UsageError::ControlPayloadTooLong`](crate::UsageError::ControlPayloadTooLong).
    ///
    /// ```
    /// use wsproto::Message;
    ///
    /// let label = String::from("are you there?");
    /// let ping = Message::ping(&label);
    /// assert!(ping.is_ping());
    /// assert_eq!(ping.as_bytes(), b"are you there?");
    /// assert_eq!(Message::ping(b"\x00\x01").len(), 2);
    /// ```
    pub fn ping(payload: impl AsRef<[u8]>) -> Message {
        Message::Ping(Bytes::copy_from_slice(payload.as_ref()))
    }

    /// A Pong with `payload` (copied; at most 125 bytes, checked when it is
    /// sent, as for [`ping`](Self::ping)). Pings are answered by the
    /// connection: this is for an unsolicited Pong (a one-way heartbeat).
    pub fn pong(payload: impl AsRef<[u8]>) -> Message {
        Message::Pong(Bytes::copy_from_slice(payload.as_ref()))
    }

    /// A Close with a code and a reason of at most 123 bytes.
    pub fn close(code: impl Into<CloseCode>, reason: &str) -> Message {
        Message::Close(CloseFrame {
            code: code.into(),
            reason: Utf8Bytes::from(reason),
        })
    }

    /// The text, for a text message.
    #[doc(alias = "to_text")]
    #[doc(alias = "into_text")]
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

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a Ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether this is a Pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether this is a Close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The payload bytes, without a copy (for a Close, its reason).
    #[doc(alias = "into_payload")]
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(c) => c.reason.into_bytes(),
        }
    }

    /// The payload's length in bytes (for a Close, its reason's).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
