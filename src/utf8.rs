//! UTF-8: an incremental, fail-fast validator, and [`Utf8Bytes`], text that
//! is known to be valid and shares its bytes with the receive buffer.
//!
//! RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
//! but finds that the byte stream is not, in fact, a valid UTF-8 stream,
//! that endpoint MUST _Fail the WebSocket Connection_."
//!
//! The validator is fed a text message piece by piece, in whatever pieces the
//! bytes arrive (fragments, or parts of one frame not yet complete), and
//! fails as soon as the bytes seen so far cannot start any valid UTF-8
//! string. A code point split across pieces is held back (at most three
//! bytes) and completed by the next piece.
//!
//! `unsafe`: this module is one of the two allowed to use it (with
//! `frame::mask`). It has one block, in [`Utf8Bytes::as_str`], which skips
//! re-validation: every way to build a [`Utf8Bytes`] is in this module and
//! checks its bytes, or takes a `str`, or (crate-internal
//! [`Utf8Bytes::from_validated`]) takes bytes that went whole through a
//! [`Utf8Validator`]. Its tests also run under Miri (`.ci/run`).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use core::ops::Deref;

use bytes::Bytes;

use crate::error::ProtocolError;

/// Pieces up to this long are first checked with `is_ascii`, which is
/// cheaper than `from_utf8` for short input.
const SHORT_ASCII: usize = 64;

/// Incremental validator for one text message (or close reason).
///
/// A piece is cut in two: the code point its end may have cut (at most
/// three bytes, found by looking back for a leading byte), and everything
/// before, which must be valid UTF-8 on its own. That part goes through
/// `simdutf8` (AVX2 or SSE4.2 picked at run time with `std`, NEON, SIMD128:
/// the core received 64 KiB messages of mixed text 6.2× faster than with
/// `core::str::from_utf8`, `receive text` in `benches/compare.rs`), the
/// cut code point through [`core::str::from_utf8`], whose
/// [`Utf8Error::error_len`] (`None` = a code point that may still turn out
/// valid) says whether it can still be completed.
///
/// [`Utf8Error::error_len`]: core::str::Utf8Error::error_len
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8Validator {
    /// The start of a code point cut by the end of the last piece.
    pending: [u8; 4],
    /// How many bytes of `pending` are in use (0–3).
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece of the message.
    ///
    /// Fails with [`ProtocolError::InvalidUtf8`] as soon as the bytes seen
    /// so far are not a prefix of valid UTF-8.
    #[inline]
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), ProtocolError> {
        if self.pending_len > 0 {
            // Complete the cut code point one byte at a time: at most three.
            while let Some((&byte, rest)) = piece.split_first() {
                let n = usize::from(self.pending_len);
                self.pending[n] = byte;
                self.pending_len += 1;
                piece = rest;
                match core::str::from_utf8(&self.pending[..=n]) {
                    Ok(_) => {
                        self.pending_len = 0;
                        break;
                    }
                    Err(e) if e.error_len().is_some() => return Err(ProtocolError::InvalidUtf8),
                    Err(_) => {}
                }
            }
            if self.pending_len > 0 {
                return Ok(());
            }
        }
        // Short ASCII pieces (most small text messages) skip the set-up of
        // the general validator.
        if piece.len() <= SHORT_ASCII && piece.is_ascii() {
            return Ok(());
        }
        let (whole, cut) = piece.split_at(piece.len() - cut_code_point(piece));
        if simdutf8::basic::from_utf8(whole).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        if !cut.is_empty() {
            // Held back only if some continuation could still make it valid
            // (`\xe0\x80` never can).
            match core::str::from_utf8(cut) {
                Err(e) if e.error_len().is_none() => {
                    self.pending[..cut.len()].copy_from_slice(cut);
                    self.pending_len = cut.len() as u8;
                }
                _ => return Err(ProtocolError::InvalidUtf8),
            }
        }
        Ok(())
    }

    /// The message ended: a code point still cut is invalid.
    #[inline]
    pub(crate) fn finish(&mut self) -> Result<(), ProtocolError> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }
}

/// Validates a whole text message at once: the same outcome as feeding it
/// to a [`Utf8Validator`] in one piece and then calling
/// [`finish`](Utf8Validator::finish), for less.
#[inline]
pub(crate) fn validate(text: &[u8]) -> Result<(), ProtocolError> {
    if text.len() <= SHORT_ASCII && text.is_ascii() {
        return Ok(());
    }
    match simdutf8::basic::from_utf8(text) {
        Ok(_) => Ok(()),
        Err(_) => Err(ProtocolError::InvalidUtf8),
    }
}

