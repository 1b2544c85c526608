//! Errors, sorted by whose fault they are.
//!
//! - [`ProtocolError`]: the peer sent bytes that break RFC 6455. Each maps to
//!   the close code the connection sends ([`ProtocolError::close_code`]).
//! - [`UsageError`]: the caller asked for something the protocol forbids in
//!   the current state (sending after Close, an oversized ping, …).
//! - [`Timeout`]: nobody broke a rule, but one of the connection's own
//!   deadlines passed (the keepalive's pong timeout, the close timeout).
//!
//! Handshake errors live with the handshake, since they carry an HTTP status.
//! `std::io::Error` never appears in the core.

#[allow(unused_imports)]
use crate::prelude::*;
use thiserror::Error;

/// The peer broke the protocol. The connection is failed (RFC 6455 §7.1.7)
/// with the close code from [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode the RFC reserves for future use (3–7, 0xB–0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A 64-bit payload length whose most significant bit is set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthMsbSet,
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame whose payload is over 125 bytes (its length uses the
    /// 16- or 64-bit form, so it is refused before those bytes arrive).
    #[error("control frame payload over 125 bytes")]
    ControlFrameTooLong,
    /// RSV bits set without an extension that defines them.
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    /// RSV1 ("Per-Message Compressed", RFC 7692 §6) on a control frame or
    /// a continuation frame: RFC 7692 §6.1, "An endpoint MUST NOT set the
    /// "Per-Message Compressed" bit of control frames and non-first
    /// fragments of a data message."
    #[error("RSV1 set on a control or continuation frame")]
    MisplacedRsv1,
    /// A compressed message (permessage-deflate) that is not valid DEFLATE
    /// data, or that back-references past the agreed window. Closed with
    /// 1007: the payload is inconsistent with the message's type.
    #[error("invalid compressed data in a permessage-deflate message")]
    InvalidCompressedData,
    /// A server received an unmasked frame.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A client received a masked frame.
    #[error("masked frame from a server")]
    MaskedFrame,
    /// A continuation frame with no message in progress.
    #[error("continuation frame without a message to continue")]
    OrphanContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A text message or close reason that is not valid UTF-8.
    #[error("invalid UTF-8 in a text payload")]
    InvalidUtf8,
    /// A frame larger than the configured maximum frame size.
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    FrameTooBig {
        /// The declared payload length.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message larger than the configured maximum message size.
    #[error("message of at least {size} bytes exceeds the limit of {limit}")]
    MessageTooBig {
        /// The size the message would reach.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message with more fragments than the configured maximum.
    #[error("message with more than {limit} fragments")]
    TooManyFragments {
        /// The configured limit.
        limit: usize,
    },
    /// A close frame whose payload is one byte long.
    #[error("close frame with a 1-byte payload")]
    CloseTooShort,
    /// A close code that may not appear on the wire.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
}

/// One of the connection's own deadlines passed and ended it: the peer
/// broke no rule on the wire (that would be a [`ProtocolError`]), it just
/// stopped answering. Reported by [`Connection::handle_timeout`] and,
/// afterwards, by [`Connection::timed_out`].
///
/// [`Connection::handle_timeout`]: crate::Connection::handle_timeout
/// [`Connection::timed_out`]: crate::Connection::timed_out
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum Timeout {
    /// The keepalive ([`Config::ping_interval`](crate::Config::ping_interval)):
    /// our Ping went out after that much silence, and nothing at all
    /// arrived from the peer within
    /// [`Config::pong_timeout`](crate::Config::pong_timeout). A Close with
    /// code 1011 and this error's text as its reason was sent (the same
    /// frame [`Connection::close_frame`](crate::Connection::close_frame)
    /// reports), and the write half is to be shut down at once.
    #[error("no traffic from the peer within the pong timeout")]
    Keepalive,
    /// The close timeout ([`Config::close_timeout`](crate::Config::close_timeout)):
    /// we sent a Close and the peer's did not arrive in time. The
    /// connection closed with 1006 (no Close received).
    #[error("no Close frame from the peer within the close timeout")]
    Close,
    /// The message timeout ([`Config::message_timeout`](crate::Config::message_timeout)):
    /// a message that had started did not end in time (a peer that parks
    /// half a message and goes quiet, holding its bytes). A Close with code
    /// 1008 (policy violation) and this error's text as its reason was
    /// sent, the partial message dropped, and the write half is to be shut
    /// down at once.
    #[error("a message did not complete within the message timeout")]
    Message,
    /// The driver gave up waiting for memory to read more of a message
    /// (a server-wide budget stayed spent): a Close with code 1013 (Try
    /// Again Later) was sent and the partial message dropped.
    #[error("no memory for the rest of the message within the budget's wait limit")]
    Budget,
}

/// The caller asked for something the protocol does not allow now.
///
/// Unlike a [`ProtocolError`] this does not fail the connection: the call is
/// refused and nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A control frame payload over 125 bytes (RFC 6455 §5.5).
    #[error("control frame payload of {0} bytes (limit 125)")]
    ControlPayloadTooLong(usize),
    /// A close reason over 123 bytes (125 minus the 2-byte code).
    #[error("close reason of {0} bytes (limit 123)")]
    CloseReasonTooLong(usize),
    /// A close code that an endpoint may not send.
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A send after our Close frame went out (RFC 6455 §5.5.1: "The
    /// application MUST NOT send any more data frames after sending a Close
    /// frame.").
    #[error("the connection is closing or closed")]
    Closed,
    /// The outgoing buffer already holds more than the configured cap: the
    /// peer is not reading. Retry after the driver has written more bytes out.
    #[error("outgoing buffer holds {buffered} bytes (cap {cap})")]
    WriteBufferFull {
        /// Bytes waiting to be written.
        buffered: usize,
        /// The configured cap.
        cap: usize,
    },
    /// [`Connection::send_prepared`](crate::Connection::send_prepared) on a
    /// client connection: a client masks every frame with a fresh key
    /// (RFC 6455 §5.3), so it cannot send a frame shared with others.
    #[error("prepared messages are for servers: a client masks each frame")]
    PreparedByClient,
}
