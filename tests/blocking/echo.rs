//! Client ↔ server over real sockets: echo at every size class, the end of
//! a connection (normal, vanished peer, protocol error), Pings answered,
//! early frames after the handshake, plain HTTP on the same port.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use support::blocking::*;
use wsproto::blocking::{Decision, Error, Message, accept, accept_with, connect};
use wsproto::{CloseCode, ProtocolError, State};

/// Sizes across every length encoding (7-bit, 16-bit, 64-bit) up to the
/// 16 MiB default frame limit.
const SIZES: &[usize] = &[
    0,
    1,
    125,
    126,
    127,
    1024,
    1025,
    65_535,
    65_536,
    100_000,
    1 << 20,
    16 << 20,
];

#[test]
fn echo_text_and_binary_from_0_bytes_to_16_mib() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        echo(&mut ws)
    });
    let (mut ws, response) = connect(&url(addr)).unwrap();
    assert_eq!(response.protocol(), None);
    for (i, &size) in SIZES.iter().enumerate() {
        let binary = payload(size, i as u32);
        ws.send(Message::binary(binary.clone())).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::Binary(Bytes::from(binary)),
            "{size}"
        );
        let text = text(size, i as u32);
        ws.send(text.as_str()).unwrap();
        assert_eq!(ws.read().unwrap().as_text(), Some(text.as_str()), "{size}");
    }
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(ws.state(), State::Closing);
    match ws.read().unwrap() {
        Message::Close(frame) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected the Close echo, got {other:?}"),
    }
    assert!(ws.read().unwrap_err().is_closed());
    // Never loops, never changes its mind.
    assert!(ws.read().unwrap_err().is_closed());
    assert!(matches!(ws.send("late"), Err(Error::ConnectionClosed)));
    let (end, count) = server.join().unwrap();
    assert!(end.is_closed(), "{end:?}");
    assert_eq!(count, 2 * SIZES.len());
}

#[test]
fn queued_messages_go_out_in_order_on_flush() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        echo(&mut ws)
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    for i in 0..200u32 {
        ws.feed(payload(i as usize * 37, i)).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..200u32 {
        assert_eq!(ws.read().unwrap().as_bytes(), payload(i as usize * 37, i));
    }
    ws.send_text("borrowed").unwrap();
    ws.send_binary(&b"bytes"[..]).unwrap();
    assert_eq!(ws.read().unwrap().as_text(), Some("borrowed"));
    assert_eq!(ws.read().unwrap().as_bytes(), b"bytes");
    ws.close(1000, "").unwrap();
    let (_, end) = drain(&mut ws);
    assert!(end.is_closed());
    assert!(server.join().unwrap().0.is_closed());
}

#[test]
fn server_initiated_close_and_client_waits_for_end_of_stream() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        ws.send("last words").unwrap();
        ws.close(CloseCode::GOING_AWAY, "restart").unwrap();
        drain(&mut ws)
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    assert_eq!(ws.read().unwrap().as_text(), Some("last words"));
    match ws.read().unwrap() {
        Message::Close(frame) => {
            assert_eq!(frame.code, CloseCode::GOING_AWAY);
            assert_eq!(frame.reason, "restart");
        }
        other => panic!("{other:?}"),
    }
    assert!(ws.read().unwrap_err().is_closed());
    let (seen, end) = server.join().unwrap();
    assert!(matches!(&seen[..], [Message::Close(f)] if f.code == CloseCode::GOING_AWAY));
    assert!(end.is_closed());
}

#[test]
fn pings_are_answered_while_the_peer_reads() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        drain(&mut ws)
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    let label = String::from("are you there");
    ws.send_ping(&label).unwrap();
    assert_eq!(ws.read().unwrap(), Message::pong(&label));
    ws.close(1000, "").unwrap();
    assert!(drain(&mut ws).1.is_closed());
    let (seen, end) = server.join().unwrap();
    assert_eq!(seen[0], Message::ping("are you there"));
    assert!(end.is_closed());
}

#[test]
fn a_vanished_peer_is_1006() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        drain(&mut ws)
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    drop(ws.into_inner());
    let (seen, end) = server.join().unwrap();
    assert!(seen.is_empty());
    assert!(matches!(end, Error::ConnectionLost), "{end:?}");
    assert_eq!(end.close_code(), Some(CloseCode::ABNORMAL));
}

