//! The connection state machine: one [`Connection`] per WebSocket, either
//! role, after the opening handshake.
//!
//! Split by concern: this file holds the type, its state and accessors,
//! the output calls and the send commands; `receive.rs` turns bytes into
//! frames and events; `send.rs` frames, masks and queues outgoing bytes;
//! `closing.rs` holds the closing handshake and failing the connection;
//! `timers.rs` handles the close timeout and keepalive; `payload.rs` the
//! types a send accepts; `prepared.rs` messages framed once for many
//! connections. This file is about 600 lines because it carries
//! the public API's documentation (265 doc-comment lines: the driving loop
//! and each call); its code is under 350 lines.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::time::{DefaultMoment, Moment};
mod closing;
mod payload;
mod prepared;
mod receive;
mod send;
mod timers;

use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::Config;
use crate::error::{ProtocolError, UsageError};
use crate::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use crate::message::Message;
use crate::reassembly::Assembler;
use crate::role::Role;

pub use payload::{BinaryPayload, TextPayload};
pub use prepared::{Delivery, PreparedMessage};
pub use send::MaskSource;

use closing::{Ending, Shutdown};
use payload::TextAsBinary;

use receive::InFrame;
use send::TxQueue;
use timers::Timers;

/// What [`Connection::release_buffers`] leaves to an idle connection: each
/// buffer (received bytes, the send arena, the event and chunk queues) up
/// to this capacity stays. Freeing them too meant allocating them again
/// for every message of a connection that trades small ones (4–5
/// allocations, 3–5 % of a tokio echo server's CPU per 20 B or 1 KiB
/// message); what stays is bounded by a few times this.
pub(crate) const IDLE_KEEP: usize = 2 << 10;

/// Output for the transport, from [`Connection::poll_transmit`].
///
/// Unlike the crate's other public enums this one is exhaustive, on
/// purpose: each variant is a duty of the driver, so a driver must match
/// every one, and a new duty is a breaking change that the compiler points
/// out in every driver, not a `_ => {}` arm that silently ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Bytes to write, in order, after those of earlier calls.
    Data(Bytes),
    /// Everything has been handed out: shut down the write half of the
    /// transport (TCP `shutdown(Write)`, TLS `close_notify`), then drop it.
    /// RFC 6455 §7.1.1: "the server ... SHOULD initiate a TCP Close
    /// immediately, and when a client is instructed to do the same, it
    /// SHOULD wait for a TCP Close from the server."
    Shutdown,
}

/// Where the connection stands, named after the browser API's
/// `readyState` (RFC 6455 §7.1.3, §7.1.4). There is no `Connecting`: a
/// [`Connection`] exists only after the opening handshake, which the
/// [`handshake`](crate::handshake) module runs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// A Close frame was sent, and the peer's has not arrived yet.
    Closing,
    /// The closing handshake completed, the connection failed, or the peer
    /// vanished. [`Connection::close_frame`] says why.
    Closed,
}

