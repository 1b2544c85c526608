//! Graceful shutdown through a `ConnectionSet`, both adapters, real sockets
//! on loopback: every connection gets exactly one Close with 1001 after
//! everything queued before it; a reader waiting for input is woken (also
//! mid-message, over TLS, split between tasks); a peer that never answers
//! is cut at the deadline; new upgrades are answered 503, and upgrades
//! racing the shutdown are refused or closed, never lost; the set's
//! counts are exact; axum's graceful shutdown returns with the set
//! closing the upgraded sockets; a `ReconnectingClient` comes back soon
//! after 1001 and stops after 1008. (No thread, task or descriptor left
//! behind: `tests/shutdown_leaks.rs`, a binary of its own so that the
//! counts are this process's alone.)

#![cfg(all(feature = "blocking", feature = "tokio"))]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::hostile::{CLOSE, PING, RawWs, TEXT_FIRST, masked, raw, request_with};
use wsproto::frame::OpCode;
use wsproto::{CloseCode, Message};

const ECHOED: usize = 3;

/// A blocking client's view of a shutdown: the messages before the Close,
/// and the Close.
fn blocking_client_until_close(addr: std::net::SocketAddr) -> (Vec<Message>, Message) {
    let (mut ws, _) = wsproto::blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .connect()
        .unwrap();
    ws.send("hello").unwrap();
    let mut before = Vec::new();
    loop {
        match ws.read().unwrap() {
            close @ Message::Close(_) => {
                // The closing handshake completes: our echo went out.
                assert!(ws.read().unwrap_err().is_closed());
                return (before, close);
            }
            other => before.push(other),
        }
    }
}

fn going_away(message: &Message) -> bool {
    matches!(message, Message::Close(frame) if frame.code == CloseCode::GOING_AWAY)
}

#[test]
fn blocking_server_closes_every_connection_with_1001_after_what_it_queued() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = 4;
    let serving = thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..clients {
            let (tcp, _) = listener.accept().unwrap();
            let mut ws = server.accept(tcp).unwrap();
            handlers.push(thread::spawn(move || {
                // Queued before the shutdown, then the thread waits in read.
                for i in 0..ECHOED {
                    ws.feed(format!("queued {i}")).unwrap();
                }
                let mut seen = Vec::new();
                loop {
                    match ws.read() {
                        Ok(message) => seen.push(message),
                        Err(e) => return (seen, e),
                    }
                }
            }));
        }
        handlers
    });
    let client_threads: Vec<_> = (0..clients)
        .map(|_| thread::spawn(move || blocking_client_until_close(addr)))
        .collect();
    while set.live() < clients {
        thread::sleep(Duration::from_millis(5));
    }
    // Every handler is now blocked in read (its first message arrived or
    // is on the way); the shutdown must reach them there.
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (clients, 0), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(set.live(), 0);
    for client in client_threads {
        let (before, close) = client.join().unwrap();
        let expected: Vec<Message> = (0..ECHOED)
            .map(|i| Message::text(format!("queued {i}")))
            .collect();
        assert_eq!(before, expected);
        assert!(going_away(&close), "{close:?}");
    }
    for handler in serving.join().unwrap() {
        let (seen, end) = handler.join().unwrap();
        assert_eq!(seen.first(), Some(&Message::text("hello")));
        assert!(going_away(seen.last().unwrap()), "{seen:?}");
        assert!(end.is_closed(), "{end}");
    }
}

#[test]
fn blocking_upgrades_after_the_shutdown_are_answered_503() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    set.shutdown();
    let serving = thread::spawn(move || server.accept(listener.accept().unwrap().0));
    let error = wsproto::blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .connect()
        .unwrap_err();
    assert_eq!(error.http_status(), Some(503));
    let response = error.response().unwrap();
    assert_eq!(response.headers().get_str("retry-after"), Some("1"));
    let refused = serving.join().unwrap().unwrap_err();
    assert!(
        matches!(
            refused,
            wsproto::blocking::Error::Refused(wsproto::blocking::Refusal::ShuttingDown)
        ),
        "{refused:?}"
    );
    assert_eq!(set.live(), 0);
}

/// A peer that completes the handshake and then neither reads nor
/// answers: the set cuts it at the deadline.
fn silent_peer(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = [0u8; 129];
    tcp.read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"HTTP/1.1 101"));
    tcp
}

