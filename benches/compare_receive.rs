//! Receiving, side by side on the same bytes in the same process: wsproto
//! (the sans-IO core, and the blocking adapter), tungstenite 0.30 and
//! fastwebsockets 0.10, each as a server reading client frames (masked)
//! from an in-memory stream and handing out messages (the receivers are in
//! `support/receive.rs`).
//!
//! - `small`: one million 16-byte text frames (each message's `&str` is
//!   looked at, so UTF-8 validation counts wherever a crate does it).
//! - `large`: 100 binary frames of 1 MiB.
//!
//! `cargo bench -p wsproto-benches --bench compare` runs the same receivers in interleaved
//! rounds, for ratios that a noisy machine disturbs less.

mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use support::receive::{RECEIVERS, cases};

fn bench(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(format!("receive_{}", case.name));
        group.sample_size(20);
        group.throughput(if case.size < 1024 {
            Throughput::Elements(case.messages as u64)
        } else {
            Throughput::Bytes((case.messages * case.size) as u64)
        });
        for (crate_name, receive) in RECEIVERS {
            // Each one must see every message before it is timed.
            assert_eq!(
                receive(&case.input),
                (case.messages, case.messages * case.size),
                "{crate_name}"
            );
            group.bench_with_input(
                BenchmarkId::from_parameter(crate_name),
                &case.input,
                |b, input| b.iter(|| receive(input)),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
