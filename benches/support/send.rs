//! The senders compared by `compare_send` (criterion) and `compare`
//! (interleaved rounds): each frames binary messages (masked in the client
//! role) and writes them, one message per write-and-flush, into the same
//! in-memory stream (which copies what it is given, as a socket's send
//! buffer does).
//!
//! Each crate gets the payload in its cheapest form for a caller that holds
//! it: tungstenite (which takes ownership) a clone of a shared `Bytes`,
//! fastwebsockets a borrowed slice, wsproto a borrowed `&[u8]` up to 1 KiB
//! (copied next to the header without touching a reference count) and the
//! shared `Bytes` above (queued without a copy by a server, copied and
//! masked in one pass by a client), as its `BinaryPayload` docs advise.

use std::io::IoSlice;

use bytes::Bytes;

use super::{MemStream, block_on};
use wsproto::{Config, Connection, Role};

/// One send case: its name, role, payload and messages per run.
pub struct Case {
    pub name: String,
    pub role: Role,
    pub payload: Bytes,
    pub messages: usize,
}

impl Case {
    /// The bytes every sender must write: each message whole, header and
    /// payload.
    pub fn wire_len(&self) -> usize {
        let size = self.payload.len();
        let header = match (size, self.role) {
            (0..=125, Role::Client) => 6,
            (0..=125, _) => 2,
            (126..=65535, Role::Client) => 8,
            (126..=65535, _) => 4,
            (_, Role::Client) => 14,
            _ => 10,
        };
        (header + size) * self.messages
    }
}

/// Small (16 B, 10,000 per run) and 64 KiB (200 per run) messages, client
/// and server.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, size, messages) in [("small", 16usize, 10_000usize), ("64KiB", 64 << 10, 200)] {
        let payload = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
        for (role, role_name) in [(Role::Client, "client"), (Role::Server, "server")] {
            cases.push(Case {
                name: format!("{name}_{role_name}"),
                role,
                payload: payload.clone(),
                messages,
            });
        }
    }
    cases
}

pub type Sender = fn(Role, &Bytes, usize) -> usize;

fn send_wsproto(conn: &mut Connection, payload: &Bytes) {
    if payload.len() <= 1024 {
        conn.send_binary(&payload[..]).expect("open");
    } else {
        conn.send_binary(payload.clone()).expect("open");
    }
}

/// The core: queue one message, write what it hands out, repeat.
pub fn wsproto_core(role: Role, payload: &Bytes, count: usize) -> usize {
    use std::io::Write;
    let mut conn = Connection::new(role, Config::default());
    let mut stream = MemStream::new(&[]);
    for _ in 0..count {
        send_wsproto(&mut conn, payload);
        loop {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = conn.transmit_slices(&mut slices);
            if n == 0 {
                break;
            }
            let written = stream.write_vectored(&slices[..n]).expect("memory");
            conn.advance_transmit(written);
        }
    }
    stream.written
}

pub fn wsproto_blocking(role: Role, payload: &Bytes, count: usize) -> usize {
    let stream = MemStream::new(&[]);
    let mut ws = wsproto::blocking::WebSocket::from_stream(stream, role, Config::default(), &[]);
    for _ in 0..count {
        if payload.len() <= 1024 {
            ws.send_binary(&payload[..]).expect("open");
        } else {
            ws.send_binary(payload.clone()).expect("open");
        }
    }
    ws.get_ref().written
}

pub fn tungstenite(role: Role, payload: &Bytes, count: usize) -> usize {
    use tungstenite::protocol::{Message, Role as R, WebSocket};
    let role = if role == Role::Client {
        R::Client
    } else {
        R::Server
    };
    let mut ws = WebSocket::from_raw_socket(MemStream::new(&[]), role, None);
    for _ in 0..count {
        ws.send(Message::Binary(payload.clone())).expect("open");
    }
    ws.get_ref().written
}

pub fn fastwebsockets(role: Role, payload: &Bytes, count: usize) -> usize {
    use fastwebsockets::{Frame, Payload, Role as R, WebSocket};
    let role = if role == Role::Client {
        R::Client
    } else {
        R::Server
    };
    block_on(async {
        let mut ws = WebSocket::after_handshake(MemStream::new(&[]), role);
        for _ in 0..count {
            let frame = Frame::binary(Payload::Borrowed(&payload[..]));
            ws.write_frame(frame).await.expect("open");
        }
        ws.into_inner().written
    })
}

pub const SENDERS: [(&str, Sender); 4] = [
    ("wsproto", wsproto_core),
    ("wsproto_blocking", wsproto_blocking),
    ("tungstenite", tungstenite),
    ("fastwebsockets", fastwebsockets),
];