/// One WebSocket connection (RFC 6455), for either role, after the opening
/// handshake. It does no I/O and reads no clock.
///
/// It owns every protocol duty: unmasking and validating what arrives
/// (fail-fast UTF-8, continuation rules, limits), answering pings, echoing
/// the peer's Close, masking and fragmenting what is sent, bounding the
/// outgoing buffer, the close timeout and the keepalive. Whatever loop drives
/// it is therefore conformant.
///
/// # The API, by direction
///
/// - **Input**: [`receive_data`](Self::receive_data) (or
///   [`receive_buf_mut`](Self::receive_buf_mut) or
///   [`receive_buffer`](Self::receive_buffer), then
///   [`receive_commit`](Self::receive_commit), to read from the socket
///   straight into the connection's buffer; the first is a `BufMut` over
///   uninitialised memory, for async readers, the second a zero-filled
///   `&mut [u8]`), [`receive_eof`](Self::receive_eof),
///   and [`handle_timeout`](Self::handle_timeout) with the current time
///   (which returns the [`Timeout`](crate::Timeout) that ended the
///   connection, if one did).
/// - **Commands**: [`send_text`](Self::send_text),
///   [`send_binary`](Self::send_binary),
///   [`send_prepared`](Self::send_prepared) (one frame shared by many
///   connections), [`send_ping`](Self::send_ping),
///   [`send_pong`](Self::send_pong), [`close`](Self::close). Misuse is a
///   [`UsageError`] that changes nothing.
/// - **Output**: [`poll_event`](Self::poll_event) (what the peer sent),
///   [`poll_transmit`](Self::poll_transmit) (bytes to write, then the
///   shutdown), [`poll_timeout`](Self::poll_timeout) (when to call
///   `handle_timeout` next).
///
/// # The driving loop
///
/// 1. Feed what the socket read into `receive_data` (on end of stream,
///    `receive_eof`), then call `handle_timeout(now)`: the connection has no
///    clock, so this call is how it learns when traffic arrived (keepalive)
///    and when our Close went out (close timeout). Call it after every batch
///    of input and commands; it is cheap.
/// 2. Drain `poll_event` until `None`. Do this even when `receive_data`
///    returned an error: messages completed before the violation are there,
///    and can still be answered (see [`poll_event`](Self::poll_event)).
/// 3. Issue commands.
/// 4. Write what waits: [`transmit_slices`](Self::transmit_slices) into a
///    vectored write, then [`advance_transmit`](Self::advance_transmit)
///    with what went out (unwritten bytes stay inside the connection).
///    Then [`poll_transmit`](Self::poll_transmit), which with nothing
///    waiting yields only [`Transmit::Shutdown`]: shut the write half down.
///    (`poll_transmit` also hands the bytes out as owned [`Bytes`], at a
///    cost per call; see there.)
/// 5. Sleep until the socket is readable, or writable if bytes remain, or
///    the instant from `poll_timeout`; then back to 1.
///
/// Stop when [`is_finished`](Self::is_finished) says so: the connection is
/// closed and the shutdown has been handed out. A client keeps reading after
/// the closing handshake until the server's end of stream (or the close
/// timeout), so that the server closes TCP first (RFC 6455 §7.1.1).
///
/// ```
/// use std::io::{IoSlice, Write};
/// use std::time::Instant;
/// use wsproto::{Connection, Config, Message, Role, Transmit};
///
/// let mut server = Connection::new(Role::Server, Config::default());
/// // A masked "Hello" from a client (RFC 6455 §5.7), then a masked Close 1000.
/// server.receive_data(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])?;
/// server.handle_timeout(Instant::now());
/// let Some(Message::Text(text)) = server.poll_event() else { panic!() };
/// assert_eq!(text, "Hello");
/// server.send_text(text)?; // echo, without copying
/// server.receive_data(&[0x88, 0x82, 1, 2, 3, 4, 0x02, 0xea])?;
/// assert!(matches!(server.poll_event(), Some(Message::Close(_))));
/// let mut wire = Vec::new(); // the socket
/// loop {
///     let mut slices = [IoSlice::new(&[]); 16];
///     let n = server.transmit_slices(&mut slices);
///     if n == 0 {
///         break;
///     }
///     let written = wire.write_vectored(&slices[..n])?;
///     server.advance_transmit(written);
/// }
/// assert_eq!(server.poll_transmit(), Some(Transmit::Shutdown)); // shutdown(Write)
/// assert_eq!(wire, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x88, 0x02, 0x03, 0xe8]);
/// assert!(server.is_finished());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Memory
///
/// Buffers start empty and grow with need: an idle connection holds no
/// buffer. The receive buffer is released when it empties with more than
/// 256 KiB of capacity. The outgoing queue is capped by
/// [`Config::max_write_buffer`]: while more than that waits, sends are
/// refused with [`UsageError::WriteBufferFull`], and Pongs owed for pings are
/// coalesced into one (RFC 6455 §5.5.3 allows answering only the most recent
/// Ping), so a peer that sends but never reads cannot grow memory.
pub struct Connection<T: Moment = DefaultMoment> {
    role: Role,
    config: Config,
    state: State,
    /// Received bytes not yet consumed; the current frame's payload is
    /// unmasked here in place.
    rx: BytesMut,
    /// Start of the region handed out by `receive_buffer`.
    rx_lent: Option<usize>,
    /// The largest capacity `rx` has had since it last moved to a buffer of
    /// its own: how large the allocation behind it may be, which a small
    /// payload split off would keep alive.
    rx_peak: usize,
    /// The frame whose payload is arriving.
    frame: Option<InFrame>,
    assembler: Assembler,
    events: VecDeque<Message>,
    tx: TxQueue,
    mask_source: Option<Box<dyn MaskSource>>,
    /// The payload of a Pong owed while the outgoing queue was over its cap.
    owed_pong: Option<Bytes>,
    close_sent: bool,
    close_received: bool,
    /// The peer's Close or a violation, waiting for the events before it
    /// to be handed out.
    ending: Option<Ending>,
    /// Why the connection closed, once it has.
    outcome: Option<CloseFrame>,
    error: Option<ProtocolError>,
    shutdown: Shutdown,
    timers: Timers<T>,
    /// permessage-deflate, when agreed: our compressor.
    #[cfg(feature = "deflate")]
    deflater: Option<crate::deflate::Deflater>,
}

