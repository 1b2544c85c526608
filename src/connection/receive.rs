//! The receiving side: bytes in, frames parsed, payloads unmasked (as they
//! are copied in, or in place in the receive buffer), events out.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::time::Moment;
use bytes::{Buf, BufMut, BytesMut};

use super::{Connection, Ending, Shutdown, State};
use crate::Message;
use crate::close::{CloseCode, CloseFrame};
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, OpCode, apply_mask_at, extend_masked, extend_masked_streaming};
use crate::reassembly::DataKind;
use crate::status::Parsed;
use crate::utf8::Utf8Bytes;

/// A receive buffer that empties with more capacity than this is released.
const RX_KEEP: usize = 256 << 10;

/// A data frame larger than this gets room for all of its payload reserved
/// at once (see `Connection::reserve_input`).
const RESERVE_AHEAD: usize = 16 << 10;

/// The most reserved for a frame ahead of its bytes, beyond twice what has
/// arrived (see `Connection::reserve_input`).
const RESERVE_EAGER: usize = 1 << 20;

/// A frame with at least this much payload has it copied straight from the
/// input, unmasked on the way (see `Connection::receive_frames`). Measured
/// against going through the buffer: 64 KiB frames 13 % faster from a cold
/// input and 6–9 % from a hot one, 1 MiB frames 3–13 % cold and the same
/// hot.
const DIRECT_MIN: u64 = 64 << 10;

/// A whole message with at least this much payload is copied from the
/// input unmasked on the way (see `Connection::receive_whole`); a shorter
/// one is copied, then unmasked in place. Where `extend_masked` switches to
/// its AVX2 loop: below, it writes byte by byte, and `memcpy` plus the
/// in-place unmask cost fewer instructions (callgrind, 20 B messages: 421
/// per message against 435). Above, one pass instead of two (callgrind, 16 KiB: 18,287
/// instructions per message copied then unmasked, 2,304 in one pass; most
/// of the difference is `memcpy`'s `rep movsb`, which callgrind counts per
/// byte).
const COPY_MASKED_MIN: usize = 256;

/// The least room `reserve_input` makes when the buffer has too little:
/// small messages split off the buffer one after another then share one
/// reclaim of it (a 20 B echo: one per ~7 messages, ~45 instructions
/// less per message). Kept small: it is what an idle connection that
/// traded small messages holds beyond them (tests/tokio_memory.rs).
const MIN_ROOM: usize = 192;

/// A payload under 1/`PIN_RATIO` of a receive buffer larger than [`RX_KEEP`]
/// is copied out rather than shared, so that it cannot pin the buffer.
const PIN_RATIO: usize = 8;

/// A frame that is a whole data message, found by
/// `Connection::whole_message` at the front of the input or of `rx`.
#[derive(Debug, Clone, Copy)]
struct Whole {
    /// Text, else binary.
    text: bool,
    mask: Option<[u8; 4]>,
    /// Where the payload starts (after the header).
    start: usize,
    /// Payload length.
    len: usize,
}

/// The frame whose payload is arriving. Its header has been consumed (from
/// the input or from the receive buffer): the payload that has arrived is
/// at the front of `rx`.
#[derive(Debug, Clone, Copy)]
pub(super) struct InFrame {
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    /// Payload length (checked against the limits, so it fits in memory).
    len: usize,
    /// Payload bytes already unmasked and validated, at the front of `rx`.
    done: usize,
    /// Payload bytes already unmasked, at the front of `rx` (`>= done`:
    /// `receive_data` unmasks as it copies).
    unmasked: usize,
}

