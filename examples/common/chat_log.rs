//! The chat's wire protocol and its in-memory history, shared by
//! `chat_server` and `axum_chat` (and, with `--redis`, the protocol by
//! `axum_chat/redis.rs`, whose history is a Redis stream). The protocol
//! is written down in the README's chat section.
//!
//! Server to client, JSON text:
//!
//! ```text
//! {"id":"1733440000000-0","from":"alice","text":"hi"}   a post, with its id in the room's log
//! {"notice":"bob joined"}                               join, leave, online count
//! {"notice":"you are alice","name":"alice","last":ID}   first; the posts come after ID
//! {"ack":"c1","id":"1733440000000-0"}                    to the sender of a post with a cid
//! {"gap":true}                                          `since` is older than the history kept
//! ```
//!
//! Client to server, text: `{"cid":"C","text":"T"}` (an idempotent post:
//! one (name, cid) is stored once while it is remembered, and
//! acknowledged each time it arrives), `{"text":"T"}`, or anything else,
//! which is a post of the whole message as it is (malformed JSON
//! included: never an error).
//!
//! No dependency: the few JSON shapes above are written and read here
//! (the plain examples build with wsproto alone).

// Each binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A position in a room's log: Redis stream ids, `MS-SEQ`, compared as
/// the pair (milliseconds, sequence), never as strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// `MS-SEQ` or `MS` (sequence 0), decimal digits only.
    pub fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        let digits =
            |d: &str| !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The longest `cid` taken as one (a longer one makes the message a
/// plain post).
pub const MAX_CID: usize = 64;

/// What a client's text message asks for: a post of `text`, idempotent
/// when it has a `cid`.
#[derive(Debug, PartialEq, Eq)]
pub struct Incoming {
    pub cid: Option<String>,
    pub text: String,
}

impl Incoming {
    /// `{"cid":C,"text":T}` or `{"text":T}`; anything else is a plain post
    /// of the whole message.
    pub fn parse(message: &str) -> Incoming {
        let plain = || Incoming {
            cid: None,
            text: message.to_owned(),
        };
        if !message.trim_start().starts_with('{') {
            return plain();
        }
        let Some(fields) = parse_object(message) else {
            return plain();
        };
        let (mut cid, mut text) = (None, None);
        for (key, value) in fields {
            match key.as_str() {
                "cid" if (1..=MAX_CID).contains(&value.len()) => cid = Some(value),
                "text" => text = Some(value),
                _ => return plain(),
            }
        }
        match text {
            Some(text) => Incoming { cid, text },
            None => plain(),
        }
    }
}

/// `{"id":..,"from":..,"text":..}`
pub fn post_frame(id: StreamId, from: &str, text: &str) -> String {
    format!(
        "{{\"id\":\"{id}\",\"from\":{},\"text\":{}}}",
        quote(from),
        quote(text)
    )
}

/// `{"notice":..}`
pub fn notice_frame(text: &str) -> String {
    format!("{{\"notice\":{}}}", quote(text))
}

/// `{"notice":"you are NAME","name":NAME,"last":ID}`: the first frame of
/// a socket; `last` (when known) is the id after which its posts come:
/// a client that has no post yet resumes from it.
pub fn welcome_frame(name: &str, last: Option<StreamId>) -> String {
    let last = last.map_or(String::new(), |id| format!(",\"last\":\"{id}\""));
    format!(
        "{{\"notice\":{},\"name\":{}{last}}}",
        quote(&format!("you are {name}")),
        quote(name)
    )
}

/// `{"ack":CID,"id":..}`
pub fn ack_frame(cid: &str, id: StreamId) -> String {
    format!("{{\"ack\":{},\"id\":\"{id}\"}}", quote(cid))
}

/// `{"gap":true}`
pub const GAP_FRAME: &str = "{\"gap\":true}";

/// A JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object whose values are all strings, as (key, value) pairs;
/// `None` for anything else.
pub fn parse_object(s: &str) -> Option<Vec<(String, String)>> {
    let mut p = Parser(s.trim().chars().peekable());
    p.expect('{')?;
    let mut fields = Vec::new();
    p.ws();
    if p.0.peek() == Some(&'}') {
        p.0.next();
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(':')?;
            p.ws();
            let value = p.string()?;
            fields.push((key, value));
            p.ws();
            match p.0.next()? {
                ',' => continue,
                '}' => break,
                _ => return None,
            }
        }
    }
    p.ws();
    p.0.next().is_none().then_some(fields)
}