impl<T: Moment> core::fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered_in", &self.rx.len())
            .field("buffered_out", &self.tx.len())
            .field("events", &self.events.len())
            .field("outcome", &self.outcome)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "std")]
impl Connection<std::time::Instant> {
    /// A connection in the [`State::Open`] state, after a completed opening
    /// handshake. Allocates nothing.
    ///
    /// It ignores the fields of `config` that are not its own (see
    /// [`Config`]): `handshake` and `deflate` belong to the handshake, and
    /// `write_timeout` to the adapters. permessage-deflate is on only once
    /// the handshake agreed it and [`set_deflate`](Self::set_deflate) was
    /// called with the outcome.
    ///
    /// It has not been told the time: its deadlines (the keepalive of
    /// [`Config::ping_interval`]) count from the first
    /// [`handle_timeout`](Self::handle_timeout), and
    /// [`poll_timeout`](Self::poll_timeout) is `None` until then. A driver
    /// that sleeps until `poll_timeout` should create it with
    /// [`new_at`](Self::new_at) instead.
    pub fn new(role: Role, config: Config) -> Connection {
        Connection::with_source(role, config, None)
    }

    /// A connection as [`new`](Self::new) makes, created at `now` (the
    /// moment the opening handshake completed): its keepalive counts from
    /// then, and [`poll_timeout`](Self::poll_timeout) reports the first
    /// deadline straight away (`now` + [`Config::ping_interval`]), before
    /// any input or [`handle_timeout`](Self::handle_timeout). The same as
    /// `new` followed by `handle_timeout(now)`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsproto::{Config, Connection, Role};
    ///
    /// let mut config = Config::default();
    /// config.ping_interval = Some(Duration::from_secs(30));
    /// let now = Instant::now();
    /// let conn = Connection::new_at(Role::Server, config, now);
    /// assert_eq!(conn.poll_timeout(), Some(now + Duration::from_secs(30)));
    /// ```
    pub fn new_at(role: Role, config: Config, now: std::time::Instant) -> Connection {
        let mut conn = Connection::new(role, config);
        conn.handle_timeout(now);
        conn
    }
}

impl<T: Moment> Connection<T> {
    /// A connection on any clock (`T`: see [`Moment`]) with its source of
    /// masking keys: the constructor for `no_std` builds, where there is
    /// neither `std::time::Instant` nor `rand`. A client masks every frame
    /// with keys from `masks` (RFC 6455 §5.3: "The masking key needs to be
    /// unpredictable", so give it a cryptographic generator seeded from the
    /// hardware's entropy); a server never masks and never asks. Like
    /// [`new`](Connection::new), it has not been told the time: call
    /// [`handle_timeout`](Self::handle_timeout) with the current instant
    /// right away, as [`new_at`](Connection::new_at) does.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{Config, Connection, Role};
    ///
    /// let mut state = 0x2545_f491_u32;
    /// let masks = move || {
    ///     state ^= state << 13;
    ///     state ^= state >> 17;
    ///     state ^= state << 5;
    ///     state.to_le_bytes() // use a CSPRNG on a real device
    /// };
    /// // The clock: time since boot, from a millisecond tick counter.
    /// let ticks = 1_000;
    /// let mut client: Connection<Duration> =
    ///     Connection::with_mask_source(Role::Client, Config::default(), masks);
    /// client.handle_timeout(Duration::from_millis(ticks));
    /// client.send_text("hi")?;
    /// assert_eq!(client.buffered_amount(), 2 + 4 + 2); // header, mask, payload
    /// # Ok::<(), wsproto::UsageError>(())
    /// ```
    pub fn with_mask_source(
        role: Role,
        config: Config,
        masks: impl MaskSource + 'static,
    ) -> Connection<T> {
        Connection::with_source(role, config, Some(Box::new(masks)))
    }

