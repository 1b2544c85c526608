//! Header fields and the comma-separated lists inside them, parsed in one
//! linear pass with no backtracking.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

/// The header fields of a request or response, in the order received.
///
/// Names compare ASCII case-insensitively (RFC 7230 §3.2: "Each header field
/// consists of a case-insensitive field name"). Repeated fields stay
/// separate, so an application can see every `Cookie` or `Origin` line.
/// Values are bytes, as HTTP allows non-ASCII (obs-text) in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// An empty set of fields.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Appends a field; used when a head is parsed.
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) {
        self.fields.push((name.to_owned(), value.to_vec()));
    }

    /// Number of fields, counting repeats.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field as `(name, value)`, in order, names as received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The value of the first field called `name`, if it is UTF-8.
    ///
    /// `None` both when the field is absent and when its value is not UTF-8;
    /// use [`Headers::get`] to tell them apart.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Whether any field called `name` lists `token` (ASCII
    /// case-insensitive), as in `Connection: keep-alive, Upgrade`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(list_elements)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// The non-empty elements of a comma-separated list, optional whitespace
/// trimmed. RFC 7230 §7: "a recipient MUST accept empty list elements"
/// — they are skipped. Each byte is looked at a bounded number of times.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Strips optional whitespace (SP, HTAB) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// RFC 7230 §3.2.6 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7230 §3.2.6 `token = 1*tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Every element of every `Sec-WebSocket-Protocol` field, in order.
///
/// RFC 6455 §4.1: "The elements that comprise this value MUST be non-empty
/// strings with characters in the range U+0021 to U+007E not including
/// separator characters as defined in [RFC2616]" — i.e. tokens. `Err` when
/// one is not.
pub(crate) fn parse_protocols<'a>(
    values: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<String>, ()> {
    let mut out = Vec::new();
    for value in values {
        for element in list_elements(value) {
            if !is_token(element) {
                return Err(());
            }
            out.push(String::from_utf8_lossy(element).into_owned());
        }
    }
    Ok(out)
}

/// One extension offer or agreement from `Sec-WebSocket-Extensions`, such as
/// `permessage-deflate; client_max_window_bits`.
///
/// Kept parsed (name plus parameters) so an extension such as
/// permessage-deflate (RFC 7692) can be negotiated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    name: String,
    params: Vec<ExtensionParam>,
}

/// One `name[=value]` parameter of an [`Extension`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam {
    /// The parameter name, e.g. `client_max_window_bits`.
    pub name: String,
    /// The value, unquoted; `None` for a bare flag.
    pub value: Option<String>,
}

impl Extension {
    /// An extension with no parameters. Names and values must be tokens;
    /// that is checked when the extension is put in a request or response.
    pub fn new(name: impl Into<String>) -> Self {
        Extension {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter (builder style).
    pub fn param(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.params.push(ExtensionParam {
            name: name.into(),
            value: value.map(str::to_owned),
        });
        self
    }

    /// The extension token, e.g. `permessage-deflate`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[ExtensionParam] {
        &self.params
    }

    /// Whether the name and every parameter name and value are tokens, so
    /// the extension can be written into a header without quoting.
    pub(crate) fn is_valid(&self) -> bool {
        is_token(self.name.as_bytes())
            && self.params.iter().all(|p| {
                is_token(p.name.as_bytes())
                    && p.value.as_deref().is_none_or(|v| is_token(v.as_bytes()))
            })
    }
}

impl fmt::Display for Extension {
    /// The header form: `name; p1; p2=v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {}", p.name)?;
            if let Some(v) = &p.value {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Parses one `Sec-WebSocket-Extensions` value, appending to `out`.
///
/// RFC 6455 §9.1: "If a value is received by either the client or the server
/// during negotiation that does not conform to the ABNF below, the recipient
/// of such malformed data MUST immediately _Fail the WebSocket Connection_."
///
/// ```text
/// extension-list = 1#extension
/// extension = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
///
/// One forward pass over the bytes; empty list elements are skipped.
pub(crate) fn parse_extensions(value: &[u8], out: &mut Vec<Extension>) -> Result<(), ()> {
    let mut c = Cursor { s: value, i: 0 };
    loop {
        c.skip_ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.i += 1;
                continue;
            }
            Some(_) => {}
        }
        let mut ext = Extension::new(c.token()?);
        loop {
            c.skip_ows();
            match c.peek() {
                None => {
                    out.push(ext);
                    return Ok(());
                }
                Some(b',') => {
                    c.i += 1;
                    out.push(ext);
                    break;
                }
                Some(b';') => {
                    c.i += 1;
                    c.skip_ows();
                    let name = c.token()?;
                    c.skip_ows();
                    let value = if c.peek() == Some(b'=') {
                        c.i += 1;
                        c.skip_ows();
                        Some(if c.peek() == Some(b'"') {
                            c.quoted_token()?
                        } else {
                            c.token()?
                        })
                    } else {
                        None
                    };
                    ext.params.push(ExtensionParam { name, value });
                }
                Some(_) => return Err(()),
            }
        }
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Result<String, ()> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        let t = &self.s[start..self.i];
        if t.is_empty() {
            return Err(());
        }
        Ok(String::from_utf8_lossy(t).into_owned())
    }

