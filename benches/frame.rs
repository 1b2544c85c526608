//! Frame header decode and encode, per header, for each length form.
//!
//! Each iteration walks 64 headers laid back to back, as a receiver walks a
//! buffer, so the figure is the cost per header and not the harness's cost
//! of passing a result out of the closure.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wsproto::Parsed;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};

const HEADERS: usize = 64;

fn bench(c: &mut Criterion) {
    let forms = [("7bit", 5u64), ("16bit", 1000), ("64bit", 1 << 20)];
    let mut group = c.benchmark_group("header");
    group.throughput(Throughput::Elements(HEADERS as u64));
    for (form, len) in forms {
        let mut header = FrameHeader::new(OpCode::Binary, len);
        header.mask = Some([0x37, 0xfa, 0x21, 0x3d]);
        let mut one = [0; MAX_HEADER_LEN];
        let used = header.encode(&mut one);
        let stream: Vec<u8> = one[..used].repeat(HEADERS);

        group.bench_function(BenchmarkId::new("decode_masked", form), |b| {
            b.iter(|| {
                let mut buf = black_box(&stream[..]);
                let mut total = 0u64;
                while let Ok(Parsed::Complete((header, used))) = FrameHeader::decode(buf) {
                    total += header.payload_len;
                    buf = &buf[used..];
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("encode_masked", form), |b| {
            let mut out = vec![0u8; (HEADERS + 1) * MAX_HEADER_LEN];
            b.iter(|| {
                let header = black_box(&header);
                let mut at = 0;
                for _ in 0..HEADERS {
                    let dst: &mut [u8; MAX_HEADER_LEN] = (&mut out[at..at + MAX_HEADER_LEN])
                        .try_into()
                        .expect("slack");
                    at += header.encode(dst);
                }
                black_box(&out);
                at
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
