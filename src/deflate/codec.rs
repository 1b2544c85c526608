//! Per-message compression and decompression (RFC 7692 §7.2): raw
//! deflate streams with sync flushes, zlib-rs's own API for compressing
//! (for memLevel) and flate2's for inflating.

use flate2::{Decompress, FlushDecompress, Status};
use zlib_rs::{DeflateFlush, Method, Strategy};

use super::DeflatePool;
use crate::error::ProtocolError;

/// RFC 7692 §7.2.1: the end of a sync flush, removed from every compressed
/// message and appended back before inflating (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated bytes are produced in steps of at most this much at first,
/// doubling with the message, and never past the message limit.
const STEP: usize = 32 << 10;

/// zlib's smallest raw-deflate window (it refuses 8 bits).
const MIN_ZLIB_BITS: u8 = 9;

/// How a compressor is made: what a pooled one must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Settings {
    level: u8,
    window_bits: u8,
    mem_level: u8,
}

impl Settings {
    /// The compressor for a window of at most `2^window_bits` bytes.
    pub(crate) fn new(level: u32, window_bits: u8, mem_level: u8) -> Settings {
        // A window of 8 bits is beyond zlib: stored blocks (level 0) hold no
        // back-references, so they fit it (see the module docs).
        let (level, window_bits) = if window_bits < MIN_ZLIB_BITS {
            (0, MIN_ZLIB_BITS)
        } else {
            (level.min(9) as u8, window_bits.min(15))
        };
        Settings {
            level,
            window_bits,
            mem_level: mem_level.clamp(1, 9),
        }
    }

    /// The window bits the compressor really uses (9..=15).
    pub(crate) fn window_bits(self) -> u8 {
        self.window_bits
    }

    /// Whether it only writes stored blocks (level 0, or an 8-bit window),
    /// which never make a message smaller.
    pub(crate) fn stores_only(self) -> bool {
        self.level == 0
    }

    fn make(self) -> zlib_rs::Deflate {
        zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
            level: i32::from(self.level),
            method: Method::Deflated,
            // Negative: a raw deflate stream, no zlib header.
            window_bits: -i32::from(self.window_bits),
            mem_level: i32::from(self.mem_level),
            strategy: Strategy::Default,
        })
    }
}

/// Our compressor: one raw deflate stream, kept across messages with
/// context takeover; without it, taken for each message (from the pool,
/// or allocated) and given back (or freed) after it.
pub(crate) struct Deflater {
    state: Option<zlib_rs::Deflate>,
    settings: Settings,
    no_context_takeover: bool,
    threshold: usize,
    pool: Option<&'static DeflatePool>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("active", &self.state.is_some())
            .field("settings", &self.settings)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor that allocates its state on first use.
    pub(crate) fn new(settings: Settings, no_context_takeover: bool) -> Deflater {
        Deflater {
            state: None,
            settings,
            no_context_takeover,
            threshold: 0,
            pool: None,
        }
    }

    /// Messages shorter than `threshold` are not compressed by
    /// [`compress_message`](Self::compress_message).
    pub(crate) fn with_threshold(mut self, threshold: usize) -> Deflater {
        self.threshold = threshold;
        self
    }

    /// States are taken from and given back to `pool` when each message
    /// starts afresh.
    pub(crate) fn with_pool(mut self, pool: Option<&'static DeflatePool>) -> Deflater {
        self.pool = pool;
        self
    }

    /// The settings of a frame made once for many connections, if this
    /// one can send such frames: without context takeover only (RFC 7692
    /// §7.1.1.1: then every message starts "with an empty LZ77 sliding
    /// window", as a frame compressed on its own does).
    pub(crate) fn shared_settings(
        &self,
        len: usize,
    ) -> Option<(Settings, Option<&'static DeflatePool>)> {
        (self.no_context_takeover && len >= self.threshold).then_some((self.settings, self.pool))
    }

    /// The payload to send for one message: compressed, or `None` to send
    /// it as it is (RSV1 clear, which RFC 7692 §6 allows for any message):
    /// below the threshold, or when the compressor failed. A message that
    /// does not shrink is still sent compressed (a few bytes more, in
    /// stored blocks): some peers mishandle an uncompressed message among
    /// compressed ones of the same size (kosoku 0.1.0's Autobahn cases do).
    pub(crate) fn compress_message(&mut self, input: &[u8]) -> Option<Vec<u8>> {
        if input.len() < self.threshold {
            return None;
        }
        self.compress(input)
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
            None => self
                .pool
                .and_then(|pool| pool.take_compressor(self.settings))
                .unwrap_or_else(|| self.settings.make()),
        };
        let out = deflate(&mut state, input);
        // RFC 7692 §7.2.1: without context takeover the endpoint "MUST
        // start compressing each new message with an empty LZ77 sliding
        // window"; a reset (in the pool) or a new state does that, and
        // the connection holds none in between.
        if self.no_context_takeover {
            if let (Some(pool), Some(_)) = (self.pool, &out) {
                pool.put_compressor(self.settings, state);
            }
        } else if out.is_some() {
            self.state = Some(state);
        }
        out
    }
}

/// One message through `state`, sync-flushed, without the tail.
fn deflate(state: &mut zlib_rs::Deflate, input: &[u8]) -> Option<Vec<u8>> {
    // Zeroed, not spare capacity: zlib-rs's safe API writes to `&mut [u8]`
    // (memset is cheap beside deflate).
    let mut out = vec![0; input.len() / 2 + 64];
    let (start_in, start_out) = (state.total_in(), state.total_out());
    loop {
        let consumed = (state.total_in() - start_in) as usize;
        let written = (state.total_out() - start_out) as usize;
        if out.len() - written < 64 {
            out.resize(out.len() * 2, 0);
        }
        state
            .compress(
                &input[consumed..],
                &mut out[written..],
                DeflateFlush::SyncFlush,
            )
            .ok()?;
        let consumed = (state.total_in() - start_in) as usize;
        let written = (state.total_out() - start_out) as usize;
        // zlib: the flush is complete when output space is left over.
        if consumed == input.len() && written < out.len() {
            out.truncate(written);
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Some(out)
}

/// Our decompressor: one raw inflate stream for the peer's messages.
pub(crate) struct Inflater {
    state: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    pool: Option<&'static DeflatePool>,
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
            // zlib's smallest raw window is 9 bits; a larger window inflates
            // what a smaller one made.
            window_bits: window_bits.clamp(MIN_ZLIB_BITS, 15),
            no_context_takeover,
            pool: None,
            ended: false,
        }
    }

    /// States are taken from and given back to `pool` when each message
    /// starts afresh.
    pub(crate) fn with_pool(mut self, pool: Option<&'static DeflatePool>) -> Inflater {
        self.pool = pool;
        self
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
        let (bits, pool) = (self.window_bits, self.pool);
        let state = self.state.get_or_insert_with(|| {
            pool.and_then(|pool| pool.take_decompressor(bits))
                .unwrap_or_else(|| Decompress::new_with_window_bits(false, bits))
        });
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
            // The next message starts with an empty window: this state is
            // not needed until then (RFC 7692 §7.1.1.2: with
            // client_no_context_takeover the peer "MUST start compressing
            // each new message with an empty LZ77 sliding window").
            let state = self.state.take();
            if let (Some(state), Some(pool), Ok(())) = (state, self.pool, &result) {
                pool.put_decompressor(self.window_bits, state);
            }
            self.ended = false;
        }
        result
    }
}