#[test]
fn blocking_a_peer_that_never_answers_is_cut_at_the_deadline() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = thread::spawn(move || {
        let mut ws = server.accept(listener.accept().unwrap().0).unwrap();
        loop {
            if let Err(e) = ws.read() {
                return e;
            }
        }
    });
    let _peer = silent_peer(addr);
    while set.live() < 1 {
        thread::sleep(Duration::from_millis(5));
    }
    set.shutdown();
    let started = Instant::now();
    let report = set.wait_timeout(Duration::from_millis(300));
    let waited = started.elapsed();
    assert_eq!((report.closed, report.cut), (0, 1), "{report:?}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert!(handler.join().unwrap().is_fatal());
}

#[test]
fn blocking_split_halves_in_two_threads_see_the_shutdown() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = thread::spawn(move || {
        let ws = server.accept(listener.accept().unwrap().0).unwrap();
        let (mut reader, writer) = ws.into_split().unwrap();
        let writing = thread::spawn(move || {
            for i in 0..ECHOED {
                writer.send(format!("queued {i}")).unwrap();
            }
        });
        writing.join().unwrap();
        loop {
            match reader.read() {
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    });
    let client = thread::spawn(move || blocking_client_until_close(addr));
    while set.live() < 1 {
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(50));
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let (before, close) = client.join().unwrap();
    assert_eq!(before.len(), ECHOED);
    assert!(going_away(&close), "{close:?}");
    assert!(handler.join().unwrap().is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_server_closes_every_connection_with_1001_after_what_it_queued() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = 4;
    let serving = tokio::spawn(async move {
        let mut handlers = Vec::new();
        for _ in 0..clients {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = server.accept(tcp).await.unwrap();
            handlers.push(tokio::spawn(async move {
                for i in 0..ECHOED {
                    ws.feed(format!("queued {i}")).await.unwrap();
                }
                let mut seen = Vec::new();
                while let Some(message) = ws.recv().await {
                    seen.push(message.unwrap());
                }
                seen
            }));
        }
        handlers
    });
    let client_threads: Vec<_> = (0..clients)
        .map(|_| thread::spawn(move || blocking_client_until_close(addr)))
        .collect();
    while set.live() < clients {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    set.shutdown_with(CloseCode::GOING_AWAY, "server shutting down");
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (clients, 0), "{report:?}");
    for client in client_threads {
        let (before, close) = client.join().unwrap();
        assert_eq!(before.len(), ECHOED);
        assert!(going_away(&close), "{close:?}");
    }
    for handler in serving.await.unwrap() {
        let seen = handler.await.unwrap();
        assert!(going_away(seen.last().unwrap()), "{seen:?}");
    }
}

#[tokio::test]
async fn tokio_a_peer_that_never_answers_is_cut_and_upgrades_after_are_refused() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move {
        let mut ws = server
            .accept(listener.accept().await.unwrap().0)
            .await
            .unwrap();
        let mut last = None;
        while let Some(message) = ws.recv().await {
            last = Some(message);
        }
        let refused = server.accept(listener.accept().await.unwrap().0).await;
        (last, refused.map(|_| ()))
    });
    let peer = tokio::task::spawn_blocking(move || silent_peer(addr))
        .await
        .unwrap();
    while set.live() < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    set.shutdown();
    let report = set.wait_timeout(Duration::from_millis(300)).await;
    assert_eq!((report.closed, report.cut), (0, 1), "{report:?}");
    let error = wsproto::tokio::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(503));
    let (last, refused) = serving.await.unwrap();
    assert!(last.unwrap().unwrap_err().is_fatal());
    assert!(refused.is_err());
    drop(peer);
}

/// Polls `condition` until it holds, panicking after 10 s.
fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        thread::sleep(Duration::from_millis(2)); // a poll interval, not a synchronisation
    }
}

/// The same, for a task.
async fn until_async(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await; // a poll interval
    }
}

/// Half a fragmented text message (its first frame), then a Ping whose
/// Pong proves the server has read the fragment: the message is half
/// received when the shutdown comes.
fn half_a_message(peer: &mut RawWs) {
    peer.send(&masked(TEXT_FIRST, b"the first half of"));
    peer.send(&masked(PING, b"read?"));
    match peer.next_frame() {
        Some((OpCode::Pong, true, payload)) => assert_eq!(payload, b"read?"),
        other => panic!("expected the Pong, got {other:?}"),
    }
}

