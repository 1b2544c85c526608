//! The outgoing side: framing, masking and the queue of bytes to write.
//!
//! Bytes wait in a queue of [`Bytes`] chunks. Control frames and small
//! frames are written into one growing *arena* (`BytesMut`), so consecutive
//! small frames form one contiguous chunk; a large payload is queued as its
//! own chunk, which carries its frame header beside it (at most 14 bytes,
//! copied into the queue entry), without a copy of the payload when the
//! role allows it (a server never masks; a client masks a payload it owns
//! uniquely in place). The arena is handed out with `split().freeze()`, which
//! does not allocate once the buffer is shared, and is reclaimed by
//! `BytesMut::reserve` once every chunk taken from it has been written and
//! dropped: sending allocates nothing in steady state.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::payload::BinaryPayload;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask, extend_masked};

/// Payloads up to this size are copied next to their header rather than
/// queued as a chunk of their own: one contiguous write beats an extra
/// vector entry (or an extra `write` call) for small frames.
const INLINE_MAX: usize = 1024;

/// An empty arena keeps its capacity up to this size; beyond it, it is
/// released so that one burst of large sends does not pin memory forever.
const ARENA_KEEP: usize = 256 << 10;

/// Where a client gets the masking key of each frame.
///
/// RFC 6455 §5.3: "The masking key is a 32-bit value chosen at random by
/// the client. When preparing a masked frame, the client MUST pick a fresh
/// masking key from the set of allowed 32-bit values. The masking key needs
/// to be unpredictable". The default draws from `rand`'s thread-local
/// cryptographically secure generator; tests inject a fixed key (any
/// `FnMut() -> [u8; 4]` is a source).
pub trait MaskSource: Send {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4] + Send> MaskSource for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// A queued chunk: a frame header (possibly none) followed by a payload.
///
/// The header of a large frame travels in the entry, not in the arena: the
/// arena is then not sealed into a chunk of its own for four bytes, which
/// cost a split, a freeze and a second entry to write and pop per large
/// frame (callgrind, 16 KiB echoed by the tokio server, with the plain
/// loops of `slices_chunked` and `advance_chunks`: 5,512 -> 5,233
/// instructions per message).
#[derive(Debug)]
struct Chunk {
    /// The header's bytes, `head[head_at..head_len]` still to write.
    head: [u8; MAX_HEADER_LEN],
    head_at: u8,
    head_len: u8,
    body: Bytes,
}

impl Chunk {
    /// A chunk without a header (sealed arena bytes, a prepared frame).
    fn plain(body: Bytes) -> Chunk {
        Chunk {
            head: [0; MAX_HEADER_LEN],
            head_at: 0,
            head_len: 0,
            body,
        }
    }

    /// The header's bytes not yet written.
    #[inline]
    fn head(&self) -> &[u8] {
        &self.head[usize::from(self.head_at)..usize::from(self.head_len)]
    }

    /// Bytes not yet written.
    #[inline]
    fn len(&self) -> usize {
        usize::from(self.head_len - self.head_at) + self.body.len()
    }
}

/// A frame header (no RSV2/RSV3) and how many of its bytes are used.
#[inline]
fn encode_header(
    opcode: OpCode,
    fin: bool,
    rsv1: bool,
    len: usize,
    mask: Option<[u8; 4]>,
) -> ([u8; MAX_HEADER_LEN], usize) {
    let header = FrameHeader {
        fin,
        rsv1,
        mask,
        ..FrameHeader::new(opcode, len as u64)
    };
    let mut out = [0; MAX_HEADER_LEN];
    let used = header.encode(&mut out);
    (out, used)
}

/// The queue of bytes waiting to be written.
#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    /// Sealed chunks, oldest first.
    chunks: VecDeque<Chunk>,
    /// Bytes in `chunks`.
    chunks_len: usize,
    /// Bytes after the last chunk, still growing.
    arena: BytesMut,
    /// Bytes at the front of the arena already written. Kept as a count
    /// rather than advanced past, so that an arena written out completely
    /// is cleared in place and the next frame's `reserve` has nothing to do.
    arena_sent: usize,
}

