//! Payload masking (RFC 6455 §5.3), the one module with `unsafe`.
//!
//! "Octet i of the transformed data ("transformed-octet-i") is the XOR of
//! octet i of the original data ("original-octet-i") with octet at index
//! i modulo 4 of the masking key ("masking-key-octet-j")". Masking and
//! unmasking are the same operation.
//!
//! Three implementations, chosen at run time:
//! - AVX2, when the CPU has it: 128 bytes per loop iteration with aligned
//!   stores after a short bytewise head, so a buffer that starts off
//!   alignment costs no split cache lines;
//! - a portable word-wise loop (safe code, eight bytes at a time, which the
//!   compiler widens to the target's vectors), used everywhere else;
//! - [`apply_mask_bytewise`], the reference the other two are tested against.

/// Below this many bytes the word-wise loop beats the AVX2 set-up.
#[cfg(target_arch = "x86_64")]
const AVX2_THRESHOLD: usize = 64;

/// XORs `buf` with the masking `key`, as if `buf` started a payload.
///
/// ```
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut payload = *b"Hello";
/// wsproto::frame::apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_at(buf, key, 0);
}

/// XORs `buf` with `key`, where `buf` starts `offset` bytes into the payload.
///
/// Returns the offset of the byte after `buf` (modulo 4), to pass with the
/// next piece, so a payload that arrives in pieces can be unmasked piece by
/// piece:
///
/// ```
/// use wsproto::frame::{apply_mask, apply_mask_at};
///
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"a payload cut anywhere";
/// let mut pieces = whole;
/// apply_mask(&mut whole, key);
/// let (first, rest) = pieces.split_at_mut(7);
/// let offset = apply_mask_at(first, key, 0);
/// apply_mask_at(rest, key, offset);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let key = rotate_key(key, offset);
    #[cfg(target_arch = "x86_64")]
    {
        if buf.len() >= AVX2_THRESHOLD && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { avx2::apply_mask(buf, key) };
            return (offset + buf.len()) & 3;
        }
    }
    apply_mask_words(buf, key);
    (offset + buf.len()) & 3
}

/// The bytewise reference: one XOR per byte, exactly as RFC 6455 §5.3 states
/// it. Slow; it is what the fast paths are tested against.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) & 3];
    }
    (offset + buf.len()) & 3
}

/// The portable path: safe code, eight bytes at a time.
///
/// Public for the differential tests and benchmarks; [`apply_mask_at`]
/// already picks the fastest path for the CPU.
pub fn apply_mask_portable(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    apply_mask_words(buf, rotate_key(key, offset));
    (offset + buf.len()) & 3
}

/// The key as seen from `offset` bytes into the payload.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut rotated = key;
    rotated.rotate_left(offset & 3);
    rotated
}

