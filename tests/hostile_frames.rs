//! Hostile frames from a raw TCP client, against a real server on loopback
//! (default config; each test against the blocking server, a thread per
//! connection, and the tokio one, a task per connection: see
//! `against_both_adapters!`). Each
//! case asserts the close code on the wire and the error the server saw,
//! the time it took, and that a well-behaved client is still served.
//!
//! A global allocator records the largest single allocation in this binary:
//! no test here sends more than a few hundred KiB, so a large allocation
//! can only come from trusting a declared length.

#![cfg(feature = "blocking")]

mod support;

use std::thread;
use std::time::Instant;

use support::hostile::*;
use wsproto::blocking::Error;

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

/// Sends `bytes` on a fresh connection and expects the server's Close with
/// `code` (and the matching protocol error on its side), then the end of
/// the TCP connection, all within [`INSTANT`].
fn expect_close_on(server: &Server, what: &str, bytes: &[u8], code: u16) {
    let mut ws = RawWs::connect(server.addr);
    let started = Instant::now();
    ws.send(bytes);
    assert_eq!(ws.close_code(), code, "{what}");
    ws.expect_eof();
    within(what, started, INSTANT);
    let outcome = server.outcome();
    assert_eq!(protocol_code(&outcome), Some(code), "{what}: {outcome:?}");
}

fn expect_close(what: &str, bytes: &[u8], code: u16) {
    let server = Server::start();
    expect_close_on(&server, what, bytes, code);
    server.assert_serves();
}

fn declared_length_2_pow_63_minus_1_is_1009_without_allocating() {
    let rss_before = rss_kib();
    let mut bytes = header(BINARY, (1 << 63) - 1, Some(MASK_KEY));
    bytes.extend_from_slice(b"a few payload bytes");
    expect_close("length 2^63-1", &bytes, 1009);
    let rss_after = rss_kib();
    let largest = support::alloc::largest();
    println!("largest allocation {largest} B, RSS {rss_before} -> {rss_after} KiB");
    assert!(largest < 1 << 20, "allocated {largest} bytes");
    assert!(rss_after < rss_before + (16 << 10), "RSS grew");
}

fn length_with_the_64_bit_msb_set_1002() {
    let mut bytes = header(BINARY, 1 << 63, Some(MASK_KEY));
    bytes.extend_from_slice(b"x");
    expect_close("64-bit MSB set", &bytes, 1002);
    let mut bytes = header(BINARY, u64::MAX, Some(MASK_KEY));
    bytes.extend_from_slice(b"x");
    expect_close("length u64::MAX", &bytes, 1002);
}

fn unmasked_client_frames_1002() {
    expect_close("unmasked text", &frame(TEXT, b"hi", None), 1002);
    expect_close("unmasked ping", &frame(PING, b"hi", None), 1002);
}

fn reserved_opcodes_1002() {
    let server = Server::start();
    for opcode in [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        let what = format!("opcode {opcode:#x}");
        expect_close_on(&server, &what, &masked(0x80 | opcode, b"x"), 1002);
    }
    server.assert_serves();
}

fn reserved_bits_1002() {
    let server = Server::start();
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let what = format!("rsv {rsv:#x} on text");
        expect_close_on(&server, &what, &masked(TEXT | rsv, b"x"), 1002);
        let what = format!("rsv {rsv:#x} on ping");
        expect_close_on(&server, &what, &masked(PING | rsv, b"x"), 1002);
    }
    server.assert_serves();
}

fn fragmented_and_oversized_control_frames_1002() {
    let server = Server::start();
    expect_close_on(&server, "ping without FIN", &masked(0x09, b"x"), 1002);
    expect_close_on(&server, "close without FIN", &masked(0x08, &[3, 232]), 1002);
    expect_close_on(&server, "126-byte ping", &masked(PING, &[b'p'; 126]), 1002);
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(&[b'r'; 124]);
    expect_close_on(&server, "126-byte close", &masked(CLOSE, &close), 1002);
    // Control frame lengths over 125 in the 16- and 64-bit forms.
    let mut bytes = header(PING, 1 << 40, Some(MASK_KEY));
    bytes.push(0);
    expect_close_on(&server, "ping declaring 2^40", &bytes, 1002);
    server.assert_serves();
}