/// How many bytes at the end of `piece` start a code point that `piece`
/// does not complete (0–3): the bytes from the last leading byte among the
/// last three, if it announces a longer sequence than what follows it.
///
/// Bytes that cannot lead any code point (`\xf8`–`\xff`) count as the
/// start of a four-byte one, and `\xc0`/`\xc1` as a two-byte one: the
/// check of the cut part refuses them, so they fail as early as anywhere.
fn cut_code_point(piece: &[u8]) -> usize {
    for back in 1..=piece.len().min(3) {
        let byte = piece[piece.len() - back];
        if byte & 0xc0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let width = match byte {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xff => 4,
            _ => 1,
        };
        return if width > back { back } else { 0 };
    }
    0
}

/// Text known to be valid UTF-8, sharing its bytes (no copy) with wherever
/// they came from: the receive buffer for received messages.
///
/// The bytes are validated once, when it is built (received text as it
/// arrives, piece by piece); dereferencing to `str`, [`Utf8Bytes::as_str`],
/// `Display` and `Debug` cost nothing more.
///
/// Invariant: the bytes are valid UTF-8. The field is private to this
/// module and nothing hands out `&mut` access to it.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps a static string, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// Wraps bytes after checking that they are UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, core::str::Utf8Error> {
        if simdutf8::basic::from_utf8(&bytes).is_err() {
            // The standard library's error says where.
            core::str::from_utf8(&bytes)?;
        }
        Ok(Utf8Bytes(bytes))
    }

    /// Wraps the bytes of a received text message, which the caller has
    /// fed whole, in order, through one [`Utf8Validator`] whose
    /// [`finish`](Utf8Validator::finish) returned `Ok` (crate-internal).
    ///
    /// That promise is what [`as_str`](Self::as_str) relies on. Debug
    /// builds (the tests, the fuzz targets) check it on every call.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(
            core::str::from_utf8(&bytes).is_ok(),
            "Utf8Bytes::from_validated given invalid UTF-8: {bytes:x?}"
        );
        Utf8Bytes(bytes)
    }

    /// The text, without a check: O(1).
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are valid UTF-8, the invariant of the type.
        // Every constructor upholds it: `from_static`, `From<String>` and
        // `From<&str>` take a `str`; `try_from_bytes` (and `TryFrom<Bytes>`)
        // run `core::str::from_utf8`; `Default` is empty; `from_validated`
        // is crate-internal and takes only the bytes of a text message that
        // went through `Utf8Validator` (see there; asserted in debug
        // builds). The bytes never change afterwards: `Bytes` is immutable
        // and the field is private to this module.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The text as bytes, without a check.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying bytes, for sending on or storing without a copy.
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<String> for Utf8Bytes {
    /// Takes the string's buffer without copying.
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the text (one allocation); use [`Utf8Bytes::from_static`] or a
    /// `String` to avoid the copy.
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = core::str::Utf8Error;

    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        Utf8Bytes::try_from_bytes(bytes)
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` cut at every pair of points; returns whether all
    /// agreed and were valid.
    fn valid_in_all_cuts(input: &[u8]) -> bool {
        let whole = core::str::from_utf8(input).is_ok();
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut v = Utf8Validator::new();
                let got = v
                    .feed(&input[..a])
                    .and_then(|()| v.feed(&input[a..b]))
                    .and_then(|()| v.feed(&input[b..]))
                    .and_then(|()| v.finish())
                    .is_ok();
                assert_eq!(got, whole, "{input:x?} cut at {a},{b}");
            }
        }
        whole
    }

    #[test]
    fn agrees_with_std_at_every_cut() {
        let cases: &[&[u8]] = &[
            b"",
            b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
            "κόσμε".as_bytes(),
            b"\xf0\x90\x80\x80",
            b"\xf4\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\xed\xa0\x80",
            b"\xed\x9f\xbf",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xff",
            b"\xce",
            b"a\xe2\x82",
            b"\x80",
        ];
        for case in cases {
            valid_in_all_cuts(case);
        }
    }

    #[test]
    fn fails_as_soon_as_the_proof_arrives() {
        // Autobahn 6.4.1: the third piece can never be valid, whatever follows.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        v.feed(b"\xf4").unwrap();
        assert_eq!(v.feed(b"\x90"), Err(ProtocolError::InvalidUtf8));
        // A cut but still possible code point is not an error until the end.
        let mut v = Utf8Validator::new();
        v.feed(b"\xf0\x90").unwrap();
        v.feed(b"\x80").unwrap();
        assert_eq!(v.finish(), Err(ProtocolError::InvalidUtf8));
    }

    /// The smallest `k` such that `input[..k]` cannot begin any valid
    /// UTF-8 (the byte that proves it is `input[k - 1]`), by asking the
    /// standard library about every prefix.
    fn proof_of_invalidity(input: &[u8]) -> Option<usize> {
        (1..=input.len())
            .find(|&k| core::str::from_utf8(&input[..k]).is_err_and(|e| e.error_len().is_some()))
    }

    /// Code points of every width, and bytes that fit nowhere.
    fn utf8_ish() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let unit = prop_oneof![
            8 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
            8 => "[a-z ]{1,40}".prop_map(String::into_bytes),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(unit, 0..80).prop_map(|units| units.concat())
    }

    proptest::proptest! {
        /// Long pieces too (the SIMD path starts at 64 bytes): any input,
        /// cut anywhere, is judged as the standard library judges it
        /// whole, and an invalid one fails on the very piece that brings
        /// the proof, not before, not after.
        #[test]
        #[cfg_attr(miri, ignore)] // the short cases above run under Miri
        fn long_input_cut_anywhere_fails_exactly_when_proven(
            input in utf8_ish(),
            cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
            cuts.push(input.len());
            cuts.sort_unstable();
            let proof = proof_of_invalidity(&input);
            let mut v = Utf8Validator::new();
            let mut start = 0;
            let mut failed_at = None;
            for &end in &cuts {
                if v.feed(&input[start..end]).is_err() {
                    failed_at = Some(end);
                    break;
                }
                start = end;
            }
            match proof {
                // Failed on the first piece reaching the proving byte.
                Some(k) => proptest::prop_assert_eq!(failed_at, cuts.iter().copied().find(|&c| c >= k)),
                None => {
                    proptest::prop_assert_eq!(failed_at, None);
                    proptest::prop_assert_eq!(v.finish().is_ok(), core::str::from_utf8(&input).is_ok());
                }
            }
        }
    }

    #[test]
    fn a_cut_code_point_is_found_by_its_leading_byte() {
        assert_eq!(cut_code_point(b""), 0);
        assert_eq!(cut_code_point(b"abc"), 0);
        assert_eq!(cut_code_point("aé".as_bytes()), 0);
        assert_eq!(cut_code_point(b"a\xc3"), 1);
        assert_eq!(cut_code_point(b"a\xe2\x82"), 2);
        assert_eq!(cut_code_point(b"\xf0\x9f\x98"), 3);
        assert_eq!(cut_code_point("€".as_bytes()), 0);
        // Four continuation bytes: not a cut, invalid as it stands.
        assert_eq!(cut_code_point(b"a\x80\x80\x80"), 0);
        // Bytes no code point starts with are handed to the check of the cut.
        assert_eq!(cut_code_point(b"a\xff"), 1);
    }

    /// Every constructor yields the text it was given, and the unchecked
    /// view agrees with `core::str::from_utf8` on every slice (run under
    /// Miri too).
    #[test]
    fn every_constructor_gives_back_its_text() {
        let text = "aé€😀\u{10FFFF}z";
        let built = [
            Utf8Bytes::from_static("aé€😀\u{10FFFF}z"),
            Utf8Bytes::from(text),
            Utf8Bytes::from(text.to_string()),
            Utf8Bytes::try_from_bytes(Bytes::copy_from_slice(text.as_bytes())).unwrap(),
            Utf8Bytes::try_from(Bytes::from_static(text.as_bytes())).unwrap(),
            Utf8Bytes::from_validated(Bytes::from(text.as_bytes().to_vec())),
        ];
        for t in &built {
            assert_eq!(t.as_str(), text);
            assert_eq!(&**t, text);
            assert_eq!(t.to_string(), text);
            assert_eq!(format!("{t:?}"), format!("{text:?}"));
            for (start, _) in text.char_indices() {
                let tail = Utf8Bytes::try_from_bytes(t.clone().into_bytes().slice(start..));
                assert_eq!(tail.unwrap().as_str(), &text[start..]);
            }
        }
        assert_eq!(Utf8Bytes::default().as_str(), "");
        // Cut inside a code point: refused, never wrapped.
        let cut = Bytes::from_static(text.as_bytes()).slice(..2);
        assert!(Utf8Bytes::try_from_bytes(cut).is_err());
    }

    /// The crate-internal constructor trusts its caller; debug builds (the
    /// tests, the fuzz targets) still check the promise.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "invalid UTF-8")]
    fn from_validated_checks_its_promise_in_debug_builds() {
        let _ = Utf8Bytes::from_validated(Bytes::from_static(b"ab\xc3"));
    }

    #[test]
    fn utf8_bytes_derefs_and_compares() {
        let text = Utf8Bytes::from("héllo".to_string());
        assert_eq!(&*text, "héllo");
        assert_eq!(text, "héllo");
        assert_eq!(text.len(), 6);
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(format!("{text:?}"), "\"héllo\"");
    }
}