/// The raw peer's side of the shutdown: exactly one Close, with 1001,
/// answered; then the server ends the TCP connection.
fn answer_the_1001(peer: &mut RawWs) {
    assert_eq!(peer.close_code(), 1001);
    peer.send(&masked(CLOSE, &1001u16.to_be_bytes()));
    peer.expect_eof();
}

#[test]
fn blocking_a_connection_mid_message_is_closed_with_1001() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = thread::spawn(move || {
        let mut ws = server.accept(listener.accept().unwrap().0).unwrap();
        let mut seen = Vec::new();
        loop {
            match ws.read() {
                Ok(message) => seen.push(message),
                Err(e) => return (seen, e),
            }
        }
    });
    let mut peer = RawWs::connect(addr);
    half_a_message(&mut peer);
    set.shutdown();
    answer_the_1001(&mut peer);
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let (seen, end) = handler.join().unwrap();
    // The half message is never handed out; the Ping is answered inside
    // `read` and handed out, then the Close echo.
    assert!(
        !seen.iter().any(Message::is_data),
        "a data message from half a message: {seen:?}"
    );
    assert!(going_away(seen.last().unwrap()), "{seen:?}");
    assert!(end.is_closed(), "{end}");
}

#[tokio::test]
async fn tokio_a_connection_mid_message_is_closed_with_1001() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = tokio::spawn(async move {
        let tcp = listener.accept().await.unwrap().0;
        let mut ws = server.accept(tcp).await.unwrap();
        let mut seen = Vec::new();
        while let Some(message) = ws.recv().await {
            seen.push(message.unwrap());
        }
        seen
    });
    let stopping = set.clone();
    tokio::task::spawn_blocking(move || {
        let mut peer = RawWs::connect(addr);
        half_a_message(&mut peer);
        stopping.shutdown();
        answer_the_1001(&mut peer);
    })
    .await
    .unwrap();
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let seen = handler.await.unwrap();
    assert!(!seen.iter().any(Message::is_data), "{seen:?}");
    assert!(going_away(seen.last().unwrap()), "{seen:?}");
}

/// A `wss://` client trusting `trust`, reading until the Close: what came
/// before it, and the Close.
fn tls_client_until_close(
    addr: std::net::SocketAddr,
    trust: Arc<wsproto::tls::rustls::ClientConfig>,
) -> (Vec<Message>, Message) {
    let (mut ws, _) = wsproto::blocking::ClientBuilder::new(format!("wss://{addr}/"))
        .tls_config(trust)
        .no_proxy()
        .connect()
        .unwrap();
    ws.send("hello").unwrap();
    let mut before = Vec::new();
    loop {
        match ws.read().unwrap() {
            close @ Message::Close(_) => {
                assert!(ws.read().unwrap_err().is_closed());
                return (before, close);
            }
            other => before.push(other),
        }
    }
}

