//! The client role against hostile servers: a raw TCP server on loopback
//! reads the client's request and answers with hand-written bytes. Each
//! case asserts a clear error, the time it took (no hang), and that the
//! client still talks to a well-behaved server afterwards.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::hostile::*;
use wsproto::blocking::{ClientBuilder, Error};
use wsproto::handshake::{ResponseError, accept_key};
use wsproto::{CloseCode, ProtocolError};

/// A one-connection server: reads the request head, then hands the stream
/// and the accept value for the client's key to `answer`.
fn hostile_server<R, F>(answer: F) -> (SocketAddr, JoinHandle<R>)
where
    R: Send + 'static,
    F: FnOnce(TcpStream, String) -> R + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(INSTANT)).unwrap();
        tcp.set_write_timeout(Some(INSTANT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(tcp.read(&mut byte).unwrap(), 1, "request cut");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = accept_key(key.trim());
        answer(tcp, accept)
    });
    (addr, handle)
}

fn switching(accept: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    )
}

/// Connects with a bounded handshake and expects it to fail fast.
fn connect_fails(addr: SocketAddr, what: &str) -> Error {
    let started = Instant::now();
    let error = ClientBuilder::new(format!("ws://{addr}/"))
        .protocol("chat")
        .handshake_timeout(INSTANT)
        .connect()
        .map(|_| ())
        .expect_err(what);
    within(what, started, INSTANT);
    println!("{what}: {error}");
    error
}

fn response_error(error: &Error) -> &ResponseError {
    match error {
        Error::Response(e) => e,
        other => panic!("not a response error: {other:?}"),
    }
}

/// The client side still works against a well-behaved (blocking) server.
fn client_still_works() {
    Adapter::Blocking.run(|| {
        Server::start().assert_serves();
    });
}

/// A server answering with `response`, then closing.
fn answers(response: String) -> (SocketAddr, JoinHandle<()>) {
    hostile_server(move |mut tcp, _| {
        let _ = tcp.write_all(response.as_bytes());
    })
}

#[test]
fn server_answering_200() {
    let (addr, server) = answers(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\n<h1>hi</h1>"
            .into(),
    );
    let error = connect_fails(addr, "200 OK");
    assert!(matches!(
        response_error(&error),
        ResponseError::NotSwitching(_)
    ));
    assert_eq!(error.http_status(), Some(200));
    assert_eq!(error.response().unwrap().body(), b"<h1>hi</h1>");
    server.join().unwrap();
    client_still_works();
}

#[test]
fn server_redirecting() {
    let (addr, server) = answers(
        "HTTP/1.1 302 Found\r\nLocation: ws://evil.example/\r\nContent-Length: 0\r\n\r\n".into(),
    );
    let error = connect_fails(addr, "302 redirect");
    assert_eq!(error.http_status(), Some(302), "redirects are not followed");
    assert_eq!(
        error.response().unwrap().headers().get("Location"),
        Some(&b"ws://evil.example/"[..])
    );
    server.join().unwrap();
    client_still_works();
}