impl TxQueue {
    /// Bytes waiting to be written.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.chunks_len + self.arena.len() - self.arena_sent
    }

    /// Whether nothing waits.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the oldest bytes out of the queue.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let chunk = if let Some(front) = self.chunks.front_mut() {
            if front.head_at < front.head_len {
                // The header goes out first, through the arena (no
                // allocation once it is warm).
                let mut head = [0; MAX_HEADER_LEN];
                let n = front.head().len();
                head[..n].copy_from_slice(front.head());
                front.head_at = front.head_len;
                self.chunks_len -= n;
                self.take_before_arena(&head[..n])
            } else {
                let chunk = self.chunks.pop_front().expect("a front chunk");
                self.chunks_len -= chunk.body.len();
                chunk.body
            }
        } else if self.arena.len() > self.arena_sent {
            self.take_arena()
        } else {
            return None;
        };
        self.trim();
        Some(chunk)
    }

    /// Everything queued, when it is one contiguous slice (no chunks, the
    /// arena only).
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    #[inline]
    pub(crate) fn single(&self) -> Option<&[u8]> {
        match self.chunks.is_empty() {
            true => Some(&self.arena[self.arena_sent..]),
            false => None,
        }
    }

    /// Fills `dst` with the queued bytes, oldest first, without taking them,
    /// each slice made into a slot by `slot` (a `&[u8]`, an `IoSlice`).
    pub(crate) fn slices<'a, S>(&'a self, dst: &mut [S], slot: impl Fn(&'a [u8]) -> S) -> usize {
        let unsent = &self.arena[self.arena_sent..];
        if self.chunks.is_empty() {
            // The common case: small frames only, one contiguous slice.
            return match dst.first_mut() {
                Some(first) if !unsent.is_empty() => {
                    *first = slot(unsent);
                    1
                }
                _ => 0,
            };
        }
        self.slices_chunked(dst, slot)
    }

    /// [`slices`](Self::slices) when there are chunks: a plain loop, where
    /// a zip of chained iterators cost 112 instructions per 16 KiB echo
    /// (callgrind); out of line, so that the case above stays small (inline,
    /// it cost 28 instructions per small message sent by the core).
    #[inline(never)]
    fn slices_chunked<'a, S>(&'a self, dst: &mut [S], slot: impl Fn(&'a [u8]) -> S) -> usize {
        let unsent = &self.arena[self.arena_sent..];
        if let (Some(chunk), true) = (
            self.chunks.front(),
            self.chunks.len() == 1 && dst.len() >= 3,
        ) {
            // One chunk (a large frame, its header beside it), and room
            // for all it may take: no loop.
            let head = chunk.head();
            let mut n = usize::from(!head.is_empty());
            dst[0] = slot(head);
            dst[n] = slot(&chunk.body);
            n += 1;
            if !unsent.is_empty() {
                dst[n] = slot(unsent);
                n += 1;
            }
            return n;
        }
        let mut n = 0;
        for chunk in &self.chunks {
            // A chunk's header, when it has one left, then its body.
            let head = chunk.head();
            if !head.is_empty() {
                let Some(out) = dst.get_mut(n) else {
                    return n;
                };
                *out = slot(head);
                n += 1;
            }
            let Some(out) = dst.get_mut(n) else {
                return n;
            };
            *out = slot(&chunk.body);
            n += 1;
        }
        if let Some(out) = dst.get_mut(n).filter(|_| !unsent.is_empty()) {
            *out = slot(unsent);
            n += 1;
        }
        n
    }

    /// Drops the first `n` queued bytes (they were written).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        if !self.chunks.is_empty() {
            return self.advance_chunks(n);
        }
        // The common case, small frames only: inline.
        self.advance_arena(n);
        self.trim();
    }

    /// [`advance`](Self::advance) through the chunks, then the arena.
    fn advance_chunks(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.advance_arena(n);
                break;
            };
            let len = front.len();
            if n < len {
                let from_head = n.min(front.head().len());
                // At most 14: fits the `u8`.
                front.head_at += from_head as u8;
                front.body.advance(n - from_head);
                self.chunks_len -= n;
                return;
            }
            n -= len;
            self.chunks_len -= len;
            self.chunks.pop_front();
        }
        self.trim();
    }

    /// Drops up to `n` written bytes from the front of the arena.
    #[inline]
    fn advance_arena(&mut self, n: usize) {
        let k = n.min(self.arena.len() - self.arena_sent);
        self.arena_sent += k;
        if self.arena_sent == self.arena.len() {
            self.arena.clear();
            self.arena_sent = 0;
        }
    }

    /// Frees the arena and the chunk list when nothing waits, unless they
    /// are small (`IDLE_KEEP`).
    #[inline]
    pub(crate) fn release(&mut self) {
        if !self.is_empty() {
            return;
        }
        self.arena.clear();
        self.arena_sent = 0;
        if self.arena.capacity() > super::IDLE_KEEP {
            self.arena = BytesMut::new();
        }
        if self.chunks.capacity() * size_of::<Chunk>() > super::IDLE_KEEP {
            self.chunks = VecDeque::new();
        }
    }

    #[inline]
    fn trim(&mut self) {
        if self.is_empty() && self.arena.capacity() > ARENA_KEEP {
            self.free_arena();
        }
    }

    /// Out of line: the usual advance (a small arena) inlines without the
    /// code that frees one.
    #[cold]
    fn free_arena(&mut self) {
        self.arena = BytesMut::new();
    }

    /// Queues a chunk after everything in the arena.
    fn push_chunk(&mut self, chunk: Chunk) {
        if self.arena.len() > self.arena_sent {
            let sealed = self.take_arena();
            self.chunks_len += sealed.len();
            self.chunks.push_back(Chunk::plain(sealed));
        }
        self.chunks_len += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Queues one frame whose payload `body` is passed through uncopied
    /// (masked already when `mask` is set), its header carried beside it.
    fn push_framed(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        body: Bytes,
        mask: Option<[u8; 4]>,
    ) {
        let (head, used) = encode_header(opcode, fin, rsv1, body.len(), mask);
        self.push_chunk(Chunk {
            head,
            head_at: 0,
            // At most 14: fits the `u8`.
            head_len: used as u8,
            body,
        });
    }

    /// Queues bytes shared with others (a prepared message's frame) as a
    /// chunk of their own: never copied, whatever their size.
    pub(crate) fn push_shared(&mut self, chunk: Bytes) {
        self.push_chunk(Chunk::plain(chunk));
    }

    /// Makes room for `additional` bytes in the arena. Written bytes still
    /// at its front are dropped first when it has to grow, so that
    /// `reserve` can reuse their space: a queue that never drains completely
    /// (a non-blocking driver whose writes keep stopping short) would
    /// otherwise grow the arena forever.
    #[inline]
    fn reserve_arena(&mut self, additional: usize) {
        if self.arena_sent > 0 && self.arena.capacity() - self.arena.len() < additional {
            self.arena.advance(core::mem::take(&mut self.arena_sent));
        }
        self.arena.reserve(additional);
    }

    /// `bytes` (a chunk's header, for `pop`) as a `Bytes` of their own,
    /// taken from the arena without an allocation once it is warm. They go
    /// out before the arena's unsent bytes, which stay where they are in
    /// the order: they are written at the end, rotated in front of the
    /// unsent bytes and split off.
    fn take_before_arena(&mut self, bytes: &[u8]) -> Bytes {
        self.reserve_arena(bytes.len());
        let start = self.arena_sent;
        self.arena.extend_from_slice(bytes);
        self.arena[start..].rotate_right(bytes.len());
        let mut taken = self.arena.split_to(start + bytes.len()).freeze();
        taken.advance(core::mem::take(&mut self.arena_sent));
        taken
    }

    /// Seals the arena's unsent bytes into a chunk.
    fn take_arena(&mut self) -> Bytes {
        let mut sealed = self.arena.split().freeze();
        sealed.advance(core::mem::take(&mut self.arena_sent));
        sealed
    }

    /// Writes a frame header into the arena.
    fn push_header(&mut self, opcode: OpCode, fin: bool, len: usize, mask: Option<[u8; 4]>) {
        self.reserve_arena(MAX_HEADER_LEN);
        self.write_header(opcode, fin, false, len, mask);
    }

    /// Writes a frame header into room already reserved (`MAX_HEADER_LEN`
    /// at least): the small-message path reserves header and payload at
    /// once.
    #[inline(always)]
    fn write_header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        len: usize,
        mask: Option<[u8; 4]>,
    ) {
        let (out, used) = encode_header(opcode, fin, rsv1, len, mask);
        debug_assert!(self.arena.capacity() - self.arena.len() >= MAX_HEADER_LEN);
        // All 14 bytes, then the unused tail cut off: a copy of a constant
        // length is two moves, where `&out[..used]` was a call to memcpy
        // (the room for 14 is reserved by every caller).
        let end = self.arena.len() + used;
        self.arena.extend_from_slice(&out);
        self.arena.truncate(end);
    }

    /// Appends one frame whose payload is copied into the arena (masked in
    /// place there when `mask` is set).
    pub(crate) fn push_frame_copied(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        self.push_frame_copied_rsv1(opcode, fin, false, payload, mask);
    }

    /// As [`push_frame_copied`](Self::push_frame_copied), with RSV1.
    #[inline(always)]
    fn push_frame_copied_rsv1(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        self.reserve_arena(MAX_HEADER_LEN + payload.len());
        self.write_header(opcode, fin, rsv1, payload.len(), mask);
        match mask {
            // Copied and masked in one pass.
            Some(key) => {
                extend_masked(&mut self.arena, payload, key, 0);
            }
            None => self.arena.extend_from_slice(payload),
        }
    }

    /// Appends a frame whose payload was written into the arena by `write`
    /// (a close code and reason), masked in place when `mask` is set.
    pub(crate) fn push_frame_with(
        &mut self,
        opcode: OpCode,
        len: usize,
        mask: Option<[u8; 4]>,
        write: impl FnOnce(&mut BytesMut),
    ) {
        self.reserve_arena(MAX_HEADER_LEN + len);
        self.push_header(opcode, true, len, mask);
        let start = self.arena.len();
        write(&mut self.arena);
        debug_assert_eq!(self.arena.len() - start, len);
        if let Some(key) = mask {
            apply_mask(&mut self.arena[start..], key);
        }
    }

    /// Queues a data message, split into frames of at most `fragment`
    /// payload bytes, each masked with its own key from `next_key` when the
    /// role masks. `rsv1` marks the first frame (a compressed message).
    #[inline(always)]
    pub(crate) fn push_message<P: BinaryPayload>(
        &mut self,
        opcode: OpCode,
        payload: P,
        fragment: usize,
        next_key: Option<&mut dyn FnMut() -> [u8; 4]>,
        rsv1: bool,
    ) {
        let fragment = fragment.max(1);
        let total = payload.as_bytes().len();
        if total <= INLINE_MAX.min(fragment) {
            // The usual small message: one frame, copied next to its header.
            let key = next_key.map(|f| f());
            self.push_frame_copied_rsv1(opcode, true, rsv1, payload.as_bytes(), key);
            return;
        }
        self.push_message_frames(opcode, payload, fragment, next_key, rsv1);
    }

    /// [`push_message`](Self::push_message) for a message that is large or
    /// fragmented: out of line, so that the small path above is inlined
    /// into its callers.
    fn push_message_frames<P: BinaryPayload>(
        &mut self,
        opcode: OpCode,
        payload: P,
        fragment: usize,
        mut next_key: Option<&mut dyn FnMut() -> [u8; 4]>,
        rsv1: bool,
    ) {
        let total = payload.as_bytes().len();
        if total <= INLINE_MAX || P::BORROWED {
            // Small or borrowed: copied next to the header (and masked on
            // the way); the payload never becomes a `Bytes`, which would
            // allocate.
            let bytes = payload.as_bytes();
            let frames = total.div_ceil(fragment).max(1);
            for i in 0..frames {
                let range = i * fragment..((i + 1) * fragment).min(total);
                let opcode = if i == 0 { opcode } else { OpCode::Continuation };
                let key = next_key.as_mut().map(|f| f());
                let fin = i + 1 == frames;
                self.push_frame_copied_rsv1(opcode, fin, rsv1 && i == 0, &bytes[range], key);
            }
            return;
        }
        let payload = payload.into_bytes();
        if total <= fragment {
            let key = next_key.map(|f| f());
            self.push_frame_owned(opcode, rsv1, payload, key);
            return;
        }
        let frames = total.div_ceil(fragment);
        for i in 0..frames {
            let range = i * fragment..((i + 1) * fragment).min(total);
            let opcode = if i == 0 { opcode } else { OpCode::Continuation };
            let fin = i + 1 == frames;
            let rsv1 = rsv1 && i == 0;
            let key = next_key.as_mut().map(|f| f());
            if key.is_none() && range.len() > INLINE_MAX {
                self.push_framed(opcode, fin, rsv1, payload.slice(range), None);
            } else {
                self.push_frame_copied_rsv1(opcode, fin, rsv1, &payload[range], key);
            }
        }
    }

    /// Queues one final frame, passing a large payload through uncopied.
    fn push_frame_owned(
        &mut self,
        opcode: OpCode,
        rsv1: bool,
        payload: Bytes,
        mask: Option<[u8; 4]>,
    ) {
        if payload.len() <= INLINE_MAX {
            self.push_frame_copied_rsv1(opcode, true, rsv1, &payload, mask);
            return;
        }
        match mask {
            None => self.push_framed(opcode, true, rsv1, payload, None),
            // RFC 6455 §5.3 masks the payload; a payload we own alone is
            // masked where it lies, with no copy.
            Some(key) => match payload.try_into_mut() {
                Ok(mut owned) => {
                    apply_mask(&mut owned, key);
                    self.push_framed(opcode, true, rsv1, owned.freeze(), Some(key));
                }
                Err(shared) => self.push_frame_copied_rsv1(opcode, true, rsv1, &shared, Some(key)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut TxQueue) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = q.pop() {
            out.extend_from_slice(&chunk);
        }
        out
    }

    #[test]
    fn rfc_5_7_examples() {
        let mut q = TxQueue::default();
        q.push_message(
            OpCode::Text,
            Bytes::from_static(b"Hello"),
            usize::MAX,
            None,
            false,
        );
        assert_eq!(drain(&mut q), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let mut key = || [0x37, 0xfa, 0x21, 0x3d];
        q.push_message(
            OpCode::Text,
            Bytes::from_static(b"Hello"),
            usize::MAX,
            Some(&mut key),
            false,
        );
        assert_eq!(
            drain(&mut q),
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        // A fragmented unmasked text message.
        q.push_message(OpCode::Text, Bytes::from_static(b"Hello"), 3, None, false);
        assert_eq!(
            drain(&mut q),
            [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
        );
        // 256 bytes of binary data in a single unmasked message.
        q.push_message(
            OpCode::Binary,
            Bytes::from(vec![7; 256]),
            usize::MAX,
            None,
            false,
        );
        assert_eq!(drain(&mut q)[..4], [0x82, 0x7E, 0x01, 0x00]);
    }

    #[test]
    fn large_payloads_are_not_copied() {
        let mut q = TxQueue::default();
        let payload = Bytes::from(vec![1u8; 4096]);
        let ptr = payload.as_ptr();
        q.push_message(OpCode::Binary, payload, usize::MAX, None, false);
        let header = q.pop().unwrap();
        assert_eq!(&header[..], [0x82, 0x7E, 0x10, 0x00]);
        assert_eq!(q.pop().unwrap().as_ptr(), ptr);
        // Client: an owned payload is masked in place.
        let payload = Bytes::from(vec![0u8; 4096]);
        let ptr = payload.as_ptr();
        let mut key = || [1, 2, 3, 4];
        q.push_message(OpCode::Binary, payload, usize::MAX, Some(&mut key), false);
        q.pop().unwrap();
        let body = q.pop().unwrap();
        assert_eq!((body.as_ptr(), &body[..4]), (ptr, &[1, 2, 3, 4][..]));
    }

    /// Partly written arena bytes are never written twice, whether the
    /// rest leaves by `slices`/`advance`, by `pop`, or sealed behind a
    /// large chunk.
    #[test]
    fn a_partly_written_arena_continues_where_it_stopped() {
        let mut q = TxQueue::default();
        let small = |q: &mut TxQueue, b: &'static [u8]| {
            q.push_message(
                OpCode::Binary,
                Bytes::from_static(b),
                usize::MAX,
                None,
                false,
            )
        };
        small(&mut q, b"abc");
        q.advance(2);
        let mut slices: [&[u8]; 4] = [&[]; 4];
        assert_eq!(q.slices(&mut slices, |c| c), 1);
        assert_eq!(slices[0], b"abc");
        assert_eq!(q.len(), 3);
        // Sealed behind a large chunk.
        q.push_message(
            OpCode::Binary,
            Bytes::from(vec![5u8; 2000]),
            usize::MAX,
            None,
            false,
        );
        small(&mut q, b"z");
        let out = drain(&mut q);
        assert_eq!(out[..4], [b'a', b'b', b'c', 0x82]);
        assert_eq!(out.len(), 3 + 4 + 2000 + 3);
        assert!(q.is_empty());
        // Written out completely: cleared in place, capacity kept.
        small(&mut q, b"xy");
        let capacity = q.arena.capacity();
        q.advance(4);
        assert_eq!((q.len(), q.arena.len(), q.arena_sent), (0, 0, 0));
        assert_eq!(q.arena.capacity(), capacity);
        small(&mut q, b"q");
        q.advance(1);
        assert_eq!(q.pop().as_deref(), Some(&[0x01, b'q'][..]));
    }

    /// A queue that never drains completely (every write stops one byte
    /// short) keeps a bounded arena: 14.6 MiB after 100,000 frames before
    /// `reserve_arena`.
    #[test]
    fn an_arena_that_never_drains_stays_bounded() {
        for mask in [None, Some([1, 2, 3, 4])] {
            let mut q = TxQueue::default();
            for _ in 0..100_000 {
                q.push_frame_copied(OpCode::Binary, true, &[7u8; 100], mask);
                q.advance(q.len() - 1);
            }
            assert_eq!(q.len(), 1);
            assert!(q.arena.capacity() < 64 << 10, "{}", q.arena.capacity());
        }
    }

    /// A large frame's header travels in its chunk: written in part, and
    /// popped before the arena's bytes queued after it.
    #[test]
    fn a_header_carried_in_its_chunk_leaves_in_order() {
        let mut q = TxQueue::default();
        let body = Bytes::from(vec![3u8; 2000]);
        q.push_message(OpCode::Binary, body.clone(), usize::MAX, None, false);
        q.push_message(
            OpCode::Binary,
            Bytes::from_static(b"z"),
            usize::MAX,
            None,
            false,
        );
        q.advance(1);
        assert_eq!(q.len(), 3 + 2000 + 3);
        let mut slices: [&[u8]; 4] = [&[]; 4];
        assert_eq!(q.slices(&mut slices, |c| c), 3);
        assert_eq!(slices[0], [0x7E, 0x07, 0xD0]);
        assert_eq!(slices[1].as_ptr(), body.as_ptr());
        assert_eq!(slices[2], [0x82, 0x01, b'z']);
        let mut expected = vec![0x7E, 0x07, 0xD0];
        expected.extend_from_slice(&body);
        expected.extend_from_slice(&[0x82, 0x01, b'z']);
        assert_eq!(drain(&mut q), expected);
        // A partial write that ends inside the header, then inside the body.
        q.push_message(OpCode::Binary, body.clone(), usize::MAX, None, false);
        q.advance(2);
        q.advance(3);
        assert_eq!(q.len(), 1999);
        let mut slices: [&[u8]; 1] = [&[]; 1];
        assert_eq!(q.slices(&mut slices, |c| c), 1);
        assert_eq!(slices[0].as_ptr(), body[1..].as_ptr());
        q.advance(1999);
        assert!(q.is_empty());
        // Popped while the arena holds bytes queued after it.
        q.push_message(OpCode::Binary, body.clone(), usize::MAX, None, false);
        q.push_message(
            OpCode::Binary,
            Bytes::from_static(b"y"),
            usize::MAX,
            None,
            false,
        );
        assert_eq!(q.pop().as_deref(), Some(&[0x82, 0x7E, 0x07, 0xD0][..]));
        assert_eq!(q.pop().unwrap().as_ptr(), body.as_ptr());
        assert_eq!(q.pop().as_deref(), Some(&[0x82, 0x01, b'y'][..]));
        assert_eq!(q.pop(), None);
        // A chunk without a header (a prepared frame), alone and followed
        // by the arena.
        let shared = Bytes::from_static(b"\x82\x02hi");
        q.push_shared(shared.clone());
        let mut slices: [&[u8]; 4] = [&[]; 4];
        assert_eq!(q.slices(&mut slices, |c| c), 1);
        assert_eq!(slices[0], &shared[..]);
        q.push_frame_copied(OpCode::Binary, true, b"z", None);
        let mut slices: [&[u8]; 4] = [&[]; 4];
        assert_eq!(q.slices(&mut slices, |c| c), 2);
        assert_eq!(slices[..2], [&shared[..], &[0x82, 0x01, b'z'][..]]);
        q.advance(7);
        assert!(q.is_empty());
    }

    #[test]
    fn partial_writes_and_slices() {
        let mut q = TxQueue::default();
        q.push_message(
            OpCode::Binary,
            Bytes::from(vec![9u8; 2000]),
            usize::MAX,
            None,
            false,
        );
        q.push_message(
            OpCode::Binary,
            Bytes::from_static(b"xy"),
            usize::MAX,
            None,
            false,
        );
        assert_eq!(q.len(), 4 + 2000 + 4);
        let mut slices: [&[u8]; 8] = [&[]; 8];
        assert_eq!(q.slices(&mut slices, |c| c), 3);
        q.advance(5);
        assert_eq!(q.len(), 2003);
        let mut slices: [&[u8]; 1] = [&[]; 1];
        assert_eq!(q.slices(&mut slices, |c| c), 1);
        assert_eq!(slices[0].len(), 1999);
        q.advance(2001);
        assert_eq!(drain(&mut q), b"xy");
        q.advance(100);
        assert!(q.is_empty());
    }
}
