//! The server side of the opening handshake, side by side: parse a typical
//! Chrome upgrade request (13 header fields, among them a ~500-byte
//! Cookie, User-Agent, Origin, `Sec-WebSocket-Extensions:
//! permessage-deflate; client_max_window_bits`) and produce the `101`
//! response bytes.
//!
//! - `wsproto_core`: `RequestParser::new(HandshakeLimits::default())`,
//!   `parse`, `accept(AcceptOptions::new())`, the response bytes (no I/O).
//! - `wsproto_blocking`: `wsproto::blocking::accept` over the in-memory
//!   `MemStream` of `support` holding the request: reading it, the
//!   response written to the stream, and the `WebSocket` created.
//! - `tungstenite`: `tungstenite::accept` over the same `MemStream`
//!   (tungstenite reads up to 4 KiB at once, so the whole request arrives
//!   in its first read and the stream's end after it is never reached).
//!
//! permessage-deflate is offered by the request and declined by all three
//! (wsproto's default `AcceptOptions` and `Config` do not negotiate it, and
//! tungstenite does not implement it), so each answers the same four
//! lines. Before timing, each variant's response is checked: `101`,
//! `Upgrade: websocket`, `Connection: Upgrade`, the right
//! `Sec-WebSocket-Accept` (computed with `wsproto::handshake::accept_key`)
//! and no `Sec-WebSocket-Extensions`.
//!
//! Each timed iteration takes a fresh `MemStream` made beforehand (it
//! allocates a 256 KiB scratch buffer, which would otherwise dominate), and
//! what an iteration returns (the `WebSocket`, or the parsed request and
//! response) is dropped after the timing, the same way for all three.
//!
//! Run: `cargo bench -p wsproto-benches --bench compare_handshake`
//! (short: `cargo bench -p wsproto-benches --bench compare_handshake -- --warm-up-time 1 --measurement-time 2`).

mod support;

use std::hint::black_box;
use std::io::{self, Read, Write};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use support::MemStream;
use wsproto::HandshakeLimits;
use wsproto::Parsed;
use wsproto::handshake::{AcceptOptions, Negotiated, RequestParser, UpgradeRequest, accept_key};

/// The request's `Sec-WebSocket-Key`.
const KEY: &str = "x3JJHMbDL1EzLkh9GBhXDw==";

/// Iterations per batch: as many fresh streams exist at once.
const BATCH: u64 = 64;