fn orphan_continuations_1002() {
    let server = Server::start();
    expect_close_on(&server, "orphan final", &masked(CONT_LAST, b"x"), 1002);
    expect_close_on(&server, "orphan first", &masked(CONT, b"x"), 1002);
    // After a complete message, a continuation is an orphan too.
    let mut bytes = masked(TEXT, b"done");
    bytes.extend(masked(CONT_LAST, b"more"));
    expect_close_on(&server, "continuation after a message", &bytes, 1002);
    server.assert_serves();
}

fn interleaved_messages_1002() {
    let server = Server::start();
    let mut bytes = masked(TEXT_FIRST, b"a");
    bytes.extend(masked(BINARY, b"b"));
    expect_close_on(&server, "binary inside text", &bytes, 1002);
    let mut bytes = masked(BINARY_FIRST, b"a");
    bytes.extend(masked(TEXT_FIRST, b"b"));
    expect_close_on(&server, "text start inside binary", &bytes, 1002);
    // A control frame between fragments is fine (RFC 6455 §5.4).
    let mut ws = RawWs::connect(server.addr);
    ws.send(&masked(TEXT_FIRST, b"a"));
    ws.send(&masked(PING, b"p"));
    ws.send(&masked(CONT_LAST, b"b"));
    assert_eq!(ws.next_frame().unwrap().2, b"p", "pong first");
    assert_eq!(ws.next_frame().unwrap().2, b"ab");
    server.assert_serves();
}

fn invalid_utf8_1007() {
    let server = Server::start();
    expect_close_on(&server, "0xff", &masked(TEXT, b"ok\xff"), 1007);
    expect_close_on(&server, "overlong", &masked(TEXT, b"\xc0\xaf"), 1007);
    expect_close_on(&server, "surrogate", &masked(TEXT, b"\xed\xa0\x80"), 1007);
    expect_close_on(&server, "cut at the end", &masked(TEXT, b"caf\xc3"), 1007);
    let mut bytes = masked(TEXT_FIRST, b"caf\xc3");
    bytes.extend(masked(CONT_LAST, b""));
    expect_close_on(&server, "cut at the last fragment", &bytes, 1007);
    let mut bytes = masked(TEXT_FIRST, b"caf\xc3");
    bytes.extend(masked(CONT_LAST, b"\x28"));
    expect_close_on(&server, "bad across fragments", &bytes, 1007);
    server.assert_serves();
}

fn invalid_utf8_fails_fast_before_the_frame_ends() {
    let server = Server::start();
    // A first fragment declaring 1 MiB, of which only the first bytes are
    // sent: the Close must arrive while the rest is still missing.
    let mut bytes = header(TEXT_FIRST, 1 << 20, Some([0; 4]));
    bytes.extend_from_slice(b"valid so far \xf5 and then not");
    expect_close_on(&server, "bad first fragment, 1 MiB declared", &bytes, 1007);
    // The same in a single final frame.
    let mut bytes = header(TEXT, 1 << 20, Some([0; 4]));
    bytes.extend_from_slice(b"\xe2\x82");
    bytes.push(b'x');
    expect_close_on(&server, "bad final frame, 1 MiB declared", &bytes, 1007);
    server.assert_serves();
}

fn bad_close_payloads() {
    let server = Server::start();
    expect_close_on(&server, "1-byte close", &masked(CLOSE, &[3]), 1002);
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let what = format!("close code {code}");
        expect_close_on(&server, &what, &masked(CLOSE, &code.to_be_bytes()), 1002);
    }
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bad \xff reason");
    expect_close_on(
        &server,
        "invalid UTF-8 reason",
        &masked(CLOSE, &payload),
        1007,
    );
    // An empty Close is answered with 1000; valid codes are echoed; both
    // end the connection normally.
    let mut ws = RawWs::connect(server.addr);
    ws.send(&masked(CLOSE, b""));
    assert_eq!(ws.close_code(), 1000);
    ws.expect_eof();
    assert!(matches!(server.outcome().error(), Error::ConnectionClosed));
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        let mut ws = RawWs::connect(server.addr);
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice("réason".as_bytes());
        ws.send(&masked(CLOSE, &payload));
        // RFC 6455 §5.5.1: the endpoint "typically echos the status code it
        // received".
        assert_eq!(ws.close_code(), code);
        ws.expect_eof();
        let outcome = server.outcome();
        assert!(
            matches!(outcome.error(), Error::ConnectionClosed),
            "{outcome:?}"
        );
    }
    server.assert_serves();
}

