//! Every limit and timeout, with documented defaults.
//!
//! The defaults accept everything the Autobahn TestSuite sends (messages up
//! to 16 MiB, up to 65,536 fragments) and what browsers send in a handshake,
//! while keeping what one hostile peer can make us hold bounded.

use std::time::Duration;

/// Limits and timeouts of one connection.
///
/// Fields are public; start from [`Config::default`] and change what you need:
///
/// ```
/// let mut config = wsproto::Config::default();
/// config.max_message_size = 1 << 20;
/// ```
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
    /// For the blocking adapters (the core itself does no I/O): a socket
    /// write that makes no progress for this long fails the connection with
    /// an I/O error. A peer that stops reading cannot then hold a thread and
    /// its socket buffers forever; until the timeout it is simply
    /// back-pressured (TCP flow control), and memory stays within
    /// [`max_write_buffer`](Self::max_write_buffer). Default 30 s; `None`
    /// blocks as long as the peer does.
    pub write_timeout: Option<Duration>,
    /// Send a Ping after this much silence from the peer. `None` (the
    /// default) sends no keepalive pings.
    pub ping_interval: Option<Duration>,
    /// Fail the connection when the peer stays silent this long after a
    /// keepalive Ping. Default 20 s; used only with `ping_interval`.
    pub pong_timeout: Duration,
    /// Limits of the opening handshake.
    pub handshake: HandshakeLimits,
    /// permessage-deflate preferences, for drivers and adapters that
    /// negotiate it from the configuration. `None` (the default) neither
    /// offers nor accepts it. The connection itself compresses only once
    /// given the agreed parameters
    /// ([`Connection::set_deflate`](crate::Connection::set_deflate)).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
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
            write_timeout: Some(Duration::from_secs(30)),
            ping_interval: None,
            pong_timeout: Duration::from_secs(20),
            handshake: HandshakeLimits::default(),
            #[cfg(feature = "deflate")]
            deflate: None,
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

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_head_size: 16 << 10,
            max_headers: 128,
            max_line_length: 8 << 10,
        }
    }
}