    /// A quoted-string whose unescaped content is a token (RFC 6455 §9.1:
    /// "the value after quoted-string unescaping MUST conform to the 'token'
    /// ABNF").
    fn quoted_token(&mut self) -> Result<String, ()> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(()),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    out.push(self.peek().ok_or(())?);
                    self.i += 1;
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        if !is_token(&out) {
            return Err(());
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exts(v: &str) -> Result<Vec<Extension>, ()> {
        let mut out = Vec::new();
        parse_extensions(v.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn list_elements_skip_empty_and_trim() {
        let got: Vec<&[u8]> = list_elements(b" ,a ,\t b\t,, ,c").collect();
        assert_eq!(got, [&b"a"[..], b"b", b"c"]);
        assert_eq!(list_elements(b"").count(), 0);
        assert_eq!(list_elements(b" , ,, ").count(), 0);
    }

    #[test]
    fn tokens() {
        assert!(is_token(b"chat.example.com"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a/b"));
        assert!(!is_token("é".as_bytes()));
    }

    #[test]
    fn contains_token_case_insensitive_across_fields() {
        let mut h = Headers::new();
        h.push("connection", b"keep-alive");
        h.push("CONNECTION", b"foo, UPGRADE ");
        assert!(h.contains_token("Connection", "upgrade"));
        assert!(!h.contains_token("Connection", "close"));
        assert_eq!(h.count("connection"), 2);
        assert_eq!(h.get("Connection"), Some(&b"keep-alive"[..]));
    }

    #[test]
    fn protocols() {
        let v: [&[u8]; 2] = [b"chat, superchat", b" v2.x ,"];
        assert_eq!(
            parse_protocols(v.into_iter()),
            Ok(vec!["chat".into(), "superchat".into(), "v2.x".into()])
        );
        assert_eq!(parse_protocols([&b"a b"[..]].into_iter()), Err(()));
        assert_eq!(parse_protocols([&b"a;b"[..]].into_iter()), Err(()));
    }

    #[test]
    fn extensions_parse_and_display() {
        let got =
            exts("permessage-deflate; client_max_window_bits, foo;a=1 ; b = \"2\", bar").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name(), "permessage-deflate");
        assert_eq!(got[0].params()[0].name, "client_max_window_bits");
        assert_eq!(got[0].params()[0].value, None);
        assert_eq!(got[1].to_string(), "foo; a=1; b=2");
        assert_eq!(got[2], Extension::new("bar"));
        assert_eq!(exts(" , ,").unwrap(), vec![]);
        assert_eq!(
            exts("x; q=\"a\\bc\"").unwrap()[0].params()[0]
                .value
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn extensions_reject_malformed() {
        for bad in [
            ";a",
            "a;",
            "a; =1",
            "a; b=",
            "a b",
            "a; b=\"x y\"",
            "a; b=\"\"",
            "a; b=\"x",
            "a; b=\"x\\",
            "a=1",
            "a; b=1 2",
        ] {
            assert_eq!(exts(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn long_lists_are_linear() {
        let v = " ,".repeat(32 << 10);
        assert_eq!(list_elements(v.as_bytes()).count(), 0);
        assert_eq!(exts(&v), Ok(vec![]));
        let many = "a,".repeat(32 << 10);
        assert_eq!(exts(&many).unwrap().len(), 32 << 10);
    }
}