fn a_million_empty_fragments_1009_at_the_fragment_cap() {
    let server = Server::start();
    let mut ws = RawWs::connect(server.addr);
    let mut writer = ws.tcp.try_clone().unwrap();
    let started = Instant::now();
    let sending = thread::spawn(move || {
        let mut batch = masked(BINARY_FIRST, b"");
        let empty = masked(CONT, b"");
        let mut sent = 1u32;
        while sent < 1_000_000 {
            while batch.len() < 64 << 10 {
                batch.extend_from_slice(&empty);
                sent += 1;
            }
            if std::io::Write::write_all(&mut writer, &batch).is_err() {
                return sent;
            }
            batch.clear();
        }
        sent
    });
    assert_eq!(ws.close_code(), 1009);
    within("fragment flood answered", started, INSTANT);
    hang_up(&ws.tcp);
    let sent = sending.join().unwrap();
    println!("fragments written before the writer stopped: {sent}");
    let outcome = server.outcome();
    assert_eq!(protocol_code(&outcome), Some(1009), "{outcome:?}");
    assert!(
        matches!(
            outcome.error(),
            Error::Protocol(wsproto::ProtocolError::TooManyFragments { limit: 131_072 })
        ),
        "{outcome:?}"
    );
    server.assert_serves();
}

fn connection_cut_mid_frame() {
    let server = Server::start();
    let mut ws = RawWs::connect(server.addr);
    let started = Instant::now();
    let mut bytes = header(BINARY, 100, Some(MASK_KEY));
    bytes.extend_from_slice(&[1; 10]);
    ws.send(&bytes);
    hang_up(&ws.tcp);
    let outcome = server.outcome();
    within("cut mid-frame noticed", started, INSTANT);
    assert!(
        matches!(outcome.error(), Error::ConnectionLost | Error::Io(_)),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.error().close_code(),
        Some(wsproto::CloseCode::ABNORMAL)
    );
    // Cut inside the header too.
    let mut ws = RawWs::connect(server.addr);
    ws.send(&header(BINARY, 1 << 20, Some(MASK_KEY))[..5]);
    hang_up(&ws.tcp);
    assert!(matches!(
        server.outcome().error(),
        Error::ConnectionLost | Error::Io(_)
    ));
    server.assert_serves();
}

fn a_frame_dribbled_one_byte_per_write_is_echoed() {
    let server = Server::start();
    let mut ws = RawWs::connect(server.addr);
    let text = "dribble é € 𝄞 ".repeat(20);
    let started = Instant::now();
    for byte in masked(TEXT, text.as_bytes()) {
        ws.send(&[byte]);
    }
    let (opcode, fin, payload) = ws.next_frame().unwrap();
    within("frame in 1-byte writes", started, INSTANT);
    assert_eq!(opcode, wsproto::frame::OpCode::Text);
    assert!(fin);
    assert_eq!(payload, text.as_bytes());
    server.assert_serves();
}

against_both_adapters!(
    declared_length_2_pow_63_minus_1_is_1009_without_allocating,
    length_with_the_64_bit_msb_set_1002,
    unmasked_client_frames_1002,
    reserved_opcodes_1002,
    reserved_bits_1002,
    fragmented_and_oversized_control_frames_1002,
    orphan_continuations_1002,
    interleaved_messages_1002,
    invalid_utf8_1007,
    invalid_utf8_fails_fast_before_the_frame_ends,
    bad_close_payloads,
    a_million_empty_fragments_1009_at_the_fragment_cap,
    connection_cut_mid_frame,
    a_frame_dribbled_one_byte_per_write_is_echoed,
);
