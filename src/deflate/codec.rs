//! Per-message compression and decompression (RFC 7692 §7.2) over
//! `flate2` raw deflate streams with sync flushes.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::ProtocolError;

/// RFC 7692 §7.2.1: the end of a sync flush, removed from every compressed
/// message and appended back before inflating (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated bytes are produced in steps of at most this much at first,
/// doubling with the message, and never past the message limit.
const STEP: usize = 32 << 10;

/// zlib's smallest raw-deflate window (it refuses 8 bits).
const MIN_ZLIB_BITS: u8 = 9;

/// Our compressor: one raw deflate stream, kept across messages with
/// context takeover, dropped after each message without it.
pub(crate) struct Deflater {
    state: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("active", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor that allocates its state on first use.
    pub(crate) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Deflater {
        Deflater {
            state: None,
            level: level.min(9),
            window_bits,
            no_context_takeover,
        }
    }

    fn make(&self) -> Compress {
        // A window of 8 bits is beyond zlib: stored blocks (level 0) hold no
        // back-references, so they fit it (see the module docs).
        let (level, bits) = if self.window_bits < MIN_ZLIB_BITS {
            (0, MIN_ZLIB_BITS)
        } else {
            (self.level, self.window_bits.min(15))
        };
        Compress::new_with_window_bits(Compression::new(level), false, bits)
    }

    /// Compresses one whole message: RFC 7692 §7.2.1, "Compress all the
    /// octets of the payload of the message using DEFLATE", flushed with a
    /// sync flush, and "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from
    /// the tail end". `None` if the compressor failed (it does not on valid
    /// use); the message then goes out uncompressed and the state is reset.
    pub(crate) fn compress(&mut self, input: &[u8]) -> Option<Vec<u8>> {
        if input.is_empty() {
            // RFC 7692 §7.2.3.6: an empty message is the single octet 0x00
            // (an empty stored block once the tail is appended back). The
            // compressor is not involved: a sync flush with no new input
            // is a no-op that zlib answers with Z_BUF_ERROR, and at level 0
            // that left zlib-rs emitting a corrupt next message.
            return Some(vec![0x00]);
        }
        let mut state = match self.state.take() {
            Some(state) => state,
            None => self.make(),
        };
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let start = state.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(256));
            }
            let consumed = (state.total_in() - start) as usize;
            state
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
                .ok()?;
            // zlib: the flush is complete when output space is left over.
            if (state.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        // RFC 7692 §7.2.1: without context takeover the endpoint "MUST
        // start compressing each new message with an empty LZ77 sliding
        // window"; dropping the state does that and frees its memory.
        if !self.no_context_takeover {
            self.state = Some(state);
        }
        Some(out)
    }
}

/// Our decompressor: one raw inflate stream for the peer's messages.
pub(crate) struct Inflater {
    state: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    /// The peer's stream ended with a final block inside this message:
    /// the rest of the message is ignored and the next starts afresh.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("active", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// A decompressor that allocates its state on first use.
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            state: None,
            window_bits,
            no_context_takeover,
            ended: false,
        }
    }

    /// Inflates the next compressed bytes of a message into `out`, which
    /// holds what the message inflated to so far. `out` never grows past
    /// `limit + 1` bytes: beyond `limit` the message is too big (1009),
    /// however much the input would still inflate to.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        if self.ended {
            return Ok(());
        }
        let bits = self.window_bits.clamp(MIN_ZLIB_BITS, 15);
        let state = self
            .state
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let too_big = |len: usize| ProtocolError::MessageTooBig {
            size: len as u64,
            limit,
        };
        let mut consumed = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return Err(too_big(out.len()));
                }
                let first = (input.len() - consumed).saturating_mul(4).clamp(256, STEP);
                let target = out
                    .capacity()
                    .saturating_mul(2)
                    .max(out.len() + first)
                    .min(cap);
                out.reserve_exact(target - out.len());
            }
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let status = state
                .decompress_vec(&input[consumed..], out, FlushDecompress::None)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
            consumed += (state.total_in() - in_before) as usize;
            let progress = state.total_in() != in_before || state.total_out() != out_before;
            if out.len() as u64 > limit {
                return Err(too_big(out.len()));
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            // zlib: all possible output was produced when space is left.
            let room = out.len() < out.capacity();
            if room && (consumed == input.len() || !progress) {
                return Ok(());
            }
        }
    }

    /// Ends a message: RFC 7692 §7.2.2, "Append 4 octets of 0x00 0x00 0xff
    /// 0xff to the tail end of the payload of the message" and inflate
    /// them; then forget the context if the peer does not keep its own.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: u64) -> Result<(), ProtocolError> {
        let result = self.inflate(&TAIL, out, limit);
        if self.no_context_takeover || self.ended {
            self.state = None;
            self.ended = false;
        }
        result
    }
}
