//! The receivers compared by `compare_receive` (criterion) and `compare`
//! (interleaved rounds): each reads client frames (masked) as a server
//! from an in-memory stream and hands out messages, looking at each one's
//! `&str` (or bytes), so UTF-8 validation counts wherever a crate does it.
//! Every crate reads in pieces of at most 128 KiB, tungstenite's default
//! read buffer.

use std::hint::black_box;
use std::io::Read;

use super::{MemStream, SMALL_TEXT, block_on, masked_frames};
use wsproto::frame::OpCode;
use wsproto::{Config, Connection, Message, Role};

/// One receive case: its name, its input, and the messages and payload
/// bytes every receiver must report.
pub struct Case {
    pub name: &'static str,
    pub input: Vec<u8>,
    pub messages: usize,
    pub size: usize,
}

/// The cases: one million 16-byte text frames, 100 binary frames of 1 MiB,
/// and 200 text frames of 64 KiB of mixed UTF-8 (where validation is most
/// of the work).
pub fn cases() -> [Case; 3] {
    let text = mixed_text(64 << 10);
    [
        Case {
            name: "small",
            input: masked_frames(OpCode::Text, SMALL_TEXT, 1_000_000),
            messages: 1_000_000,
            size: 16,
        },
        Case {
            name: "large",
            input: masked_frames(OpCode::Binary, &vec![0xa5; 1 << 20], 100),
            messages: 100,
            size: 1 << 20,
        },
        Case {
            name: "text",
            input: masked_frames(OpCode::Text, text.as_bytes(), 200),
            messages: 200,
            size: text.len(),
        },
    ]
}

/// `len` bytes of text in several scripts: ASCII with 2-, 3- and 4-byte
/// code points every few words, as chat messages in most languages are.
pub fn mixed_text(len: usize) -> String {
    const WORDS: [&str; 6] = ["hello ", "κόσμε ", "日本語 ", "😀 ", "world, ", "ünïcødé "];
    let mut text = String::with_capacity(len + 16);
    for word in WORDS.iter().cycle() {
        if text.len() + word.len() > len {
            break;
        }
        text.push_str(word);
    }
    while text.len() < len {
        text.push('.');
    }
    text
}

pub const READ_SIZE: usize = 128 << 10;

/// Messages and payload bytes seen, checked after each run.
pub type Seen = (usize, usize);

/// The sans-IO core fed the input in slices, as a program that already
/// holds the bytes (an async runtime's buffer, a test) feeds it.
pub fn wsproto_core(input: &[u8]) -> Seen {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut seen = (0, 0);
    for piece in input.chunks(READ_SIZE) {
        conn.receive_data(piece).expect("valid input");
        count_events(&mut conn, &mut seen);
    }
    seen
}

/// The core reading from a stream into its own buffer
/// (`receive_buffer`), as the blocking adapter does.
pub fn wsproto_core_read(input: &[u8]) -> Seen {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut stream = MemStream::new(input);
    let mut seen = (0, 0);
    loop {
        let n = stream.read(conn.receive_buffer(READ_SIZE)).expect("memory");
        conn.receive_commit(n).expect("valid input");
        count_events(&mut conn, &mut seen);
        if n == 0 {
            return seen;
        }
    }
}

/// Takes every event out of `conn`, counting messages and payload bytes.
fn count_events(conn: &mut Connection, seen: &mut Seen) {
    while let Some(event) = conn.poll_event() {
        let len = match event {
            Message::Text(text) => black_box(text.as_str()).len(),
            Message::Binary(data) => black_box(&data[..]).len(),
            other => panic!("unexpected {other:?}"),
        };
        *seen = (seen.0 + 1, seen.1 + len);
    }
}

/// The core reading into the spare capacity of its buffer without
/// zero-filling it first (`receive_buf_mut`), as an async reader does.
pub fn wsproto_core_read_buf(input: &[u8]) -> Seen {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut stream = MemStream::new(input);
    let mut seen = (0, 0);
    loop {
        let n = stream.read_buf(&mut conn.receive_buf_mut(READ_SIZE));
        conn.receive_commit(n).expect("valid input");
        count_events(&mut conn, &mut seen);
        if n == 0 {
            return seen;
        }
    }
}

pub fn wsproto_blocking(input: &[u8]) -> Seen {
    use wsproto::blocking::{Message, WebSocket};
    let stream = MemStream::new(input);
    let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default(), &[]);
    let mut seen = (0, 0);
    loop {
        let len = match ws.read() {
            Ok(Message::Text(text)) => black_box(text.as_str()).len(),
            Ok(Message::Binary(data)) => black_box(&data[..]).len(),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => return seen, // end of input
        };
        seen = (seen.0 + 1, seen.1 + len);
    }
}

pub fn tungstenite(input: &[u8]) -> Seen {
    use tungstenite::protocol::{Message, Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(MemStream::new(input), Role::Server, None);
    let mut seen = (0, 0);
    loop {
        let len = match ws.read() {
            Ok(Message::Text(text)) => black_box(text.as_str()).len(),
            Ok(Message::Binary(data)) => black_box(&data[..]).len(),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => return seen, // end of input
        };
        seen = (seen.0 + 1, seen.1 + len);
    }
}

pub fn fastwebsockets(input: &[u8]) -> Seen {
    use fastwebsockets::{OpCode, Role, WebSocket};
    block_on(async {
        let mut ws = WebSocket::after_handshake(MemStream::new(input), Role::Server);
        let mut seen = (0, 0);
        loop {
            let len = match ws.read_frame().await {
                Ok(frame) if frame.opcode == OpCode::Text => {
                    // Checked as its `FragmentCollector` checks text.
                    black_box(simdutf8::basic::from_utf8(&frame.payload).expect("valid")).len()
                }
                Ok(frame) => black_box(&frame.payload[..]).len(),
                Err(_) => return seen, // end of input
            };
            seen = (seen.0 + 1, seen.1 + len);
        }
    })
}

pub type Receiver = fn(&[u8]) -> Seen;

pub const RECEIVERS: [(&str, Receiver); 6] = [
    ("wsproto", wsproto_core),
    ("wsproto_read", wsproto_core_read),
    ("wsproto_read_buf", wsproto_core_read_buf),
    ("wsproto_blocking", wsproto_blocking),
    ("tungstenite", tungstenite),
    ("fastwebsockets", fastwebsockets),
];