impl<T: Moment> Connection<T> {
    /// Feeds bytes read from the transport.
    ///
    /// Every complete frame is processed at once: events are queued for
    /// [`poll_event`](Self::poll_event), Pongs and a Close echo for
    /// [`poll_transmit`](Self::poll_transmit). The payload of a frame still
    /// arriving is unmasked and, for text, validated as it comes.
    ///
    /// A protocol violation fails the connection (RFC 6455 §7.1.7): the
    /// error is returned now and on every later call, input is ignored from
    /// then on, and the Close with the matching code is queued (once the
    /// messages that arrived before the violation have been handed out by
    /// [`poll_event`](Self::poll_event), so that they can still be
    /// answered). Input after the peer's Close is discarded.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if data.is_empty() || !self.takes_input() {
            return Ok(());
        }
        self.discard_lent();
        self.timers.activity();
        // Room for every payload byte this input may hold, reserved once:
        // the previous input's messages have usually been dropped by now,
        // so the buffer is reused in place.
        self.reserve_input(data.len());
        self.note_capacity();
        let result = self.receive_frames(data);
        self.after_input(result)
    }

    /// Parses the frames in `data`. A large payload is copied in straight
    /// from the input, unmasked on the way: one pass over its bytes
    /// instead of a copy and then an unmask in place. A run of smaller
    /// frames goes into `rx` in one copy and is unmasked there, which
    /// costs less per frame (measured, each frame copied on its own:
    /// 16-byte frames 2–14 % slower, 16 KiB frames 8–17 %). A frame that
    /// is a whole message, all of it in `data`, takes the shortcut of
    /// [`receive_whole`](Self::receive_whole): only its payload is copied.
    fn receive_frames(&mut self, mut data: &[u8]) -> Result<(), ProtocolError> {
        while !data.is_empty() && self.takes_input() {
            if self.frame.is_none() {
                if !self.rx.is_empty() {
                    // The rest of a header cut by the last input.
                    self.rx.extend_from_slice(data);
                    self.note_capacity();
                    return self.process_frames();
                }
                if let Some(whole) = self.whole_message(data) {
                    data = self.receive_whole(whole, data)?;
                    continue;
                }
                match FrameHeader::decode(data)? {
                    Parsed::Complete((header, used)) if header.payload_len >= DIRECT_MIN => {
                        self.frame = Some(self.check_header(&header)?);
                        data = &data[used..];
                    }
                    _ => {
                        self.rx.extend_from_slice(data);
                        self.note_capacity();
                        return self.process_frames();
                    }
                }
            }
            data = self.take_payload(data);
            self.process_frames()?;
        }
        Ok(())
    }

    /// The common case, which [`receive_whole`](Self::receive_whole) and
    /// [`take_whole_buffered`](Self::take_whole_buffered) handle on their
    /// own: `data` (the input with nothing buffered before it, or `rx`)
    /// starts with a whole frame that is a whole data message, no message
    /// is in progress, and the header passes every check
    /// `FrameHeader::decode`, `check_header` and `Assembler::begin_frame`
    /// make. `None` for
    /// anything else (a violation among them): the general path takes it
    /// and reports what is wrong.
    #[inline(always)]
    fn whole_message(&self, data: &[u8]) -> Option<Whole> {
        let [b0, b1, ..] = *data else {
            return None;
        };
        // FIN set, RSV1-3 clear, opcode Text or Binary: RFC 6455 §5.4, a
        // message "consists of a single frame with the FIN bit set and an
        // opcode other than 0"; RFC 6455 §5.2, no RSV bit without an
        // extension that defines it (RFC 7692 §6: RSV1 would mark a
        // compressed message, which takes the general path).
        let text = match b0 {
            0x81 => true,
            0x82 => false,
            _ => return None,
        };
        // RFC 6455 §5.1: masked exactly when the peer is a client.
        let masked = b1 & 0x80 != 0;
        if masked != self.role.expects_masked() {
            return None;
        }
        let (len, at) = match b1 & 0x7F {
            126 => (
                u64::from(u16::from_be_bytes(data.get(2..4)?.try_into().ok()?)),
                4,
            ),
            // A length with its most significant bit set (RFC 6455 §5.2)
            // is larger than any input, so it fails the check below.
            127 => (u64::from_be_bytes(data.get(2..10)?.try_into().ok()?), 10),
            len7 => (u64::from(len7), 2),
        };
        let key = if masked {
            Some(data.get(at..at + 4)?.try_into().ok()?)
        } else {
            None
        };
        let start = at + if masked { 4 } else { 0 };
        let available = data.len() - start.min(data.len());
        // All of the payload is here, and it is within the limits that
        // `Assembler::begin_frame` checks: the frame size, the message size
        // (this frame is all of it), and one fragment.
        let limits = &self.config;
        let fits = len <= available as u64
            && len <= limits.max_frame_size
            && len <= limits.max_message_size
            && limits.max_fragments > 0;
        if !fits || self.assembler.in_progress() {
            return None;
        }
        Some(Whole {
            text,
            mask: key,
            start,
            // No more than `available`.
            len: len as usize,
        })
    }

    /// Receives the message [`whole_message`](Self::whole_message) found
    /// at the front of `data`: its payload is copied into `rx` (empty
    /// until then) and unmasked, validated when it is text, and split off
    /// as the message. What `check_header`, `process_frames` and the
    /// assembler would do, without their bookkeeping for frames that
    /// arrive in pieces. Returns the input after the frame.
    #[inline]
    fn receive_whole<'d>(
        &mut self,
        whole: Whole,
        data: &'d [u8],
    ) -> Result<&'d [u8], ProtocolError> {
        let (payload, rest) = data[whole.start..].split_at(whole.len);
        match whole.mask {
            // A payload unmasked on its way in: one pass over its bytes.
            Some(key) if whole.len as u64 >= DIRECT_MIN => {
                extend_masked_streaming(&mut self.rx, payload, key, 0);
            }
            Some(key) if whole.len >= COPY_MASKED_MIN => {
                extend_masked(&mut self.rx, payload, key, 0);
            }
            // A short one copied, then unmasked in place a word at a time.
            Some(key) => {
                self.rx.extend_from_slice(payload);
                apply_mask_at(&mut self.rx, key, 0);
            }
            None => self.rx.extend_from_slice(payload),
        }
        self.note_capacity();
        self.finish_whole(whole)?;
        Ok(rest)
    }

    /// Receives the message [`whole_message`](Self::whole_message) found
    /// at the front of `rx` (input read into the buffer, or left there by
    /// the general path): the header is dropped, the payload unmasked in
    /// place, and the rest as in [`receive_whole`](Self::receive_whole).
    fn take_whole_buffered(&mut self, whole: Whole) -> Result<(), ProtocolError> {
        self.rx.advance(whole.start);
        if let Some(key) = whole.mask {
            apply_mask_at(&mut self.rx[..whole.len], key, 0);
        }
        self.finish_whole(whole)
    }

    /// The end of both shortcuts: the payload is the first `whole.len`
    /// bytes of `rx`, unmasked. Validates it when it is text, splits it off
    /// and queues the message.
    #[inline(always)]
    fn finish_whole(&mut self, whole: Whole) -> Result<(), ProtocolError> {
        if whole.text {
            // RFC 6455 §8.1: "When an endpoint is to interpret a byte
            // stream as UTF-8 but finds that the byte stream is not, in
            // fact, a valid UTF-8 stream, that endpoint MUST _Fail the
            // WebSocket Connection_." The whole message is here: checked
            // at once, the same outcome as piece by piece, then `finish`.
            crate::utf8::validate(&self.rx[..whole.len])?;
        }
        let data = if self.rx_peak > RX_KEEP {
            self.split_payload(whole.len, OpCode::Binary)
        } else {
            // What `split_payload` does with a small buffer.
            self.rx.split_to(whole.len)
        }
        .freeze();
        // The message began and ended with this frame.
        self.timers.message_ended();
        self.events.push_back(if whole.text {
            Message::Text(Utf8Bytes::from_validated(data))
        } else {
            Message::Binary(data)
        });
        Ok(())
    }

    /// Space at the end of the receive buffer, `len` bytes long, to read
    /// from the transport into directly (saving the copy `receive_data`
    /// makes). Follow with [`receive_commit`](Self::receive_commit) and the
    /// number of bytes read.
    ///
    /// The space is zero-filled first, `len` bytes on every call, because a
    /// `&mut [u8]` must be initialised. A reader that can write into
    /// uninitialised memory (an async one: tokio's `read_buf`,
    /// `poll_read_buf`) should use [`receive_buf_mut`](Self::receive_buf_mut),
    /// which skips that.
    pub fn receive_buffer(&mut self, len: usize) -> &mut [u8] {
        let start = self.lend(len);
        self.rx.resize(start + len, 0);
        &mut self.rx[start..]
    }

    /// The spare capacity at the end of the receive buffer, up to `len`
    /// bytes, as a [`BufMut`], to read from the transport into directly:
    /// like [`receive_buffer`](Self::receive_buffer), but nothing is
    /// zero-filled, so this is what an async reader should use. Follow
    /// with [`receive_commit`](Self::receive_commit) and the number of bytes
    /// read (or just call it with `len`: only the bytes written count).
    ///
    /// The room is reserved before this returns, so a read into it
    /// allocates nothing and payloads are later handed out without a copy,
    /// as with `receive_buffer`. Writing more than `len` bytes panics. The
    /// buffer borrows the connection: use it as a temporary, as below, or
    /// drop it before the commit.
    ///
    /// With tokio (`tokio::io::AsyncReadExt::read_buf`, or
    /// `tokio_util::io::poll_read_buf` inside a `poll_*` function, both of
    /// which take a `BufMut` and fill its uninitialised chunk through a
    /// `ReadBuf`):
    ///
    /// ```ignore
    /// let n = socket.read_buf(&mut conn.receive_buf_mut(64 << 10)).await?;
    /// if n == 0 {
    ///     conn.receive_eof();
    /// } else {
    ///     conn.receive_commit(n)?;
    /// }
    /// ```
    ///
    /// The same with a plain slice as the "socket":
    ///
    /// ```
    /// use bytes::BufMut;
    /// use wsproto::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// // A masked "Hello" from a client (RFC 6455 §5.7).
    /// let socket = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// // What a read into uninitialised memory does:
    /// server.receive_buf_mut(4096).put_slice(&socket);
    /// server.receive_commit(socket.len())?;
    /// assert!(matches!(server.poll_event(), Some(Message::Text(t)) if t == "Hello"));
    /// # Ok::<(), wsproto::ProtocolError>(())
    /// ```
    pub fn receive_buf_mut(&mut self, len: usize) -> impl BufMut + '_ {
        self.lend(len);
        (&mut self.rx).limit(len)
    }

    /// Reserves room for `len` bytes after the buffered ones, to lend to a
    /// read; returns where the lent region starts.
    fn lend(&mut self, len: usize) -> usize {
        self.discard_lent();
        self.reserve_input(len);
        self.note_capacity();
        let start = self.rx.len();
        self.rx_lent = Some(start);
        start
    }

    /// Processes the first `n` bytes written into the space from
    /// [`receive_buffer`](Self::receive_buffer) or
    /// [`receive_buf_mut`](Self::receive_buf_mut), like
    /// [`receive_data`](Self::receive_data) would.
    pub fn receive_commit(&mut self, n: usize) -> Result<(), ProtocolError> {
        if let Some(error) = self.error.clone() {
            // The lent space goes too, or a driver that keeps reading after
            // a failure would grow the buffer by a read's worth each time.
            self.discard_lent();
            return Err(error);
        }
        let Some(start) = self.rx_lent.take() else {
            return Ok(());
        };
        let end = self.rx.len().min(start.saturating_add(n));
        self.rx.truncate(end);
        if !self.takes_input() {
            self.rx.clear();
            return Ok(());
        }
        if end > start {
            self.timers.activity();
        }
        let result = self.process_frames();
        self.after_input(result)
    }

    /// The transport reached end of stream: the peer will send nothing more.
    ///
    /// Without the peer's Close this ends the connection abnormally (RFC 6455
    /// §7.1.5: code 1006). Either way the write half is to be shut down
    /// next ([`Transmit::Shutdown`](super::Transmit::Shutdown)).
    pub fn receive_eof(&mut self) {
        self.settle();
        self.discard_lent();
        if self.state != State::Closed {
            self.finish(CloseFrame::new(CloseCode::ABNORMAL));
        }
        self.owed_pong = None;
        if self.shutdown == Shutdown::NotYet {
            self.shutdown = Shutdown::Owed;
        }
        self.timers.stop();
    }

    /// Whether input is still processed: not after the peer's Close or a
    /// violation, even while the reaction to it waits.
    fn takes_input(&self) -> bool {
        self.state != State::Closed && self.ending.is_none()
    }

    /// Frees the receive buffer when it holds nothing (no partial frame,
    /// nothing lent) and is larger than `IDLE_KEEP`. Payloads split off it
    /// keep their own part alive.
    pub(super) fn release_rx(&mut self) {
        drop(self.take_idle_rx());
    }

    /// The receive buffer, taken out (empty) when
    /// [`release_rx`](Self::release_rx) would free it, with the size of
    /// its allocation (`rx_peak`: the capacity left after payloads were
    /// split off says little about it): a driver keeps a small one for the
    /// next connection that needs one (see `driver::spare`), so that a
    /// server trading messages of a few KiB does not allocate and free one
    /// per message, and an idle connection still holds none.
    pub(crate) fn take_idle_rx(&mut self) -> Option<(BytesMut, usize)> {
        if self.rx.is_empty()
            && self.rx_lent.is_none()
            && self.frame.is_none()
            && self.rx.capacity() > super::IDLE_KEEP
        {
            let allocated = core::mem::take(&mut self.rx_peak);
            return Some((core::mem::take(&mut self.rx), allocated));
        }
        None
    }

    /// Drops a region lent by `receive_buffer` and never committed.
    fn discard_lent(&mut self) {
        if let Some(start) = self.rx_lent.take() {
            self.rx.truncate(start);
        }
    }

    /// Fails the connection on a violation; otherwise releases a large
    /// receive buffer that is no longer needed.
    ///
    /// Inline for the usual case (no violation, a small buffer): two
    /// checks.
    #[inline]
    fn after_input(&mut self, result: Result<(), ProtocolError>) -> Result<(), ProtocolError> {
        if let Err(error) = result {
            return Err(self.fail_input(error));
        }
        if self.rx_peak > RX_KEEP {
            self.shrink_rx();
        }
        Ok(())
    }

    /// Fails the connection on `error`, which is returned.
    #[cold]
    #[inline(never)]
    fn fail_input(&mut self, error: ProtocolError) -> ProtocolError {
        self.end_input(Ending::Fail(error.clone()));
        error
    }

    /// Moves what is left of a large receive buffer to a small one of its
    /// own, when it is no longer needed.
    #[inline(never)]
    fn shrink_rx(&mut self) {
        if self.rx.len() <= RX_KEEP / PIN_RATIO && !self.large_frame_due() {
            // The large allocation is no longer needed: what is left of it
            // (at most 32 KiB) moves to a buffer of its own, and payloads
            // are shared again instead of copied out. Not while a large
            // frame arrives, whose room was just reserved.
            self.rx = BytesMut::from(&self.rx[..]);
            self.rx_peak = self.rx.capacity();
        }
    }

    /// Parses and handles every complete frame in `rx`, and the part of
    /// the current frame that has arrived.
    fn process_frames(&mut self) -> Result<(), ProtocolError> {
        while self.takes_input() {
            let mut frame = match self.frame {
                Some(frame) => frame,
                None => {
                    if let Some(whole) = self.whole_message(&self.rx) {
                        self.take_whole_buffered(whole)?;
                        continue;
                    }
                    let Parsed::Complete((header, used)) = FrameHeader::decode(&self.rx)? else {
                        return Ok(());
                    };
                    let frame = self.check_header(&header)?;
                    self.rx.advance(used);
                    frame
                }
            };
            let available = self.rx.len().min(frame.len);
            if available > frame.done {
                if let Some(key) = frame.mask {
                    if available > frame.unmasked {
                        let masked = &mut self.rx[frame.unmasked..available];
                        apply_mask_at(masked, key, frame.unmasked);
                    }
                }
                frame.unmasked = available.max(frame.unmasked);
                let fresh = &mut self.rx[frame.done..available];
                if frame.opcode.is_data() {
                    // Fail-fast: text is validated as it arrives, before the
                    // frame is complete (RFC 6455 §8.1).
                    self.assembler.feed(fresh)?;
                }
                frame.done = available;
            }
            if frame.done < frame.len {
                self.frame = Some(frame);
                return Ok(());
            }
            self.frame = None;
            let payload = self.split_payload(frame.len, frame.opcode);
            self.on_frame(frame, payload)?;
        }
        Ok(())
    }

    /// Appends the front of `data` that continues the current frame's
    /// payload, unmasked on the way in when masked; returns the rest.
    fn take_payload<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        let Some(frame) = &mut self.frame else {
            return data;
        };
        // While a frame is incomplete, `rx` holds only its payload, all of
        // it unmasked.
        debug_assert_eq!(frame.unmasked, self.rx.len());
        let (payload, rest) = data.split_at(data.len().min(frame.len - frame.unmasked));
        // With nothing buffered, room for every payload left in this input
        // at once: after a large frame, the room `reserve_input` left past
        // it. This frame's own room, when it is large, is made when its
        // next input arrives (see `reserve_input`).
        self.rx.reserve(if self.rx.is_empty() {
            data.len()
        } else {
            payload.len()
        });
        match frame.mask {
            // The input may be a large buffer that sat in memory, not
            // fresh from a socket: the copy prefetches it.
            Some(key) => {
                extend_masked_streaming(&mut self.rx, payload, key, frame.unmasked);
            }
            None => self.rx.extend_from_slice(payload),
        }
        frame.unmasked += payload.len();
        self.note_capacity();
        rest
    }

    /// Records the receive buffer's capacity after it may have grown (see
    /// `rx_peak`), before payloads are split off it.
    fn note_capacity(&mut self) {
        self.rx_peak = self.rx_peak.max(self.rx.capacity());
    }

    /// Before `incoming` bytes of input are parsed (or lent by
    /// `receive_buffer`): room for the bytes they may append to `rx`,
    /// reserved once for all the frames in the input (the previous input's
    /// messages have usually been dropped by now, so the buffer is reused
    /// in place).
    ///
    /// A large data frame in progress gets room for the rest of its payload
    /// at once: growing input by input doubles the buffer again and again,
    /// and every doubling moves the bytes already received (measured: a
    /// third of the time spent receiving 1 MiB frames in 128 KiB pieces).
    /// That room follows what has arrived: at most [`RESERVE_EAGER`] or
    /// twice the bytes buffered, whichever is more, so a header that
    /// declares 16 MiB and a trickle after it commit about 1 MiB, not 16
    /// (the copies stay amortised, as with doubling). One input's worth
    /// more goes past the frame: the start of the next frame lands there
    /// while this message is still held, without an allocation, and is
    /// moved to the front when its own room is made (by then the message
    /// has usually been dropped).
    fn reserve_input(&mut self, incoming: usize) {
        let room = if self.large_frame_due() {
            let missing = self.missing_payload();
            missing.min(self.reserve_earned()).saturating_add(incoming)
        } else {
            incoming
        };
        if self.rx.capacity() - self.rx.len() < room {
            // Never less than `MIN_ROOM`: small messages split off the
            // buffer one after another then find room left behind the
            // last one, instead of making `reserve` reclaim the buffer
            // for each.
            self.rx.reserve(room.max(MIN_ROOM));
        }
    }

    /// Payload bytes of the current frame not yet in `rx`.
    fn missing_payload(&self) -> usize {
        self.frame
            .map_or(0, |frame| frame.len.saturating_sub(self.rx.len()))
    }

    /// The most room reserved ahead of a large frame's bytes.
    fn reserve_earned(&self) -> usize {
        self.rx.len().saturating_mul(2).max(RESERVE_EAGER)
    }

    /// Whether the frame arriving is a data frame large enough to have room
    /// reserved for it.
    fn large_frame_due(&self) -> bool {
        self.frame
            .is_some_and(|f| f.opcode.is_data() && f.len > RESERVE_AHEAD)
    }

    /// Takes the finished frame's payload off the front of the receive buffer.
    ///
    /// Usually without copying: the payload shares the buffer's allocation.
    /// But a small payload kept by the application would then keep a large
    /// buffer alive (up to twice the maximum frame size, after a big frame),
    /// so a payload much smaller than a large buffer is copied out, and so
    /// is a Close payload, which the connection keeps until it is dropped.
    /// "Large" is judged by `rx_peak`, since the capacity left after large
    /// payloads were split off says little about the allocation.
    #[inline]
    fn split_payload(&mut self, len: usize, opcode: OpCode) -> BytesMut {
        let peak = self.rx_peak;
        let small_in_large = peak > RX_KEEP && len.saturating_mul(PIN_RATIO) < peak;
        if small_in_large || opcode == OpCode::Close {
            let copy = BytesMut::from(&self.rx[..len]);
            self.rx.advance(len);
            copy
        } else {
            self.rx.split_to(len)
        }
    }

    /// Checks what the header alone can prove wrong, before any payload is
    /// buffered.
    fn check_header(&mut self, header: &FrameHeader) -> Result<InFrame, ProtocolError> {
        // RFC 6455 §5.2: "If a nonzero value is received and none of the
        // negotiated extensions defines the meaning of such a nonzero value,
        // the receiving endpoint MUST _Fail the WebSocket Connection_."
        // RFC 7692 §6: permessage-deflate gives RSV1 a meaning, "Per-Message
        // Compressed", on the first frame of a data message only.
        if header.rsv2 || header.rsv3 || (header.rsv1 && !self.assembler.inflates()) {
            return Err(ProtocolError::ReservedBits);
        }
        // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message
        // Compressed" bit of control frames and non-first fragments of a
        // data message." Such a frame is refused as any unknown RSV bit is.
        if header.rsv1 && !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            return Err(ProtocolError::MisplacedRsv1);
        }
        match (self.role.expects_masked(), header.mask.is_some()) {
            // RFC 6455 §5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            (true, false) => return Err(ProtocolError::UnmaskedFrame),
            // RFC 6455 §5.1: "A client MUST close a connection if it detects
            // a masked frame."
            (false, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.opcode.is_data() {
            let began = !self.assembler.in_progress();
            self.assembler.begin_frame(header, &self.config)?;
            if began {
                self.timers.message_began();
            }
        }
        // Control frames are at most 125 bytes (checked by the decoder);
        // data frames passed the frame and message size limits.
        let len = usize::try_from(header.payload_len).map_err(|_| ProtocolError::FrameTooBig {
            size: header.payload_len,
            limit: usize::MAX as u64,
        })?;
        Ok(InFrame {
            fin: header.fin,
            opcode: header.opcode,
            mask: header.mask,
            len,
            done: 0,
            unmasked: 0,
        })
    }

    /// A whole frame arrived, payload unmasked (and fed to the validator).
    fn on_frame(&mut self, frame: InFrame, payload: BytesMut) -> Result<(), ProtocolError> {
        match frame.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if let Some(message) = self.assembler.end_frame(frame.fin, payload)? {
                    self.timers.message_ended();
                    self.events.push_back(match message.kind {
                        DataKind::Text => Message::Text(Utf8Bytes::from_validated(message.data)),
                        DataKind::Binary => Message::Binary(message.data),
                    });
                }
            }
            OpCode::Ping => {
                let payload = payload.freeze();
                // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint
                // MUST send a Pong frame in response, unless it already
                // received a Close frame." (Nothing is processed after the
                // peer's Close, so that case never reaches here.)
                self.answer_ping(&payload);
                self.events.push_back(Message::Ping(payload));
            }
            OpCode::Pong => self.events.push_back(Message::Pong(payload.freeze())),
            OpCode::Close => {
                let close = CloseFrame::parse(payload.freeze())?;
                self.end_input(Ending::Close(close));
            }
        }
        Ok(())
    }
}

// `Connection::new` (the std clock) builds the connections compared.
#[cfg(all(test, feature = "std"))]
mod tests;
