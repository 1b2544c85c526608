//! A server-wide `MemoryBudget` under a flood of peers that send most of a
//! large message and stop, both adapters and the axum extractor, real
//! sockets on loopback: the budget's count never goes over its limit, small
//! echoes keep flowing, the parked peers are closed at their time bound
//! (1008 for the message timeout, 1013 for the budget's wait limit), an
//! honest large message goes through once they are gone, and the count is
//! back to 0 at the end.

#![cfg(all(feature = "blocking", feature = "tokio"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use wsproto::adapter::MemoryBudget;
use wsproto::{Config, Message};

const LIMIT: usize = 16 << 20;
const PEERS: usize = 40;
/// Each peer declares a 2 MiB frame and sends 1.5 MiB of it.
const DECLARED: usize = 2 << 20;
const SENT: usize = 3 << 19;

fn budget() -> MemoryBudget {
    MemoryBudget::new(LIMIT).wait_limit(Some(Duration::from_secs(10)))
}

/// The server's message timeout in these tests.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(2);

/// A blocking echo server, a thread per connection.
fn blocking_server(budget: &MemoryBudget) -> SocketAddr {
    let server = wsproto::blocking::ServerBuilder::new()
        .memory_budget(budget)
        .message_timeout(Some(MESSAGE_TIMEOUT));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let server = server.clone();
            thread::spawn(move || {
                let Ok(mut ws) = server.accept(tcp.unwrap()) else {
                    return;
                };
                while let Ok(message) = ws.read() {
                    if message.is_data() && ws.send(message).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A tokio echo server on a runtime of its own.
fn tokio_server(budget: &MemoryBudget) -> SocketAddr {
    let server = wsproto::tokio::ServerBuilder::new()
        .memory_budget(budget)
        .message_timeout(Some(MESSAGE_TIMEOUT));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let server = server.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = server.accept(tcp).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.recv().await {
                        if message.is_data() && ws.send(message).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    addr
}

/// axum's `/echo` with the extractor, on a runtime of its own.
fn axum_server(budget: &MemoryBudget) -> SocketAddr {
    use axum::extract::State;
    use axum::response::Response;
    use wsproto::axum::WebSocketUpgrade;

    async fn echo(ws: WebSocketUpgrade, State(budget): State<MemoryBudget>) -> Response {
        ws.memory_budget(&budget)
            .message_timeout(Some(MESSAGE_TIMEOUT))
            .on_upgrade(|mut socket| async move {
                while let Some(Ok(message)) = socket.recv().await {
                    if message.is_data() && socket.send(message).await.is_err() {
                        return;
                    }
                }
            })
    }
    let app = axum::Router::new()
        .route("/", axum::routing::any(echo))
        .with_state(budget.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

/// A raw client that completes the handshake.
fn handshake(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).unwrap();
    write!(
        tcp,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// A peer that sends the header of a `DECLARED`-byte binary frame and
/// `SENT` bytes of it (masked with a zero key), then stops sending; the
/// close code it reads back, if the server closes.
fn parked_peer(addr: SocketAddr) -> Option<u16> {
    let mut tcp = handshake(addr);
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(DECLARED as u64).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    tcp.write_all(&header).unwrap();
    // The server stops reading when the budget is spent: the rest waits in
    // the kernel, or the write fails once the server closes.
    let _ = tcp.write_all(&vec![7u8; SENT]);
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = [0u8; 4];
    tcp.read_exact(&mut answer).ok()?;
    (answer[0] == 0x88).then(|| u16::from_be_bytes([answer[2], answer[3]]))
}

/// A client's echo of `message`, and how long it took.
fn echo_time(addr: SocketAddr, message: Message) -> Duration {
    let started = Instant::now();
    let (mut ws, _) = wsproto::blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .config(Config::default())
        .connect()
        .unwrap();
    ws.send(message.clone()).unwrap();
    let echoed = ws.read().unwrap();
    // Compared without printing megabytes on a failure.
    assert!(
        echoed == message,
        "{} bytes came back, not the {} sent: {:?}",
        echoed.len(),
        message.len(),
        echoed.is_close()
    );
    let took = started.elapsed();
    ws.close(1000, "").unwrap();
    while ws.read().is_ok() {}
    took
}

fn flood(addr: SocketAddr, budget: &MemoryBudget) {
    // The budget's count, sampled while the flood lasts.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (budget, done) = (budget.clone(), done.clone());
        thread::spawn(move || {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(budget.used());
                thread::sleep(Duration::from_millis(2));
            }
            max
        })
    };
    let peers: Vec<_> = (0..PEERS)
        .map(|_| thread::spawn(move || parked_peer(addr)))
        .collect();
    // Once the budget is spent, a fresh client still gets its echo at
    // once: the floor of its connection is outside the budget.
    let spent = Instant::now();
    while budget.used() + DECLARED < LIMIT && spent.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        budget.used() + DECLARED >= LIMIT,
        "the flood did not spend the budget"
    );
    let small = echo_time(addr, Message::text("still here"));
    assert!(small < Duration::from_secs(1), "{small:?}");
    eprintln!(
        "budget spent after {:?}, small echo in {small:?}",
        spent.elapsed()
    );
    let codes: Vec<Option<u16>> = peers.into_iter().map(|p| p.join().unwrap()).collect();
    eprintln!("parked peers closed after {:?}", spent.elapsed());
    // Once the parked peers hit their time bound and their bytes are
    // freed, an honest large message goes through at once.
    let large = echo_time(addr, Message::binary(vec![9u8; 4 << 20]));
    eprintln!("large echo in {large:?}");
    assert!(large < Duration::from_secs(5), "{large:?}");
    done.store(true, Ordering::Relaxed);
    let max = sampler.join().unwrap();
    assert!(max <= LIMIT, "counted {max} > {LIMIT}");
    assert!(budget.peak() <= LIMIT, "peak {}", budget.peak());
    // Every parked peer was closed: 1008 at the message timeout, or 1013
    // when it waited for memory past the wait limit.
    for code in &codes {
        assert!(matches!(code, Some(1008 | 1013)), "{codes:?}");
    }
    // Everything given back once the connections are gone.
    let end = Instant::now();
    while budget.used() > 0 && end.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(budget.used(), 0);
}

#[test]
fn blocking_server_under_a_flood_stays_within_its_budget() {
    let budget = budget();
    flood(blocking_server(&budget), &budget);
}

#[test]
fn tokio_server_under_a_flood_stays_within_its_budget() {
    let budget = budget();
    flood(tokio_server(&budget), &budget);
}

#[test]
fn axum_extractor_under_a_flood_stays_within_its_budget() {
    let budget = budget();
    flood(axum_server(&budget), &budget);
}
