//! In-place unmask throughput, beside `copy_from_slice` of the same size and
//! `fastwebsockets::unmask` (the algorithm tungstenite also uses), aligned
//! and starting 3 bytes off alignment.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const SIZES: [(usize, &str); 6] = [
    (16, "16B"),
    (125, "125B"),
    (1 << 10, "1KiB"),
    (16 << 10, "16KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Storage aligned to 64 bytes, so `offset` 0 is aligned and 3 is not.
#[repr(C, align(64))]
struct Block([u8; 64]);

fn aligned_buffer(len: usize) -> Vec<Block> {
    (0..len.div_ceil(64) + 1)
        .map(|_| Block([0x5a; 64]))
        .collect()
}

fn as_bytes(blocks: &mut [Block]) -> &mut [u8] {
    let len = blocks.len() * 64;
    // Safe view: `Block` is `repr(C)` around a byte array with no padding.
    let (_, bytes, _) = unsafe { blocks.align_to_mut::<u8>() };
    &mut bytes[..len]
}

fn bench(c: &mut Criterion) {
    for (offset, label) in [(0, "aligned"), (3, "offset3")] {
        let mut group = c.benchmark_group(format!("unmask/{label}"));
        for (len, size) in SIZES {
            group.throughput(Throughput::Bytes(len as u64));
            let mut blocks = aligned_buffer(len);
            let source = vec![0xa5u8; len];
            group.bench_function(BenchmarkId::new("wsproto", size), |b| {
                let buf = &mut as_bytes(&mut blocks)[offset..offset + len];
                b.iter(|| wsproto::frame::apply_mask(black_box(&mut *buf), black_box(KEY)))
            });
            group.bench_function(BenchmarkId::new("portable", size), |b| {
                let buf = &mut as_bytes(&mut blocks)[offset..offset + len];
                b.iter(|| {
                    wsproto::__private::apply_mask_portable(black_box(&mut *buf), black_box(KEY), 0)
                })
            });
            group.bench_function(BenchmarkId::new("fastwebsockets", size), |b| {
                let buf = &mut as_bytes(&mut blocks)[offset..offset + len];
                b.iter(|| fastwebsockets::unmask(black_box(&mut *buf), black_box(KEY)))
            });
            group.bench_function(BenchmarkId::new("copy_from_slice", size), |b| {
                let buf = &mut as_bytes(&mut blocks)[offset..offset + len];
                b.iter(|| black_box(&mut *buf).copy_from_slice(black_box(&source)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