/// Builds a raw client handshake for tests that speak bytes directly.
fn raw_request(addr: std::net::SocketAddr) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Reads from a raw socket until the end of stream.
fn read_all(mut tcp: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    out
}

#[test]
fn a_protocol_error_sends_its_close_code() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        drain(&mut ws)
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    let mut bytes = raw_request(addr);
    // A masked "Hello" (RFC 6455 §5.7), then an unmasked frame: a client
    // must mask (§5.1).
    bytes.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    bytes.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    tcp.write_all(&bytes).unwrap();
    let (seen, end) = server.join().unwrap();
    // The frame pipelined after the head arrives before the violation.
    assert_eq!(seen, [Message::text("Hello")]);
    assert!(
        matches!(end, Error::Protocol(ProtocolError::UnmaskedFrame)),
        "{end:?}"
    );
    assert_eq!(end.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    let wire = read_all(tcp);
    let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(wire.starts_with(b"HTTP/1.1 101"));
    // A server's Close frame: FIN + opcode 8, unmasked, code 1002.
    let close = &wire[head_end..];
    assert_eq!(&close[..1], &[0x88]);
    assert_eq!(&close[2..4], &1002u16.to_be_bytes());
}

#[test]
fn plain_http_is_answered_on_the_same_port() {
    let (addr, server) = serve_one(|tcp| {
        accept_with(tcp, |request| {
            assert!(request.upgrade().is_none());
            assert_eq!(request.path(), "/health");
            Decision::respond(200, &[("Content-Type", "text/plain")], "ok")
        })
        .map(|_| ())
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let wire = read_all(tcp);
    assert_eq!(
        wire,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    );
    let end = server.join().unwrap().unwrap_err();
    assert_eq!(end.http_status(), Some(200));
}

#[test]
fn a_plain_request_that_the_decision_accepts_gets_426() {
    let (addr, server) = serve_one(|tcp| accept(tcp).map(|_| ()));
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let wire = read_all(tcp);
    assert!(wire.starts_with(b"HTTP/1.1 426 Upgrade Required\r\n"));
    assert_eq!(server.join().unwrap().unwrap_err().http_status(), Some(426));
}

/// Messages that arrive in the same read as the peer's Close are still
/// answered, in order, before the Close echo (found by the example tests:
/// the blocking read wrote between events, and writing released the Close
/// before the application had seen the messages).
#[test]
fn messages_before_a_close_in_the_same_read_are_answered() {
    let (addr, server) = serve_one(|stream| echo(&mut accept(stream).unwrap()));
    let (mut client, _) = connect(&url(addr)).unwrap();
    client.feed("one").unwrap();
    client.feed("two").unwrap();
    client.feed(Message::close(1000, "")).unwrap();
    client.flush().unwrap(); // one write: all three frames in one segment
    let (seen, end) = drain(&mut client);
    assert_eq!(seen[..2], [Message::text("one"), Message::text("two")]);
    assert!(matches!(&seen[2], Message::Close(frame) if frame.code == CloseCode::NORMAL));
    assert!(end.is_closed(), "{end:?}");
    let (server_end, echoed) = server.join().unwrap();
    assert_eq!(echoed, 2);
    assert!(server_end.is_closed(), "{server_end:?}");
}

/// With `Config::deflate` set on both ends, the blocking adapters negotiate
/// permessage-deflate and messages round-trip compressed.
#[cfg(feature = "deflate")]
#[test]
fn deflate_is_negotiated_from_the_builders_and_used() {
    use wsproto::blocking::{ClientBuilder, ServerBuilder};
    use wsproto::deflate::DeflateConfig;

    let (addr, server) = serve_one(move |stream| {
        // A server that did not set up deflate would fail the client's
        // RSV1 frame with 1002, and the echo below would not arrive.
        let mut ws = ServerBuilder::new()
            .deflate(DeflateConfig::default())
            .accept(stream)
            .unwrap();
        echo(&mut ws)
    });
    let (mut client, established) = ClientBuilder::new(url(addr))
        .deflate(DeflateConfig::default())
        .connect()
        .unwrap();
    assert!(established.deflate().is_some(), "deflate not agreed");
    let text = "a highly compressible line of JSON-like text, ".repeat(2000);
    client.send(text.as_str()).unwrap();
    assert_eq!(client.read().unwrap(), Message::text(text));
    client.close(1000, "").unwrap();
    let (_, end) = drain(&mut client);
    assert!(end.is_closed(), "{end:?}");
    assert_eq!(server.join().unwrap().1, 1);
}