struct Parser<'a>(std::iter::Peekable<std::str::Chars<'a>>);

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .0
            .next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.0.next_if_eq(&c).map(|_| ())
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut n = 0;
        for _ in 0..4 {
            n = n * 16 + self.0.next()?.to_digit(16)?;
        }
        Some(n)
    }

    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.0.next()? {
                '"' => return Some(out),
                '\\' => match self.0.next()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let mut code = self.hex4()?;
                        if (0xd800..0xdc00).contains(&code) {
                            self.expect('\\')?;
                            self.expect('u')?;
                            let low = self.hex4()?;
                            if !(0xdc00..0xe000).contains(&low) {
                                return None;
                            }
                            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                        }
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                },
                c if (c as u32) < 0x20 => return None,
                c => out.push(c),
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// How much history a room keeps: at most `max_len` posts, none older
/// than `retention`. A `cid` is remembered as long as its post is kept
/// (in memory) or for `retention` (in Redis).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub max_len: usize,
    pub retention: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            max_len: 10_000,
            retention: Duration::from_secs(3600),
        }
    }
}

/// Takes `FLAG VALUE` out of `args`: the value, or `None` without the flag.
pub fn take_flag(args: &mut Vec<String>, flag: &str) -> Result<Option<String>, String> {
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    if i + 1 >= args.len() {
        return Err(format!("{flag} needs a value"));
    }
    let value = args.remove(i + 1);
    args.remove(i);
    Ok(Some(value))
}

impl Retention {
    /// Takes `--history N` and `--retention SECS` out of `args`.
    pub fn take(args: &mut Vec<String>) -> Result<Retention, String> {
        let mut retention = Retention::default();
        let mut take = |flag: &str| take_flag(args, flag);
        if let Some(n) = take("--history")? {
            retention.max_len = n
                .parse::<usize>()
                .map_err(|e| format!("--history: {e}"))?
                .max(1);
        }
        if let Some(secs) = take("--retention")? {
            let secs = secs
                .parse::<f64>()
                .map_err(|e| format!("--retention: {e}"))?;
            retention.retention = Duration::from_secs_f64(secs.max(0.001));
        }
        Ok(retention)
    }
}

/// One stored post.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: StreamId,
    pub from: String,
    pub text: String,
    cid: Option<String>,
}

/// A room's history on one server: the same log as a Redis stream, as a
/// bounded ring.
#[derive(Debug, Default)]
pub struct MemoryLog {
    entries: VecDeque<Entry>,
    retention: Retention,
    /// (name, cid) -> the id of its post, while the post is kept.
    cids: HashMap<(String, String), StreamId>,
    /// The id of the last post ever added.
    last: StreamId,
    /// The greatest id trimmed away (Redis's `max-deleted-entry-id`).
    max_deleted: StreamId,
}

impl MemoryLog {
    pub fn new(retention: Retention) -> MemoryLog {
        MemoryLog {
            retention,
            ..MemoryLog::default()
        }
    }

    /// Stores a post, or finds the one stored before with this (from,
    /// cid): its id, and whether it is new.
    pub fn append(&mut self, from: &str, cid: Option<&str>, text: &str) -> (StreamId, bool) {
        let now = now_ms();
        self.trim(now);
        if let Some(cid) = cid {
            if let Some(&id) = self.cids.get(&(from.to_owned(), cid.to_owned())) {
                return (id, false);
            }
        }
        let id = if now > self.last.ms {
            StreamId { ms: now, seq: 0 }
        } else {
            StreamId {
                ms: self.last.ms,
                seq: self.last.seq + 1,
            }
        };
        self.last = id;
        if let Some(cid) = cid {
            self.cids.insert((from.to_owned(), cid.to_owned()), id);
        }
        self.entries.push_back(Entry {
            id,
            from: from.to_owned(),
            text: text.to_owned(),
            cid: cid.map(str::to_owned),
        });
        self.trim(now);
        (id, true)
    }

    fn trim(&mut self, now: u64) {
        let oldest = now.saturating_sub(self.retention.retention.as_millis() as u64);
        while let Some(first) = self.entries.front() {
            if self.entries.len() <= self.retention.max_len && first.id.ms >= oldest {
                break;
            }
            let first = self.entries.pop_front().unwrap();
            self.max_deleted = first.id;
            if let Some(cid) = first.cid {
                self.cids.remove(&(first.from, cid));
            }
        }
    }

    /// The id of the last post added (`0-0` for none).
    pub fn last(&self) -> StreamId {
        self.last
    }

    /// The posts after `since`, in order, and whether some of them are no
    /// longer kept (or `since` is from a history this log never had: a
    /// server restarted without its history).
    pub fn since(&mut self, since: StreamId) -> (bool, impl Iterator<Item = &Entry>) {
        self.trim(now_ms());
        let gap = self.max_deleted > since || since > self.last;
        let start = self.entries.partition_point(|e| e.id <= since);
        (gap, self.entries.range(start..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming() {
        assert_eq!(
            Incoming::parse(r#"{"cid":"a1","text":"hi \"x\" \u00e9"}"#),
            Incoming {
                cid: Some("a1".into()),
                text: "hi \"x\" é".into()
            }
        );
        for plain in [
            "{\"cid\":1,\"text\":\"x\"}",
            "{bad",
            "hello",
            "{\"cid\":\"x\"}",
        ] {
            assert_eq!(Incoming::parse(plain).text, plain);
        }
    }
}