/// A Chrome 131 upgrade request, header fields in Chrome's order.
fn chrome_request() -> Vec<u8> {
    // A site's usual cookies: analytics ids, consent, a session token.
    let cookie = "_ga=GA1.1.1843201367.1731400721; \
        _ga_7XK3QH2Z1M=GS1.1.1732209112.14.1.1732209876.0.0.0; \
        _gid=GA1.2.977134520.1732134812; \
        cookieconsent_status=dismiss; \
        theme=dark; lang=en-US; \
        _fbp=fb.1.1731400722018.1638829120; \
        csrftoken=Qm7wZ2sX9kLpT4vRb8NcYe1HjD5uFgA3; \
        session=eyJ1c2VyX2lkIjo0MjEzNywicm9sZSI6Im1lbWJlciIsImV4cCI6MTczMjgxNDAwMH0.\
        9f8Kq2LwX7mN4pR1tY6vB3cZ0aS5dE8hJ2kU7oI4xQw; \
        _hjSessionUser_3185427=eyJpZCI6IjZhYjRkMmQ1LTk0YzAtNTYzMS1iMjg5LWE0YjM5YzE3NjRjNiIsImNyZWF0ZWQiOjE3MzE0MDA3MjI0MTcsImV4aXN0aW5nIjp0cnVlfQ==";
    assert!(
        (450..=550).contains(&cookie.len()),
        "cookie of {} bytes",
        cookie.len()
    );
    let request = format!(
        "GET /chat?room=lobby HTTP/1.1\r\n\
         Host: chat.example.com\r\n\
         Connection: Upgrade\r\n\
         Pragma: no-cache\r\n\
         Cache-Control: no-cache\r\n\
         User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
         (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\n\
         Origin: https://chat.example.com\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
         Cookie: {cookie}\r\n\
         Sec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         \r\n"
    );
    request.into_bytes()
}

fn wsproto_core(request: &[u8]) -> (UpgradeRequest, Negotiated) {
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let Ok(Parsed::Complete((upgrade, used))) = parser.parse(request) else {
        panic!("wsproto: request refused or incomplete");
    };
    debug_assert_eq!(used, request.len());
    let accepted = upgrade.accept(AcceptOptions::new()).expect("accept");
    (upgrade, accepted)
}

fn wsproto_blocking<S: wsproto::blocking::Stream>(stream: S) -> wsproto::blocking::WebSocket<S> {
    wsproto::blocking::accept(stream).expect("wsproto accept")
}

fn tungstenite<S: Read + Write>(stream: S) -> tungstenite::WebSocket<S> {
    tungstenite::accept(stream).expect("tungstenite accept")
}

/// A stream that keeps what is written, to check the responses.
struct Capture<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl Read for Capture<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Capture<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl wsproto::blocking::Stream for Capture<'_> {}

/// Checks a `101` response to [`chrome_request`]; panics otherwise.
fn check_response(who: &str, response: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let used = match parsed.parse(response) {
        Ok(httparse::Status::Complete(used)) => used,
        other => panic!("{who}: response not a complete head: {other:?}"),
    };
    assert_eq!(used, response.len(), "{who}: bytes after the head");
    assert_eq!(parsed.code, Some(101), "{who}: status");
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).expect("UTF-8 value"))
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    assert!(has_token("Upgrade", "websocket"), "{who}: Upgrade");
    assert!(has_token("Connection", "Upgrade"), "{who}: Connection");
    assert_eq!(
        header("Sec-WebSocket-Accept"),
        Some(accept_key(KEY).as_str()),
        "{who}: Sec-WebSocket-Accept"
    );
    assert_eq!(
        header("Sec-WebSocket-Extensions"),
        None,
        "{who}: extensions"
    );
}

/// Every variant answers correctly, and over `MemStream` writes as many
/// bytes as its checked response has.
fn verify(request: &[u8]) {
    let (_, accepted) = wsproto_core(request);
    check_response("wsproto core", accepted.response());

    let ws = wsproto_blocking(Capture {
        input: request,
        output: Vec::new(),
    });
    let response = &ws.get_ref().output;
    check_response("wsproto blocking", response);
    let timed = wsproto_blocking(MemStream::new(request));
    assert_eq!(timed.get_ref().written, response.len(), "wsproto blocking");

    let ws = tungstenite(Capture {
        input: request,
        output: Vec::new(),
    });
    let response = &ws.get_ref().output;
    check_response("tungstenite", response);
    let timed = tungstenite(MemStream::new(request));
    assert_eq!(timed.get_ref().written, response.len(), "tungstenite");
    // tungstenite's handshake reads 4 KiB at a time; a request that fits
    // arrives whole in the first read, before the stream's end.
    assert!(request.len() < 4096);
}

fn handshake(c: &mut Criterion) {
    let request = chrome_request();
    verify(&request);

    let mut group = c.benchmark_group("server handshake (Chrome request)");
    group.throughput(Throughput::Elements(1));
    group.bench_function("wsproto_core", |b| {
        b.iter_batched(
            || (),
            |()| wsproto_core(black_box(&request)),
            BatchSize::NumIterations(BATCH),
        )
    });
    group.bench_function("wsproto_blocking", |b| {
        b.iter_batched(
            || MemStream::new(&request),
            |stream| wsproto_blocking(black_box(stream)),
            BatchSize::NumIterations(BATCH),
        )
    });
    group.bench_function("tungstenite", |b| {
        b.iter_batched(
            || MemStream::new(&request),
            |stream| tungstenite(black_box(stream)),
            BatchSize::NumIterations(BATCH),
        )
    });
    group.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);
