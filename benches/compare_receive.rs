//! Receiving, side by side on the same bytes in the same process: wsproto
//! (the sans-IO core, and the blocking adapter), tungstenite 0.30 and
//! fastwebsockets 0.10, each as a server reading client frames (masked)
//! from an in-memory stream and handing out messages.
//!
//! - `small`: one million 16-byte text frames (each message's `&str` is
//!   looked at, so UTF-8 validation counts wherever a crate does it).
//! - `large`: 100 binary frames of 1 MiB.
//!
//! Every crate reads in pieces of at most 128 KiB, tungstenite's default
//! read buffer.

mod support;

use std::hint::black_box;
use std::io::Read;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use support::{MemStream, SMALL_TEXT, block_on, masked_frames};
use wsproto::frame::OpCode;
use wsproto::{Config, Connection, Event, Role};

const READ_SIZE: usize = 128 << 10;

/// Messages and payload bytes seen, checked after each run.
type Seen = (usize, usize);

/// The sans-IO core fed the input in slices, as a program that already
/// holds the bytes (an async runtime's buffer, a test) feeds it.
fn wsproto_core(input: &[u8]) -> Seen {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut seen = (0, 0);
    for piece in input.chunks(READ_SIZE) {
        conn.receive_data(piece).expect("valid input");
        while let Some(event) = conn.poll_event() {
            let len = match event {
                Event::Text(text) => black_box(text.as_str()).len(),
                Event::Binary(data) => black_box(&data[..]).len(),
                other => panic!("unexpected {other:?}"),
            };
            seen = (seen.0 + 1, seen.1 + len);
        }
    }
    seen
}

/// The core reading from a stream into its own buffer
/// (`receive_buffer`), as the blocking adapter does.
fn wsproto_core_read(input: &[u8]) -> Seen {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut stream = MemStream::new(input);
    let mut seen = (0, 0);
    loop {
        let n = stream.read(conn.receive_buffer(READ_SIZE)).expect("memory");
        conn.receive_commit(n).expect("valid input");
        while let Some(event) = conn.poll_event() {
            let len = match event {
                Event::Text(text) => black_box(text.as_str()).len(),
                Event::Binary(data) => black_box(&data[..]).len(),
                other => panic!("unexpected {other:?}"),
            };
            seen = (seen.0 + 1, seen.1 + len);
        }
        if n == 0 {
            return seen;
        }
    }
}

fn wsproto_blocking(input: &[u8]) -> Seen {
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

fn tungstenite(input: &[u8]) -> Seen {
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

fn fastwebsockets(input: &[u8]) -> Seen {
    use fastwebsockets::{OpCode, Role, WebSocket};
    block_on(async {
        let mut ws = WebSocket::after_handshake(MemStream::new(input), Role::Server);
        let mut seen = (0, 0);
        loop {
            let len = match ws.read_frame().await {
                Ok(frame) if frame.opcode == OpCode::Text => {
                    black_box(std::str::from_utf8(&frame.payload).expect("checked")).len()
                }
                Ok(frame) => black_box(&frame.payload[..]).len(),
                Err(_) => return seen, // end of input
            };
            seen = (seen.0 + 1, seen.1 + len);
        }
    })
}

type Receiver = fn(&[u8]) -> Seen;

const RECEIVERS: [(&str, Receiver); 5] = [
    ("wsproto", wsproto_core),
    ("wsproto_read", wsproto_core_read),
    ("wsproto_blocking", wsproto_blocking),
    ("tungstenite", tungstenite),
    ("fastwebsockets", fastwebsockets),
];

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "small",
            masked_frames(OpCode::Text, SMALL_TEXT, 1_000_000),
            1_000_000,
            16,
        ),
        (
            "large",
            masked_frames(OpCode::Binary, &vec![0xa5; 1 << 20], 100),
            100,
            1 << 20,
        ),
    ];
    for (name, input, count, size) in &cases {
        let mut group = c.benchmark_group(format!("receive_{name}"));
        group.sample_size(20);
        group.throughput(if *size < 1024 {
            Throughput::Elements(*count as u64)
        } else {
            Throughput::Bytes((*count * *size) as u64)
        });
        for (crate_name, receive) in RECEIVERS {
            // Each one must see every message before it is timed.
            assert_eq!(receive(input), (*count, count * size), "{crate_name}");
            group.bench_with_input(
                BenchmarkId::from_parameter(crate_name),
                input,
                |b, input| b.iter(|| receive(input)),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
