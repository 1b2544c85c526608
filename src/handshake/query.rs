//! Query strings as `application/x-www-form-urlencoded` pairs, decoded the
//! way browsers encode them (WHATWG URL Standard, §5.1
//! "application/x-www-form-urlencoded parsing").
//!
//! A leaf: it imports no other handshake file.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::borrow::Cow;

/// The `name=value` pairs of a query string, in order, repeats included,
/// percent-decoded as `application/x-www-form-urlencoded`.
///
/// The rules (those of the WHATWG URL Standard, which browsers and
/// `URLSearchParams` follow):
///
/// - Pairs are separated by `&`; empty pieces (`a=1&&b=2`, a trailing `&`,
///   an empty query) yield nothing.
/// - A piece without `=` is a name with an empty value (`?debug` is
///   `("debug", "")`); only the first `=` separates (`a=b=c` is
///   `("a", "b=c")`).
/// - In names and values, `+` is a space and `%XX` (two hex digits, any
///   case) is the byte `XX`.
/// - An invalid escape (`%zz`, a `%` near the end) is **kept literally**, not
///   refused: `%zz` stays `%zz`.
/// - The decoded bytes are read as UTF-8 **lossily**: a sequence that is not
///   UTF-8 (`%FF`) becomes U+FFFD. Two different raw values can thus decode
///   to the same text; compare [`HttpRequest::query`](super::HttpRequest::query)
///   yourself if the exact bytes matter.
///
/// Names and values borrow from the query unless decoding changed them.
///
/// ```
/// use wsproto::handshake::QueryPairs;
///
/// let pairs: Vec<_> = QueryPairs::new("q=a+b%21&lang=%C3%A9&debug&q=2&bad=%zz")
///     .map(|(k, v)| (k.into_owned(), v.into_owned()))
///     .collect();
/// assert_eq!(
///     pairs,
///     [("q", "a b!"), ("lang", "é"), ("debug", ""), ("q", "2"), ("bad", "%zz")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned()))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct QueryPairs<'a> {
    rest: &'a str,
}

impl<'a> QueryPairs<'a> {
    /// The pairs of `query`, the part after `?` (without the `?`).
    pub fn new(query: &'a str) -> Self {
        QueryPairs { rest: query }
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (piece, rest) = self.rest.split_once('&').unwrap_or((self.rest, ""));
            self.rest = rest;
            if piece.is_empty() {
                continue;
            }
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            return Some((decode(name), decode(value)));
        }
    }
}

/// The first value of `name` in `query` (names compared after decoding,
/// case-sensitively); see [`QueryPairs`] for the decoding.
pub(crate) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    QueryPairs::new(query?)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// `+` to space, valid `%XX` to the byte, the rest as is; UTF-8 lossily.
fn decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_text_is_borrowed() {
        assert!(matches!(decode("plain"), Cow::Borrowed("plain")));
        assert!(matches!(decode("a+b"), Cow::Owned(s) if s == "a b"));
    }
}
