//! Sending, side by side in the same process: wsproto (the sans-IO core
//! and the blocking adapter), tungstenite 0.30 and fastwebsockets 0.10,
//! each framing binary messages (masked in the client role) and writing
//! them, one message per write-and-flush, into the same in-memory stream
//! (which copies what it is given, as a socket's send buffer does).
//!
//! Each crate gets the payload in its cheapest form for a caller that holds
//! it: tungstenite (which takes ownership) a clone of a shared `Bytes`,
//! fastwebsockets a borrowed slice, wsproto a borrowed `&[u8]` up to 1 KiB
//! (copied next to the header without touching a reference count) and the
//! shared `Bytes` above (queued without a copy by a server, copied and
//! masked in one pass by a client), as its `BinaryPayload` docs advise.

mod support;

use std::io::IoSlice;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use support::{MemStream, block_on};
use wsproto::{Config, Connection, Role};

type Sender = fn(Role, &Bytes, usize) -> usize;

fn send_wsproto(conn: &mut Connection, payload: &Bytes) {
    if payload.len() <= 1024 {
        conn.send_binary(&payload[..]).expect("open");
    } else {
        conn.send_binary(payload.clone()).expect("open");
    }
}

/// The core: queue one message, write what it hands out, repeat.
fn wsproto_core(role: Role, payload: &Bytes, count: usize) -> usize {
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

fn wsproto_blocking(role: Role, payload: &Bytes, count: usize) -> usize {
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

fn tungstenite(role: Role, payload: &Bytes, count: usize) -> usize {
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

fn fastwebsockets(role: Role, payload: &Bytes, count: usize) -> usize {
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

const SENDERS: [(&str, Sender); 4] = [
    ("wsproto", wsproto_core),
    ("wsproto_blocking", wsproto_blocking),
    ("tungstenite", tungstenite),
    ("fastwebsockets", fastwebsockets),
];

fn bench(c: &mut Criterion) {
    // (name, payload size, messages per iteration)
    let cases = [("small", 16usize, 10_000usize), ("64KiB", 64 << 10, 200)];
    for (name, size, count) in cases {
        let payload = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
        for role in [Role::Client, Role::Server] {
            let role_name = if role == Role::Client {
                "client"
            } else {
                "server"
            };
            let mut group = c.benchmark_group(format!("send_{name}_{role_name}"));
            group.sample_size(20);
            group.throughput(if size < 1024 {
                Throughput::Elements(count as u64)
            } else {
                Throughput::Bytes((size * count) as u64)
            });
            let header = match (size, role) {
                (16, Role::Client) => 6,
                (16, _) => 2,
                // 65536 needs the 64-bit length form.
                (_, Role::Client) => 14,
                _ => 10,
            };
            for (crate_name, send) in SENDERS {
                // Each one must write every frame, whole, before it is timed.
                assert_eq!(
                    send(role, &payload, count),
                    (header + size) * count,
                    "{crate_name}"
                );
                group.bench_function(BenchmarkId::from_parameter(crate_name), |b| {
                    b.iter(|| send(role, &payload, count))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
