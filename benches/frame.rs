//! Frame header decode and encode, per frame, for each length form.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};

fn bench(c: &mut Criterion) {
    let forms = [("7bit", 5u64), ("16bit", 1000), ("64bit", 1 << 20)];
    let mut group = c.benchmark_group("header");
    for (form, len) in forms {
        let mut header = FrameHeader::new(OpCode::Binary, len);
        header.mask = Some([0x37, 0xfa, 0x21, 0x3d]);
        let mut bytes = [0; MAX_HEADER_LEN];
        let used = header.encode(&mut bytes);
        group.bench_function(BenchmarkId::new("decode_masked", form), |b| {
            b.iter(|| FrameHeader::decode(black_box(&bytes[..used])))
        });
        group.bench_function(BenchmarkId::new("encode_masked", form), |b| {
            let mut out = [0; MAX_HEADER_LEN];
            b.iter(|| black_box(black_box(&header).encode(&mut out)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