#[test]
fn wrong_accept() {
    let (addr, server) = answers(switching("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ""));
    let error = connect_fails(addr, "wrong Sec-WebSocket-Accept");
    assert_eq!(response_error(&error), &ResponseError::WrongAccept);
    server.join().unwrap();

    let (addr, server) = answers(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .into(),
    );
    let error = connect_fails(addr, "no Sec-WebSocket-Accept");
    assert_eq!(response_error(&error), &ResponseError::MissingAccept);
    server.join().unwrap();
    client_still_works();
}

#[test]
fn unrequested_subprotocol_and_extension() {
    let (addr, server) = hostile_server(|mut tcp, accept| {
        let _ = tcp.write_all(switching(&accept, "Sec-WebSocket-Protocol: admin\r\n").as_bytes());
    });
    let error = connect_fails(addr, "unrequested subprotocol");
    assert_eq!(
        response_error(&error),
        &ResponseError::ProtocolNotOffered("admin".into())
    );
    server.join().unwrap();

    let (addr, server) = hostile_server(|mut tcp, accept| {
        let extra = "Sec-WebSocket-Extensions: x-evil; mode=all\r\n";
        let _ = tcp.write_all(switching(&accept, extra).as_bytes());
    });
    let error = connect_fails(addr, "unrequested extension");
    assert!(matches!(
        response_error(&error),
        ResponseError::ExtensionNotOffered(_)
    ));
    server.join().unwrap();
    client_still_works();
}

#[test]
fn not_quite_101() {
    let (addr, server) = hostile_server(|mut tcp, accept| {
        let response = switching(&accept, "").replacen("HTTP/1.1", "HTTP/1.0", 1);
        let _ = tcp.write_all(response.as_bytes());
    });
    let error = connect_fails(addr, "101 over HTTP/1.0");
    assert_eq!(
        response_error(&error),
        &ResponseError::UnsupportedHttpVersion
    );
    server.join().unwrap();

    let (addr, server) = hostile_server(|mut tcp, accept| {
        let response = switching(&accept, "").replace("Upgrade: websocket\r\n", "");
        let _ = tcp.write_all(response.as_bytes());
    });
    let error = connect_fails(addr, "101 without Upgrade");
    assert_eq!(response_error(&error), &ResponseError::MissingUpgrade);
    server.join().unwrap();
    client_still_works();
}

#[test]
fn masked_frames_from_the_server_1002() {
    let (addr, server) = hostile_server(|mut tcp, accept| {
        tcp.write_all(switching(&accept, "").as_bytes()).unwrap();
        tcp.write_all(&masked(TEXT, b"masked")).unwrap();
        // The client's Close, masked as a client's must be.
        let mut frame = [0u8; 8];
        tcp.read_exact(&mut frame).unwrap();
        assert_eq!(frame[0], CLOSE);
        assert_eq!(frame[1] & 0x80, 0x80);
        let code = [frame[6] ^ frame[2], frame[7] ^ frame[3]];
        u16::from_be_bytes(code)
    });
    let started = Instant::now();
    let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/"))
        .handshake_timeout(INSTANT)
        .connect()
        .unwrap();
    ws.get_ref()
        .get_ref()
        .set_read_timeout(Some(INSTANT))
        .unwrap();
    let error = ws.read().unwrap_err();
    within("masked server frame", started, INSTANT);
    assert!(
        matches!(error, Error::Protocol(ProtocolError::MaskedFrame)),
        "{error:?}"
    );
    assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert_eq!(server.join().unwrap(), 1002, "close code on the wire");
    client_still_works();
}

/// Writes `first`, then `line` over and over until the client hangs up.
fn endless(first: &'static str, line: &'static str) -> (SocketAddr, JoinHandle<usize>) {
    hostile_server(move |mut tcp, _| {
        let mut sent = 0;
        let mut bytes = first.as_bytes().to_vec();
        while bytes.len() < 16 << 10 {
            bytes.extend_from_slice(line.as_bytes());
        }
        if tcp.write_all(first.as_bytes()).is_err() {
            return 0;
        }
        let lines = &bytes[first.len()..];
        // Bounded, in case the client never hangs up: 64 MiB.
        while sent < 64 << 20 {
            match tcp.write(lines) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    })
}

#[test]
fn endless_response_head() {
    let (addr, server) = endless("HTTP/1.1 101 Switching Protocols\r\n", "X-More: yes\r\n");
    let error = connect_fails(addr, "endless headers");
    assert!(
        matches!(
            response_error(&error),
            ResponseError::TooManyHeaders { .. } | ResponseError::HeadTooLarge { .. }
        ),
        "{error:?}"
    );
    let sent = server.join().unwrap();
    println!("header bytes the server got out: {sent}");
    assert!(sent < 64 << 20, "the client kept reading");

    let (addr, server) = endless("HTTP/1.1 101 Switching Protocols\r\nX-Long: ", "aaaaaaaa");
    let error = connect_fails(addr, "endless header line");
    assert!(
        matches!(response_error(&error), ResponseError::LineTooLong { .. }),
        "{error:?}"
    );
    server.join().unwrap();
    client_still_works();
}

#[test]
fn silent_and_vanishing_servers() {
    const SHORT: Duration = Duration::from_millis(300);
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (addr, server) = hostile_server(move |tcp, _| {
        // Says nothing until the client has given up.
        let _ = wait.recv_timeout(INSTANT);
        drop(tcp);
    });
    let started = Instant::now();
    let error = ClientBuilder::new(format!("ws://{addr}/"))
        .handshake_timeout(SHORT)
        .connect()
        .map(|_| ())
        .unwrap_err();
    let elapsed = within("silent server", started, INSTANT);
    assert!(elapsed >= SHORT, "gave up early: {elapsed:?}");
    assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
    go.send(()).unwrap();
    server.join().unwrap();

    let (addr, server) = hostile_server(|mut tcp, _| {
        let _ = tcp.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgr");
    });
    let error = connect_fails(addr, "server gone mid-head");
    assert!(matches!(error, Error::HandshakeEof), "{error:?}");
    server.join().unwrap();
    client_still_works();
}
