//! Sending, side by side in the same process: wsproto (the sans-IO core
//! and the blocking adapter), tungstenite 0.30 and fastwebsockets 0.10,
//! each framing binary messages (masked in the client role) and writing
//! them into the same in-memory stream (the senders, and the payload form
//! each is given, are in `support/send.rs`).
//!
//! `cargo bench -p wsproto-benches --bench compare` runs the same senders in interleaved
//! rounds, for ratios that a noisy machine disturbs less.

mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use support::send::{SENDERS, cases};

fn bench(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(format!("send_{}", case.name));
        group.sample_size(20);
        let size = case.payload.len();
        group.throughput(if size < 1024 {
            Throughput::Elements(case.messages as u64)
        } else {
            Throughput::Bytes((size * case.messages) as u64)
        });
        for (crate_name, send) in SENDERS {
            // Each one must write every frame, whole, before it is timed.
            assert_eq!(
                send(case.role, &case.payload, case.messages),
                case.wire_len(),
                "{crate_name}"
            );
            group.bench_function(BenchmarkId::from_parameter(crate_name), |b| {
                b.iter(|| send(case.role, &case.payload, case.messages))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
