//! Every limit and timeout, with documented defaults.
//!
//! The defaults accept everything the Autobahn TestSuite sends (messages up
//! to 16 MiB, up to 65,536 fragments) and what browsers send in a handshake,
//! while keeping what one hostile peer can make us hold bounded.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

/// Limits and timeouts of one connection.
///
/// Start from [`Config::default`] and change what you need, with the
/// chaining setters (one per field; the struct is `#[non_exhaustive]`, so
/// struct-update syntax is not available outside the crate):
///
/// ```
/// use core::time::Duration;
///
/// let config = wsproto::Config::default()
///     .max_message_size(1 << 20)
///     .ping_interval(Some(Duration::from_secs(30)));
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
///
/// or through the public fields:
///
/// ```
/// let mut config = wsproto::Config::default();
/// config.max_message_size = 1 << 20;
/// ```
///
/// # Only the connection's
///
/// Everything here is what [`Connection::new`](crate::Connection::new)
/// reads: limits, fragmenting, the write-buffer cap, the close timeout and
/// the keepalive. The other layers have settings of their own, where they
/// are used: the opening handshake's caps ([`HandshakeLimits`]) and
/// permessage-deflate offer (`DeflateConfig`) are given to the handshake
/// (the adapters' builders take them as `handshake_limits` and `deflate`),
/// and what only an adapter that owns a socket can do — the write timeout,
/// the connect and handshake timeouts — is set on its builders and
/// sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of a single received frame, in bytes. Default 16 MiB
    /// (Autobahn 9.1.6 sends one 16 MiB frame). Beyond it: close 1009.
    pub max_frame_size: u64,
    /// Largest received message, all fragments together, in bytes. Default
    /// 64 MiB. Beyond it: close 1009, checked before the payload is buffered.
    /// A compressed message (permessage-deflate) is held to it twice: its
    /// bytes on the wire, from the headers, and its *inflated* size, checked
    /// while inflating, so a small frame cannot expand past it.
    pub max_message_size: u64,
    /// Most fragments one received message may have. Default 131,072 (twice
    /// the 65,536 Autobahn 9.3.1 sends); caps floods of empty fragments.
    /// Beyond it: close 1009.
    pub max_fragments: usize,
    /// Split outgoing messages into frames of at most this many payload
    /// bytes. `None` (the default) sends each message as one frame.
    pub fragment_size: Option<usize>,
    /// Cap on bytes waiting in the outgoing buffer. While more than this is
    /// queued, new sends are refused with
    /// [`UsageError::WriteBufferFull`](crate::UsageError::WriteBufferFull), so
    /// a peer that never reads cannot make memory grow. Default 1 MiB (a
    /// single message may be larger; the cap applies to what is already
    /// queued).
    pub max_write_buffer: usize,
    /// How long to wait for the peer's Close after sending ours. Default 10 s.
    pub close_timeout: Duration,
    /// Send a Ping after this much silence from the peer. `None` (the
    /// default) sends no keepalive pings.
    pub ping_interval: Option<Duration>,
    /// A received message must end this long after it began (its first
    /// frame's header seen by [`Connection::handle_timeout`](crate::Connection::handle_timeout)); past it the
    /// connection closes with 1008 ([`Timeout::Message`](crate::Timeout::Message))
    /// and the partial message's bytes are freed. A peer that parks half a
    /// message and goes quiet cannot hold them; an honest slow upload gets
    /// this long. `None` (the default) waits as long as it takes; servers'
    /// builders set 60 s (their `message_timeout`).
    pub message_timeout: Option<Duration>,
    /// Close the connection (1011, [`Timeout::Keepalive`](crate::Timeout::Keepalive))
    /// when the peer stays silent this long after a keepalive Ping.
    /// Default 20 s; used only with `ping_interval`.
    pub pong_timeout: Duration,
}

/// Chaining setters, one per field: `Config::default().max_frame_size(1 << 20)`.
impl Config {
    /// Sets [`max_frame_size`](field@Self::max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](field@Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_fragments`](field@Self::max_fragments).
    #[must_use]
    pub fn max_fragments(mut self, fragments: usize) -> Self {
        self.max_fragments = fragments;
        self
    }

    /// Sets [`fragment_size`](field@Self::fragment_size).
    #[must_use]
    pub fn fragment_size(mut self, bytes: Option<usize>) -> Self {
        self.fragment_size = bytes;
        self
    }

    /// Sets [`max_write_buffer`](field@Self::max_write_buffer).
    #[must_use]
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes;
        self
    }

    /// Sets [`close_timeout`](field@Self::close_timeout).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`message_timeout`](field@Self::message_timeout).
    #[must_use]
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// Sets [`ping_interval`](field@Self::ping_interval).
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets [`pong_timeout`](field@Self::pong_timeout).
    #[must_use]
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 131_072,
            fragment_size: None,
            max_write_buffer: 1 << 20,
            close_timeout: Duration::from_secs(10),
            message_timeout: None,
            ping_interval: None,
            pong_timeout: Duration::from_secs(20),
        }
    }
}

/// Caps on the HTTP head of the opening handshake.
///
/// Beyond them a server answers 431 (Request Header Fields Too Large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeLimits {
    /// Largest head (request or status line, headers, blank line) in bytes.
    /// Default 16 KiB: browsers' cookies fit.
    pub max_head_size: usize,
    /// Most header fields. Default 128.
    pub max_headers: usize,
    /// Longest single line in bytes. Default 8 KiB.
    pub max_line_length: usize,
}

/// Chaining setters, one per field.
impl HandshakeLimits {
    /// Sets [`max_head_size`](field@Self::max_head_size).
    #[must_use]
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// Sets [`max_headers`](field@Self::max_headers).
    #[must_use]
    pub fn max_headers(mut self, headers: usize) -> Self {
        self.max_headers = headers;
        self
    }

    /// Sets [`max_line_length`](field@Self::max_line_length).
    #[must_use]
    pub fn max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_length = bytes;
        self
    }
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_head_size: 16 << 10,
            max_headers: 128,
            max_line_length: 8 << 10,
        }
    }
}