#[cfg(feature = "tls")]
#[test]
fn blocking_a_tls_connection_waiting_in_read_is_closed_with_1001() {
    let (config, trust) = support::tls::pki(&["127.0.0.1"]);
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = thread::spawn(move || {
        let tcp = listener.accept().unwrap().0;
        let tls = wsproto::blocking::accept_tls(tcp, config, Duration::from_secs(5)).unwrap();
        let mut ws = server.accept(tls).unwrap();
        ws.feed("queued").unwrap();
        let mut seen = Vec::new();
        loop {
            match ws.read() {
                Ok(message) => seen.push(message),
                Err(e) => return (seen, e),
            }
        }
    });
    let client = thread::spawn(move || tls_client_until_close(addr, trust));
    until("the TLS connection joined", || set.live() == 1);
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let (before, close) = client.join().unwrap();
    assert_eq!(before, [Message::text("queued")]);
    assert!(going_away(&close), "{close:?}");
    let (seen, end) = handler.join().unwrap();
    assert!(going_away(seen.last().unwrap()), "{seen:?}");
    assert!(end.is_closed(), "{end}");
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_a_tls_connection_waiting_in_recv_is_closed_with_1001() {
    let (config, trust) = support::tls::pki(&["127.0.0.1"]);
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = tokio::spawn(async move {
        let tcp = listener.accept().await.unwrap().0;
        let tls = wsproto::tokio::accept_tls(tcp, config, Duration::from_secs(5))
            .await
            .unwrap();
        let mut ws = server.accept(tls).await.unwrap();
        ws.feed("queued").await.unwrap();
        let mut seen = Vec::new();
        while let Some(message) = ws.recv().await {
            seen.push(message.unwrap());
        }
        seen
    });
    let client = thread::spawn(move || tls_client_until_close(addr, trust));
    until_async("the TLS connection joined", || set.live() == 1).await;
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let (before, close) = client.join().unwrap();
    assert_eq!(before, [Message::text("queued")]);
    assert!(going_away(&close), "{close:?}");
    let seen = handler.await.unwrap();
    assert!(going_away(seen.last().unwrap()), "{seen:?}");
}

/// The reader in one task, the writer in another: the reader, waiting in
/// `recv`, is woken and sends the Close after what the writer sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_split_halves_in_two_tasks_see_the_shutdown() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent_tx, sent) = tokio::sync::oneshot::channel();
    let handler = tokio::spawn(async move {
        let tcp = listener.accept().await.unwrap().0;
        let (mut reader, writer) = server.accept(tcp).await.unwrap().into_split();
        let writing = tokio::spawn(async move {
            for i in 0..ECHOED {
                writer.send(format!("queued {i}")).await.unwrap();
            }
            sent_tx.send(()).unwrap();
            writer
        });
        let mut seen = Vec::new();
        while let Some(message) = reader.recv().await {
            seen.push(message.unwrap());
        }
        let _writer = writing.await.unwrap();
        seen
    });
    let client = thread::spawn(move || blocking_client_until_close(addr));
    sent.await.unwrap();
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (1, 0), "{report:?}");
    let (before, close) = client.join().unwrap();
    let expected: Vec<Message> = (0..ECHOED)
        .map(|i| Message::text(format!("queued {i}")))
        .collect();
    assert_eq!(before, expected);
    assert!(going_away(&close), "{close:?}");
    let seen = handler.await.unwrap();
    assert_eq!(seen.first(), Some(&Message::text("hello")));
    assert!(going_away(seen.last().unwrap()), "{seen:?}");
}

/// A request head half sent when the shutdown comes: the rest is answered
/// 503 with `Retry-After`, nothing joins, and `wait` returns at once.
fn half_a_handshake_is_refused(addr: std::net::SocketAddr, shutdown: impl FnOnce()) {
    let request = request_with("");
    let (first, rest) = request.as_bytes().split_at(request.len() / 2);
    let mut peer = raw(addr);
    peer.write_all(first).unwrap();
    shutdown();
    peer.write_all(rest).unwrap();
    let mut answer = Vec::new();
    peer.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
}

#[test]
fn blocking_a_handshake_under_way_at_the_shutdown_is_refused_with_503() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = thread::spawn(move || server.accept(listener.accept().unwrap().0));
    half_a_handshake_is_refused(addr, || set.shutdown());
    let refused = serving.join().unwrap().unwrap_err();
    assert!(
        matches!(
            refused,
            wsproto::blocking::Error::Refused(wsproto::blocking::Refusal::ShuttingDown)
        ),
        "{refused:?}"
    );
    let started = Instant::now();
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (0, 0), "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn tokio_a_handshake_under_way_at_the_shutdown_is_refused_with_503() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move {
        let tcp = listener.accept().await.unwrap().0;
        server.accept(tcp).await.map(|_| ())
    });
    let stopping = set.clone();
    tokio::task::spawn_blocking(move || half_a_handshake_is_refused(addr, || stopping.shutdown()))
        .await
        .unwrap();
    let refused = serving.await.unwrap().unwrap_err();
    assert!(
        matches!(
            refused,
            wsproto::tokio::Error::Refused(wsproto::tokio::Refusal::ShuttingDown)
        ),
        "{refused:?}"
    );
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (0, 0), "{report:?}");
}

/// How many clients race a shutdown.
const RACING: usize = 24;

/// One client racing a shutdown: refused with 503, or upgraded and then
/// closed with exactly one 1001 and a complete closing handshake; `true`
/// when upgraded.
fn racing_client(addr: std::net::SocketAddr) -> bool {
    match wsproto::blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .connect()
    {
        Err(e) => {
            assert_eq!(e.http_status(), Some(503), "{e}");
            false
        }
        Ok((mut ws, _)) => {
            let mut closes = Vec::new();
            let end = loop {
                match ws.read() {
                    Ok(Message::Close(frame)) => closes.push(frame.code),
                    Ok(_) => {}
                    Err(e) => break e,
                }
            };
            assert_eq!(closes, [CloseCode::GOING_AWAY]);
            assert!(end.is_closed(), "{end}");
            true
        }
    }
}

