//! Hostile peers in the opening handshake, against a real server on
//! loopback (default config; each test against the blocking server, a
//! thread per connection, and the tokio one, a task per connection: see
//! `against_both_adapters!`). Each case asserts the answer, the time it took, and that a
//! well-behaved client is still served afterwards.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use support::hostile::*;
use wsproto::Parsed;
use wsproto::blocking::{Error, Refusal};
use wsproto::handshake::{OriginPolicy, RequestParser};

/// Sends `bytes` from another thread (the server may answer before it has
/// read them all) while this one reads the answer; returns the status.
fn answer_to(server: &Server, bytes: Vec<u8>) -> u16 {
    let mut tcp = raw(server.addr);
    let mut writer = tcp.try_clone().unwrap();
    let sending = thread::spawn(move || write_lossy(&mut writer, &bytes));
    let status = http_status(&mut tcp);
    sending.join().unwrap();
    status
}

/// The server refused with `status`, promptly, reported the matching
/// error, and still serves.
fn assert_refused(what: &str, bytes: Vec<u8>, status: u16) {
    let server = Server::start();
    let started = Instant::now();
    assert_eq!(answer_to(&server, bytes), status, "{what}");
    within(what, started, INSTANT);
    let outcome = server.outcome();
    match outcome.error() {
        Error::Handshake(e) => assert_eq!(e.http_status(), status),
        other => panic!("{what}: {other:?}"),
    }
    server.assert_serves();
}

fn ten_thousand_headers_431() {
    let mut extra = String::new();
    for i in 0..10_000 {
        extra.push_str(&format!("X-Flood-{i}: {i}\r\n"));
    }
    assert_refused("10,000 headers", request_with(&extra).into_bytes(), 431);
}

fn one_mebibyte_header_line_431() {
    let extra = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    assert_refused("1 MiB header line", request_with(&extra).into_bytes(), 431);
}

fn subprotocol_header_of_64k_spaces_and_commas_431() {
    let value: String = " ,".repeat(32 << 10);
    let extra = format!("Sec-WebSocket-Protocol: {value}\r\n");
    assert_refused(
        "64 KiB protocol list",
        request_with(&extra).into_bytes(),
        431,
    );
}

fn subprotocol_offered_twice_400() {
    // RFC 6455 §4.1: the offered subprotocols "MUST all be unique strings".
    let extra = "Sec-WebSocket-Protocol: chat, superchat, chat\r\n";
    assert_refused(
        "repeated subprotocol",
        request_with(extra).into_bytes(),
        400,
    );
}

fn subprotocol_list_of_empty_elements_within_limits() {
    // Just under the 8 KiB line limit: parsed in linear time. RFC 9110 §5.6.1
    // lets a recipient ignore empty list elements, so this is a request
    // that offers no subprotocol and is accepted.
    let server = Server::start();
    let value: String = " ,".repeat(4000);
    let mut tcp = raw(server.addr);
    let started = Instant::now();
    tcp.write_all(request_with(&format!("Sec-WebSocket-Protocol: {value}\r\n")).as_bytes())
        .unwrap();
    let mut ws = RawWs {
        pending: read_101(&mut tcp),
        tcp,
    };
    within("8 KB of empty protocol elements", started, INSTANT);
    ws.send(&masked(CLOSE, &1000u16.to_be_bytes()));
    assert_eq!(ws.close_code(), 1000);
    ws.expect_eof();
    server.assert_serves();
}

fn dribbled_head_is_scanned_once() {
    // Sans-IO: a 12 KB head fed 3 bytes at a time is examined exactly once
    // over (no re-parse of the whole buffer on every read).
    let extra: String = (0..100)
        .map(|i| format!("X-Pad-{i}: {}\r\n", "p".repeat(100)))
        .collect();
    let head = request_with(&extra).into_bytes();
    let mut parser = RequestParser::default();
    let mut end = 0;
    let used = loop {
        end = (end + 3).min(head.len());
        match parser.parse(&head[..end]).unwrap() {
            Parsed::Partial => assert!(end < head.len()),
            Parsed::Complete((_, used)) => break used,
        }
    };
    assert_eq!(used, head.len());
    assert_eq!(
        wsproto::__private::request_bytes_scanned(&parser),
        head.len() as u64,
        "linear work"
    );

    // Over a socket: a few bytes per write, each flushed (no Nagle).
    let server = Server::start();
    let mut tcp = raw(server.addr);
    let started = Instant::now();
    for piece in head.chunks(3) {
        tcp.write_all(piece).unwrap();
    }
    let mut ws = RawWs {
        pending: read_101(&mut tcp),
        tcp,
    };
    within("12 KB head in 3-byte writes", started, INSTANT);
    ws.send(&masked(TEXT, b"ok"));
    assert_eq!(ws.next_frame().unwrap().2, b"ok");
    server.assert_serves();
}