#[inline]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4]) {
    // Eight bytes hold the key twice, so every chunk starts at key phase 0.
    let key_word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("8-byte chunk")) ^ key_word;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_load_si256, _mm256_set1_epi32, _mm256_store_si256, _mm256_xor_si256,
    };

    const LANE: usize = 32;

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
        let len = buf.len();
        // Bytes before the first 32-byte boundary go one at a time, so every
        // vector load and store below is aligned. `align_offset` may answer
        // `usize::MAX` (it does under Miri's symbolic alignment): then the
        // whole buffer takes the bytewise head.
        let head = buf.as_ptr().align_offset(LANE).min(len);
        let (head_bytes, body) = buf.split_at_mut(head);
        for (i, byte) in head_bytes.iter_mut().enumerate() {
            *byte ^= key[i & 3];
        }
        // The body starts `head` bytes into the payload.
        let mut key = key;
        key.rotate_left(head & 3);
        let key_vector = _mm256_set1_epi32(i32::from_ne_bytes(key));

        let body_len = body.len();
        let vectors = body_len / LANE;
        let ptr = body.as_mut_ptr().cast::<__m256i>();
        let mut i = 0;
        while i + 4 <= vectors {
            // SAFETY: `ptr` is 32-byte aligned (the head took care of it) and
            // `ptr.add(i + 3)` ends at byte `(i + 4) * 32 <= body_len`, so the
            // four lanes lie inside `body`, which we borrow mutably.
            unsafe {
                let a = _mm256_load_si256(ptr.add(i));
                let b = _mm256_load_si256(ptr.add(i + 1));
                let c = _mm256_load_si256(ptr.add(i + 2));
                let d = _mm256_load_si256(ptr.add(i + 3));
                _mm256_store_si256(ptr.add(i), _mm256_xor_si256(a, key_vector));
                _mm256_store_si256(ptr.add(i + 1), _mm256_xor_si256(b, key_vector));
                _mm256_store_si256(ptr.add(i + 2), _mm256_xor_si256(c, key_vector));
                _mm256_store_si256(ptr.add(i + 3), _mm256_xor_si256(d, key_vector));
            }
            i += 4;
        }
        while i < vectors {
            // SAFETY: as above, for the single lane `i < vectors`.
            unsafe {
                let a = _mm256_load_si256(ptr.add(i));
                _mm256_store_si256(ptr.add(i), _mm256_xor_si256(a, key_vector));
            }
            i += 1;
        }
        // A multiple of 32 bytes went by, so the tail is at key phase 0.
        super::apply_mask_words(&mut body[vectors * LANE..], key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose slice at `align` starts exactly `align` bytes past a
    /// 64-byte boundary.
    #[repr(align(64))]
    struct Aligned([u8; 64 + 300 + 64]);

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    /// Every length 0..=300 at every alignment 0..=63 and key offset 0..=3,
    /// each fast path against the bytewise reference. Under Miri the sweep
    /// is thinned so it finishes in minutes.
    #[test]
    fn fast_paths_match_the_reference() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let (lens, aligns): (Vec<usize>, Vec<usize>) = if cfg!(miri) {
            (
                (0..=300)
                    .step_by(37)
                    .chain([63, 64, 65, 127, 128, 129])
                    .collect(),
                vec![0, 1, 3, 31, 32, 63],
            )
        } else {
            ((0..=300).collect(), (0..=63).collect())
        };
        let mut storage = Aligned([0; 64 + 300 + 64]);
        for &len in &lens {
            let source = pattern(len);
            for &align in &aligns {
                for offset in 0..4 {
                    let mut expected = source.clone();
                    let next = apply_mask_bytewise(&mut expected, key, offset);
                    assert_eq!(next, (offset + len) % 4);
                    type Path = fn(&mut [u8], [u8; 4], usize) -> usize;
                    let paths: [(&str, Path); 2] = [
                        ("dispatch", apply_mask_at),
                        ("portable", apply_mask_portable),
                    ];
                    for (name, path) in paths {
                        let buf = &mut storage.0[align..align + len];
                        buf.copy_from_slice(&source);
                        assert_eq!(path(buf, key, offset), next);
                        assert_eq!(
                            buf,
                            &expected[..],
                            "{name} len {len} align {align} offset {offset}"
                        );
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::is_x86_feature_detected!("avx2") {
                        let buf = &mut storage.0[align..align + len];
                        buf.copy_from_slice(&source);
                        // SAFETY: AVX2 support checked just above.
                        unsafe { avx2::apply_mask(buf, rotate_key(key, offset)) };
                        assert_eq!(
                            buf,
                            &expected[..],
                            "avx2 len {len} align {align} offset {offset}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let source = pattern(4096 + 5);
        let mut buf = source.clone();
        apply_mask(&mut buf[1..], [9, 8, 7, 6]);
        assert_ne!(buf, source);
        apply_mask(&mut buf[1..], [9, 8, 7, 6]);
        assert_eq!(buf, source);
    }

    #[test]
    fn pieces_of_every_size_match_the_whole() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let source = pattern(1000);
        let mut whole = source.clone();
        apply_mask(&mut whole, key);
        for piece in [1, 2, 3, 5, 63, 64, 65, 129, 333] {
            let mut buf = source.clone();
            let mut offset = 0;
            for chunk in buf.chunks_mut(piece) {
                offset = apply_mask_at(chunk, key, offset);
            }
            assert_eq!(buf, whole, "piece {piece}");
        }
    }
}