/// Clients connecting while the shutdown comes: each is refused (503) or
/// upgraded and closed with 1001, and the set counts exactly the upgraded
/// ones. The place in the set is taken before the `101` goes out, so a
/// `wait` never returns while an upgrade it missed is being answered.
#[test]
fn blocking_upgrades_racing_the_shutdown_are_refused_or_closed_and_counted() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = thread::spawn(move || {
        for _ in 0..RACING {
            let tcp = listener.accept().unwrap().0;
            let server = server.clone();
            thread::spawn(move || {
                if let Ok(mut ws) = server.accept(tcp) {
                    while ws.read().is_ok() {}
                }
            });
        }
    });
    let clients: Vec<_> = (0..RACING)
        .map(|_| thread::spawn(move || racing_client(addr)))
        .collect();
    until("a few upgraded", || set.live() >= 3);
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5));
    let upgraded = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&upgraded| upgraded)
        .count();
    acceptor.join().unwrap();
    assert!(upgraded >= 3);
    assert_eq!((report.closed, report.cut), (upgraded, 0), "{report:?}");
    eprintln!("{upgraded} of {RACING} upgraded before the shutdown, the rest refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_upgrades_racing_the_shutdown_are_refused_or_closed_and_counted() {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio::spawn(async move {
        for _ in 0..RACING {
            let tcp = listener.accept().await.unwrap().0;
            let server = server.clone();
            tokio::spawn(async move {
                if let Ok(mut ws) = server.accept(tcp).await {
                    while let Some(Ok(_)) = ws.recv().await {}
                }
            });
        }
    });
    let clients: Vec<_> = (0..RACING)
        .map(|_| thread::spawn(move || racing_client(addr)))
        .collect();
    until_async("a few upgraded", || set.live() >= 3).await;
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    let upgraded = tokio::task::spawn_blocking(move || {
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .filter(|&upgraded| upgraded)
            .count()
    })
    .await
    .unwrap();
    acceptor.await.unwrap();
    assert!(upgraded >= 3);
    assert_eq!((report.closed, report.cut), (upgraded, 0), "{report:?}");
}

/// The axum extractor with `axum::serve(..).with_graceful_shutdown(..)`:
/// at the signal the set is shut down, `serve` returns (the upgraded
/// sockets are no longer its own), and `wait` sees every socket closed
/// with 1001.
#[cfg(feature = "axum")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serve_with_graceful_shutdown_returns_and_every_socket_gets_1001() {
    use axum::extract::State;
    use axum::routing::any;
    use wsproto::axum::{WebSocket, WebSocketUpgrade};
    use wsproto::tokio::ConnectionSet;

    async fn echo(
        ws: WebSocketUpgrade,
        State(set): State<ConnectionSet>,
    ) -> axum::response::Response {
        ws.connection_set(&set)
            .on_upgrade(|mut socket: WebSocket| async move {
                while let Some(Ok(message)) = socket.recv().await {
                    if message.is_data() && socket.send(message).await.is_err() {
                        return;
                    }
                }
            })
    }

    let set = ConnectionSet::new();
    let app = axum::Router::new()
        .route("/ws", any(echo))
        .with_state(set.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopping = set.clone();
    let serving = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                stopping.shutdown();
            })
            .into_future(),
    );
    let clients = 5;
    let mut readers = Vec::new();
    for i in 0..clients {
        let (mut ws, _) = wsproto::tokio::ClientBuilder::new(format!("ws://{addr}/ws"))
            .no_proxy()
            .connect()
            .await
            .unwrap();
        ws.send(format!("hello {i}")).await.unwrap();
        let echo = ws.recv().await.unwrap().unwrap();
        assert_eq!(echo, Message::text(format!("hello {i}")));
        readers.push(tokio::spawn(async move {
            let mut closes = Vec::new();
            while let Some(message) = ws.recv().await {
                if let Message::Close(frame) = message.unwrap() {
                    closes.push(frame.code);
                }
            }
            closes
        }));
    }
    assert_eq!(set.live(), clients);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("axum::serve returns after the signal")
        .unwrap()
        .unwrap();
    let report = set.wait_timeout(Duration::from_secs(5)).await;
    assert_eq!((report.closed, report.cut), (clients, 0), "{report:?}");
    for reader in readers {
        assert_eq!(reader.await.unwrap(), [CloseCode::GOING_AWAY]);
    }
}