    fn with_source(
        role: Role,
        config: Config,
        mask_source: Option<Box<dyn MaskSource>>,
    ) -> Connection<T> {
        Connection {
            role,
            config,
            state: State::Open,
            rx: BytesMut::new(),
            rx_lent: None,
            rx_peak: 0,
            frame: None,
            assembler: Assembler::default(),
            events: VecDeque::new(),
            tx: TxQueue::default(),
            mask_source,
            owed_pong: None,
            close_sent: false,
            close_received: false,
            ending: None,
            outcome: None,
            error: None,
            shutdown: Shutdown::NotYet,
            timers: Timers::default(),
            #[cfg(feature = "deflate")]
            deflater: None,
        }
    }

    /// Turns on permessage-deflate (RFC 7692) with the parameters agreed in
    /// the handshake ([`Negotiated::deflate`](crate::handshake::Negotiated::deflate),
    /// [`Established::deflate`](crate::handshake::Established::deflate)).
    /// Call it right after [`new`](Self::new), before any data: from then
    /// on every text and binary message sent is compressed (RSV1 on its
    /// first frame), except those shorter than
    /// [`DeflateParams::threshold`](crate::deflate::DeflateParams::threshold),
    /// and received messages with RSV1 are inflated. Control frames are
    /// never compressed. Without this call, RSV1 from the peer fails the
    /// connection (1002), as RFC 6455 §5.2 requires.
    ///
    /// Memory: see the [`deflate`](crate::deflate) module (about 320 KiB
    /// with context takeover both ways, none while idle without it).
    #[cfg(feature = "deflate")]
    pub fn set_deflate(&mut self, params: crate::deflate::DeflateParams) {
        use crate::deflate::{Deflater, Inflater, Settings};
        let (ours, peers) = match self.role {
            Role::Server => (
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
            ),
            Role::Client => (
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
            ),
        };
        let settings = Settings::new(params.compression_level, ours.0, params.mem_level);
        self.deflater = Some(
            Deflater::new(settings, ours.1)
                .with_threshold(params.threshold)
                .with_pool(params.pool),
        );
        self.assembler
            .set_inflater(Inflater::new(peers.0, peers.1).with_pool(params.pool));
    }

    /// Replaces the source of client masking keys (the default draws from
    /// `rand`). Deterministic tests pass a fixed key; servers never mask.
    pub fn set_mask_source(&mut self, source: impl MaskSource + 'static) {
        self.mask_source = Some(Box::new(source));
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits and timeouts in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the connection closed, once [`State::Closed`]: the peer's Close
    /// frame (RFC 6455 §7.1.5: 1005 when it had no code), the Close we
    /// failed the connection with (a violation, or the keepalive's
    /// [`Timeout::Keepalive`](crate::Timeout::Keepalive)), code and reason
    /// as they went on the wire, or 1006 when the peer vanished without a
    /// Close or our close timeout passed.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.outcome.as_ref()
    }

    /// The peer's protocol violation that failed the connection, if any. It
    /// is sticky: [`receive_data`](Self::receive_data) keeps returning it.
    /// A deadline that ended the connection is not the peer's violation:
    /// see [`timed_out`](Self::timed_out).
    pub fn error(&self) -> Option<&ProtocolError> {
        self.error.as_ref()
    }

    /// Whether the connection has nothing more to do: it is closed and the
    /// shutdown of the write half has been handed out by
    /// [`poll_transmit`](Self::poll_transmit). The transport can be dropped.
    pub fn is_finished(&self) -> bool {
        self.shutdown == Shutdown::Done
    }

    // ----- output ---------------------------------------------------------