fn stalled_handshake_dropped_at_the_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let server = Server::with(ServerBuilder::new().handshake_timeout(TIMEOUT));
    let mut tcp = raw(server.addr);
    let started = Instant::now();
    tcp.write_all(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // Nothing more: the server must hang up by itself.
    let rest = read_to_end(&mut tcp, 1 << 16);
    let elapsed = within("stalled handshake dropped", started, INSTANT);
    assert!(elapsed >= TIMEOUT, "dropped early: {elapsed:?}");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(matches!(server.outcome().error(), Error::HandshakeTimeout));
    server.assert_serves();
}

fn hundreds_of_unfinished_handshakes_do_not_block_others() {
    const STALLED: usize = 300;
    let server = Server::start();
    let stalled: Vec<_> = (0..STALLED)
        .map(|i| {
            let mut tcp = raw(server.addr);
            tcp.write_all(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n").as_bytes())
                .unwrap();
            tcp
        })
        .collect();
    let started = Instant::now();
    let echo = server.assert_serves();
    within("echo beside 300 stalled handshakes", started, INSTANT);
    println!("echo itself: {echo:?}, server threads: {}", server.live());
    // The stalled peers leave; their threads end with them.
    drop(stalled);
    let started = Instant::now();
    for _ in 0..STALLED {
        let outcome = server.outcome();
        assert!(
            matches!(outcome.error(), Error::HandshakeEof | Error::Io(_)),
            "{outcome:?}"
        );
    }
    within("300 stalled connections released", started, INSTANT);
    server.assert_serves();
}

fn garbage_bytes_400_at_the_first_byte() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert_refused("garbage", garbage, 400);
}

fn tls_client_hello_on_the_plain_port_400() {
    // The start of a TLS 1.2/1.3 ClientHello record.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend((0..500u32).map(|i| (i * 31) as u8));
    assert_refused("TLS ClientHello", hello, 400);
}

fn wrong_method_405() {
    let request = request_with("").replacen("GET", "POST", 1);
    assert_refused("POST", request.into_bytes(), 405);
}

fn http_1_0_400() {
    let request = request_with("").replacen("HTTP/1.1", "HTTP/1.0", 1);
    assert_refused("HTTP/1.0", request.into_bytes(), 400);
}

fn wrong_websocket_version_426() {
    let request = request_with("").replace("Version: 13", "Version: 8");
    assert_refused("version 8", request.into_bytes(), 426);
}

fn wrong_keys_400() {
    for key in [
        "",
        "short",
        "dGhlIHNhbXBsZSBub25jZQ",
        "AAAAAAAAAAAAAAAAAAAAAAAA=",
    ] {
        let request = request_with("").replace(SAMPLE_NONCE, key);
        assert_refused(&format!("key {key:?}"), request.into_bytes(), 400);
    }
    let request = request_with(&format!("Sec-WebSocket-Key: {SAMPLE_NONCE}\r\n"));
    assert_refused("two keys", request.into_bytes(), 400);
}

fn same_origin_server() -> Server {
    Server::with(ServerBuilder::new().origin_policy(OriginPolicy::new().same_origin(true)))
}

fn assert_origin_refused(server: &Server, extra: &str) {
    let started = Instant::now();
    assert_eq!(
        answer_to(server, request_with(extra).into_bytes()),
        403,
        "{extra:?}"
    );
    within(extra.trim(), started, INSTANT);
    // A refusal by the server's policy, not the peer's malformed request.
    assert!(matches!(
        server.outcome().error(),
        Error::Refused(Refusal::Origin(_))
    ));
}

fn origin_attacks_under_a_same_origin_policy_403() {
    let server = same_origin_server();
    // The request's Host is 127.0.0.1 (port 80).
    assert_origin_refused(&server, "Origin: null\r\n");
    assert_origin_refused(
        &server,
        "Origin: http://127.0.0.1\r\nOrigin: http://127.0.0.1\r\n",
    );
    assert_origin_refused(
        &server,
        "Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n",
    );
    assert_origin_refused(&server, "Origin: http://evil.example\r\n");
    assert_origin_refused(&server, "Origin: http://127.0.0.1.evil.example\r\n");
    // The same origin passes.
    let mut tcp = raw(server.addr);
    tcp.write_all(request_with("Origin: http://127.0.0.1\r\n").as_bytes())
        .unwrap();
    read_101(&mut tcp);
}

crate::against_both_adapters!(
    ten_thousand_headers_431,
    one_mebibyte_header_line_431,
    subprotocol_header_of_64k_spaces_and_commas_431,
    subprotocol_offered_twice_400,
    subprotocol_list_of_empty_elements_within_limits,
    dribbled_head_is_scanned_once,
    stalled_handshake_dropped_at_the_timeout,
    hundreds_of_unfinished_handshakes_do_not_block_others,
    garbage_bytes_400_at_the_first_byte,
    tls_client_hello_on_the_plain_port_400,
    wrong_method_405,
    http_1_0_400,
    wrong_websocket_version_426,
    wrong_keys_400,
    origin_attacks_under_a_same_origin_policy_403,
);