/// A server on `listener` for one connection at a time, each in a set of
/// its own (a server restarted in place): sends "hello N", then closes as
/// `how` says; returns when the closing handshake is over.
fn serve_then(
    listener: &TcpListener,
    n: usize,
    how: fn(
        &wsproto::blocking::ConnectionSet,
        &mut wsproto::blocking::WebSocket<std::net::TcpStream>,
    ),
) {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let mut ws = server.accept(listener.accept().unwrap().0).unwrap();
    ws.send(format!("hello {n}")).unwrap();
    how(&set, &mut ws);
    while ws.read().is_ok() {}
}

/// The set's shutdown (1001), then on the next connection a Close with
/// 1008 (policy): the client is back soon after the first, and stops
/// after the second.
fn restart_then_policy(listener: TcpListener) -> thread::JoinHandle<TcpListener> {
    thread::spawn(move || {
        serve_then(&listener, 0, |set, _| set.shutdown());
        serve_then(&listener, 1, |_, ws| ws.close(1008, "not allowed").unwrap());
        listener
    })
}

/// After the reconnecting client stopped: no connection was attempted.
fn no_third_connection(listener: &TcpListener) {
    listener.set_nonblocking(true).unwrap();
    let attempt = listener.accept().map(|_| ()).unwrap_err();
    assert_eq!(attempt.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn blocking_reconnecting_client_is_back_soon_after_1001_and_stops_after_1008() {
    use wsproto::blocking::{ClientBuilder, Error, ReconnectingClient};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = restart_then_policy(listener);
    let mut client = ReconnectingClient::new(
        ClientBuilder::new(format!("ws://{addr}/")).no_proxy(),
        |_, _| Ok(()),
    );
    assert_eq!(client.read().unwrap(), Message::text("hello 0"));
    assert!(going_away(&client.read().unwrap()));
    let closed = Instant::now();
    assert_eq!(client.read().unwrap(), Message::text("hello 1"));
    let back = closed.elapsed();
    eprintln!("back {back:?} after the 1001");
    assert!(back < Duration::from_secs(1), "{back:?}");
    assert_eq!(client.connects(), 2);
    match client.read().unwrap() {
        Message::Close(frame) => assert_eq!(frame.code.as_u16(), 1008),
        other => panic!("{other:?}"),
    }
    match client.read().unwrap_err() {
        Error::ServerClosed(frame) => assert_eq!(frame.code.as_u16(), 1008),
        other => panic!("{other:?}"),
    }
    let listener = server.join().unwrap();
    assert!(client.read().is_err());
    assert_eq!(client.connects(), 2);
    no_third_connection(&listener);
}

#[tokio::test]
async fn tokio_reconnecting_client_is_back_soon_after_1001_and_stops_after_1008() {
    use wsproto::tokio::{ClientBuilder, Error, ReconnectingClient};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = restart_then_policy(listener);
    let mut client = ReconnectingClient::new(
        ClientBuilder::new(format!("ws://{addr}/")).no_proxy(),
        async |_, _| Ok(()),
    );
    let mut next = async || client.recv().await.unwrap();
    assert_eq!(next().await.unwrap(), Message::text("hello 0"));
    assert!(going_away(&next().await.unwrap()));
    let closed = Instant::now();
    assert_eq!(next().await.unwrap(), Message::text("hello 1"));
    let back = closed.elapsed();
    assert!(back < Duration::from_secs(1), "{back:?}");
    match next().await.unwrap() {
        Message::Close(frame) => assert_eq!(frame.code.as_u16(), 1008),
        other => panic!("{other:?}"),
    }
    match next().await.unwrap_err() {
        Error::ServerClosed(frame) => assert_eq!(frame.code.as_u16(), 1008),
        other => panic!("{other:?}"),
    }
    assert!(client.recv().await.is_none_or(|end| end.is_err()));
    assert_eq!(client.connects(), 2);
    let listener = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    no_third_connection(&listener);
}
