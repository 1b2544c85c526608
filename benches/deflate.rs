//! permessage-deflate: the cost per message of compressing (server sends)
//! and inflating (client receives) a JSON-like message, against the same
//! message uncompressed, at three sizes; the compression ratio is printed.
//!
//! Run with `cargo bench -p wsproto-benches --bench deflate`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wsproto::deflate::DeflateParams;
use wsproto::{Config, Connection, Message, Role, Transmit};

/// A JSON array of objects as an API would send: repeated keys, varied
/// values. Deterministic.
fn json(len: usize) -> String {
    let mut out = String::from("[");
    let mut i = 0u64;
    while out.len() < len {
        let x = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"score\":{}.{},\"active\":{},\"tags\":[\"t{}\",\"t{}\"]}},",
            x % 1000,
            x % 100_000,
            (x >> 20) % 100,
            x.is_multiple_of(3),
            (x >> 8) % 16,
            (x >> 12) % 16,
        ));
        i += 1;
    }
    out.truncate(len - 1);
    out.push(']');
    out
}

fn conn(role: Role, deflate: bool) -> Connection {
    let mut conn = Connection::new(role, Config::default());
    if deflate {
        conn.set_deflate(DeflateParams::default());
    }
    conn
}

fn wire(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(Transmit::Data(bytes)) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    for size in [256usize, 4 << 10, 64 << 10] {
        let text = json(size);
        group.throughput(Throughput::Bytes(size as u64));
        for deflate in [false, true] {
            let mode = if deflate { "deflate" } else { "plain" };
            let mut server = conn(Role::Server, deflate);
            server.send_text(text.as_str()).unwrap();
            let one = wire(&mut server);
            if deflate {
                eprintln!(
                    "{size} B JSON: {} B on the wire with deflate (ratio {:.3})",
                    one.len(),
                    one.len() as f64 / size as f64
                );
            }
            group.bench_function(BenchmarkId::new(format!("send_{mode}"), size), |b| {
                b.iter(|| {
                    server.send_text(black_box(text.as_str())).unwrap();
                    wire(&mut server).len()
                })
            });
            // The receiver sees the same message over and over; with context
            // takeover each copy refers back to the last, so record a real
            // stream of distinct sends.
            let mut sender = conn(Role::Server, deflate);
            let mut client = conn(Role::Client, deflate);
            group.bench_function(BenchmarkId::new(format!("receive_{mode}"), size), |b| {
                b.iter_batched(
                    || {
                        sender.send_text(text.as_str()).unwrap();
                        wire(&mut sender)
                    },
                    |frame| {
                        client.receive_data(&frame).unwrap();
                        match client.poll_event() {
                            Some(Message::Text(t)) => t.len(),
                            _ => unreachable!(),
                        }
                    },
                    criterion::BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