    /// The next thing the peer sent, oldest first.
    ///
    /// When the peer's Close or a protocol violation arrives behind
    /// messages that are still waiting here, the connection holds its
    /// reaction back until those messages have been handed out: the Close
    /// (echo or failure code) is queued by the call that goes past them,
    /// the one that returns [`Message::Close`] or, after a violation, `None`.
    /// So the application can still answer them, as it could had they
    /// arrived in separate reads (RFC 6455 §5.5.1: "An endpoint MAY delay
    /// sending a Close frame until its current message is sent"). Input
    /// stops at once either way. Only this call releases the reaction:
    /// [`poll_transmit`](Self::poll_transmit) hands out what is queued and
    /// does not move past unread events, so a driver that writes between
    /// events (as a blocking `read` does) never cuts off the replies.
    /// [`receive_eof`](Self::receive_eof) does not wait: nothing can be
    /// answered once the transport is gone.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Message> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        self.settle();
        self.events.pop_front()
    }

    /// The next bytes to write, then (once everything is out and the
    /// connection is over) [`Transmit::Shutdown`], then `None`.
    ///
    /// Bytes handed out here no longer count against
    /// [`Config::max_write_buffer`]: the driver holds them.
    ///
    /// **Which to use.** Each call takes the waiting bytes out as an owned
    /// [`Bytes`]: no allocation once the send buffer is warm, but a split
    /// and reference counting per call, and the send buffer is reused only
    /// once every `Bytes` handed out is dropped. Use it where the bytes
    /// must outlive the call (handed to another task or a write queue). A
    /// driver that writes into a socket should instead write
    /// [`transmit_slices`](Self::transmit_slices) (vectored, borrowed)
    /// and report with [`advance_transmit`](Self::advance_transmit), and
    /// call `poll_transmit` only for the [`Transmit::Shutdown`] once
    /// nothing waits. Measured, 1,000,000 16-byte messages each written
    /// into a `Vec` as it is sent: `transmit_slices` is 1.7× as fast as
    /// `poll_transmit` for a server, 1.5× for a client.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(bytes) = self.tx.pop() {
            self.flush_owed_pong();
            return Some(Transmit::Data(bytes));
        }
        self.flush_owed_pong();
        if let Some(bytes) = self.tx.pop() {
            return Some(Transmit::Data(bytes));
        }
        if self.shutdown == Shutdown::Owed {
            self.shutdown = Shutdown::Done;
            return Some(Transmit::Shutdown);
        }
        None
    }

    /// Fills `dst` with the bytes waiting to be written, oldest first,
    /// without taking them: pass the slices to a vectored write, then report
    /// how much went out with [`advance_transmit`](Self::advance_transmit).
    /// Returns how many slices were filled (0: nothing waits).
    ///
    /// The cheap way to write, and the one drivers should use (see
    /// [`poll_transmit`](Self::poll_transmit)): nothing is split or
    /// reference-counted, and bytes a short write left behind stay in the
    /// connection, so a retry or the next write continues exactly where
    /// it stopped.
    #[cfg(feature = "std")]
    pub fn transmit_slices<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        self.tx.slices(dst, std::io::IoSlice::new)
    }

    /// [`transmit_slices`](Self::transmit_slices) as plain byte slices, for
    /// a driver without `std::io` (a `no_std` build, an embedded DMA
    /// queue): the same bytes, oldest first, not taken.
    pub fn transmit_chunks<'a>(&'a self, dst: &mut [&'a [u8]]) -> usize {
        self.tx.slices(dst, |chunk| chunk)
    }

    /// Everything waiting to be written, when it is one contiguous slice
    /// (the drivers write it without an array of slices).
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    #[inline]
    pub(crate) fn transmit_single(&self) -> Option<&[u8]> {
        self.tx.single()
    }

    /// Drops the first `n` waiting bytes, which the driver has written.
    /// Values beyond [`buffered_amount`](Self::buffered_amount) are clamped.
    #[inline]
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n);
        self.flush_owed_pong();
    }

    /// Frees the buffers that hold nothing right now (received bytes, bytes
    /// to write, the event queue) and are larger than 2 KiB, so that a
    /// connection waiting for input holds little heap beyond this struct
    /// (none if it never carried a message): call it before waiting. Small
    /// buffers stay, or a connection trading small messages would allocate
    /// them again for each one. What is in use stays (a partial frame,
    /// unsent bytes, a message being reassembled, permessage-deflate's
    /// windows); the next input or send allocates again. The tokio adapter
    /// calls it whenever a read would block; a driver that waits rarely (a
    /// busy stream) pays nothing.
    #[inline]
    pub fn release_buffers(&mut self) {
        self.release_rx();
        self.release_queues();
    }

    /// What [`release_buffers`](Self::release_buffers) frees but the
    /// receive buffer: for a driver that has just taken that one out with
    /// [`take_idle_rx`](Self::take_idle_rx) (the same test, not made
    /// twice).
    #[inline]
    pub(crate) fn release_queues(&mut self) {
        self.tx.release();
        if self.events.is_empty() && self.events.capacity() * size_of::<Message>() > IDLE_KEEP {
            self.events = VecDeque::new();
        }
    }

    /// Whether the receive buffer has no room (new, taken by
    /// [`take_idle_rx`](Self::take_idle_rx), or its room split off).
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    #[inline]
    pub(crate) fn rx_unallocated(&self) -> bool {
        self.rx.capacity() == 0
    }

    /// Makes `buf` (empty, from [`take_idle_rx`](Self::take_idle_rx) of
    /// any connection) the receive buffer of a connection that has none;
    /// otherwise gives it back.
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    pub(crate) fn adopt_rx(&mut self, buf: BytesMut) -> Result<(), BytesMut> {
        if !buf.is_empty() || !self.rx_unallocated() || self.rx_lent.is_some() {
            return Err(buf);
        }
        self.rx = buf;
        self.rx_peak = self.rx.capacity();
        Ok(())
    }

    /// Bytes waiting to be written (what the browser API calls
    /// `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.tx.len()
    }

    /// Bytes held for input that is not yet a whole message: what arrived
    /// of frames still arriving (or still to be parsed), the fragments of
    /// a message still arriving, and what a compressed message inflated to
    /// so far. Messages already complete (waiting in
    /// [`poll_event`](Self::poll_event)) are not counted. A server-wide
    /// memory budget counts this, and a driver that stops reading while it
    /// is too high pushes back on the peer (TCP flow control).
    pub fn incomplete_input(&self) -> usize {
        self.rx.len() + self.assembler.held()
    }

    /// Ends the connection at once because the driver gave up waiting
    /// (`timeout`, e.g. [`Timeout::Budget`](crate::Timeout::Budget) for a
    /// memory budget that stayed spent): our Close with the timeout's code
    /// and its text as the reason is queued and the write half is to be
    /// shut down, the partial input is dropped and no more is read;
    /// [`timed_out`](Self::timed_out) reports `timeout`.
    pub fn give_up(&mut self, timeout: crate::Timeout) {
        if self.state == State::Closed {
            return;
        }
        self.timers.fired(timeout);
        let reason = timeout.to_string();
        self.close_now(timeout.close_code(), &reason);
        self.timers.stop();
    }

    // ----- commands -------------------------------------------------------

    /// Sends a text message (fragmented when [`Config::fragment_size`] is
    /// set).
    ///
    /// Borrowed text (`&str`, `&String`) and small messages (up to 1 KiB)
    /// are copied next to their frame header: no allocation. A large
    /// `String` or [`Utf8Bytes`](crate::Utf8Bytes) is sent without a copy by a server, and by
    /// a client when nothing else shares it (it is masked in place); see
    /// [`TextPayload`].
    #[inline]
    pub fn send_text(&mut self, text: impl TextPayload) -> Result<(), UsageError> {
        self.check_can_send()?;
        self.push_message(OpCode::Text, TextAsBinary(text));
        Ok(())
    }

    /// Sends a binary message (fragmented when [`Config::fragment_size`] is
    /// set). Copies and ownership as for [`send_text`](Self::send_text);
    /// see [`BinaryPayload`].
    #[inline]
    pub fn send_binary(&mut self, data: impl BinaryPayload) -> Result<(), UsageError> {
        self.check_can_send()?;
        self.push_message(OpCode::Binary, data);
        Ok(())
    }

    /// Sends a Ping with up to 125 bytes of payload.
    pub fn send_ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, payload.as_ref())
    }

    /// Sends an unsolicited Pong (a one-way heartbeat) with up to 125 bytes
    /// of payload. Pings are answered automatically; this is not needed for
    /// that.
    pub fn send_pong(&mut self, payload: impl AsRef<[u8]>) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, payload.as_ref())
    }

    // `close` is in closing.rs, with the rest of the closing handshake.

    #[inline]
    fn check_can_send(&self) -> Result<(), UsageError> {
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data
        // frames after sending a Close frame."
        if self.close_sent || self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        let buffered = self.tx.len();
        if buffered > self.config.max_write_buffer {
            return Err(UsageError::WriteBufferFull {
                buffered,
                cap: self.config.max_write_buffer,
            });
        }
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.check_can_send()?;
        // RFC 6455 §5.5: "All control frames MUST have a payload length of
        // 125 bytes or less".
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        let key = self.next_key();
        self.tx.push_frame_copied(opcode, true, payload, key);
        Ok(())
    }

    // ----- internals shared by the files of this module -------------------

    /// A fresh masking key when our role masks (RFC 6455 §5.3).
    fn next_key(&mut self) -> Option<[u8; 4]> {
        if !self.role.masks_outgoing() {
            return None;
        }
        Some(draw_key(&mut self.mask_source))
    }

    #[inline]
    fn push_message(&mut self, opcode: OpCode, payload: impl BinaryPayload) {
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &mut self.deflater {
            // RFC 7692 §6: compressed per message, RSV1 on the first frame
            // (unless it is not worth it: see `compress_message`).
            if let Some(compressed) = deflater.compress_message(payload.as_bytes()) {
                return self.push_frames(opcode, compressed, true);
            }
        }
        self.push_frames(opcode, payload, false);
    }

    #[inline]
    fn push_frames(&mut self, opcode: OpCode, payload: impl BinaryPayload, rsv1: bool) {
        let fragment = self
            .config
            .fragment_size
            .filter(|&n| n > 0)
            .unwrap_or(usize::MAX);
        if self.role.masks_outgoing() {
            let source = &mut self.mask_source;
            let mut next = || draw_key(source);
            self.tx
                .push_message(opcode, payload, fragment, Some(&mut next), rsv1);
        } else {
            self.tx.push_message(opcode, payload, fragment, None, rsv1);
        }
    }

    /// Queues a Pong for a received Ping, or owes it while the outgoing
    /// queue is over its cap (replacing an older owed one: RFC 6455 §5.5.3,
    /// "the endpoint MAY elect to send a Pong frame for only the most
    /// recently processed Ping frame").
    fn answer_ping(&mut self, payload: &Bytes) {
        if self.tx.len() > self.config.max_write_buffer {
            self.owed_pong = Some(payload.clone());
        } else {
            self.owed_pong = None;
            let key = self.next_key();
            self.tx.push_frame_copied(OpCode::Pong, true, payload, key);
        }
    }

    #[inline]
    fn flush_owed_pong(&mut self) {
        if self.owed_pong.is_some() {
            self.flush_owed_pong_now();
        }
    }

    /// [`flush_owed_pong`](Self::flush_owed_pong) with a Pong owed: out of
    /// line, so that the check inlines into every advance of the queue.
    #[cold]
    fn flush_owed_pong_now(&mut self) {
        if self.tx.len() <= self.config.max_write_buffer {
            let payload = self.owed_pong.take().unwrap_or_default();
            if self.state != State::Closed {
                let key = self.next_key();
                self.tx.push_frame_copied(OpCode::Pong, true, &payload, key);
            }
        }
    }
}

/// The next masking key: from the connection's source, else (with `std`)
/// from `rand`'s thread-local CSPRNG.
#[inline]
fn draw_key(source: &mut Option<Box<dyn MaskSource>>) -> [u8; 4] {
    match source {
        Some(source) => source.next_key(),
        #[cfg(feature = "std")]
        None => rand::random(),
        // Without `std` the only constructor is `with_mask_source`.
        #[cfg(not(feature = "std"))]
        None => unreachable!("a no_std connection is created with its mask source"),
    }
}
