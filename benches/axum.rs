//! WebSockets behind axum 0.8, wsproto's extractor against axum's own
//! (`axum::extract::ws`, tokio-tungstenite underneath), over loopback TCP.
//! The server runs on one thread (a current-thread runtime), the clients
//! on another, so the server's CPU is what is compared.
//!
//! - **Handshake**: a client connects, writes an HTTP/1.1 upgrade request
//!   (Chrome's header fields, no extension offered), reads the `101`, and
//!   drops the connection; one at a time. The server does hyper's parsing,
//!   axum's routing, the extractor, the response, the hand-over of the
//!   connection and the socket's creation (the callback returns at once).
//!   Handshakes per second and the median time of one.
//! - **Echo, 100 connections**: 100 clients (wsproto's tokio client, the
//!   same for every server) each send 2,000 16-byte binary messages,
//!   flushing every 16, while reading the echoes; the server's handler is
//!   the naive `while let Some(msg) = socket.recv().await {
//!   socket.send(msg).await }` of each crate's docs. Messages echoed per
//!   second (both ways counted once).
//!
//! Every server and client socket has TCP_NODELAY.
//!
//! Servers:
//! - `wsproto`: `axum::serve` with `wsproto::axum::WebSocketUpgrade`.
//! - `axum`: `axum::serve` with `axum::extract::ws::WebSocketUpgrade`.
//!
//! (A third server, hyper's HTTP/1.1 builder with the extractor taking
//! the raw `TcpStream` out of `Upgraded`, measured that downcast: no gain,
//! see docs/PERFORMANCE.md; it went with the downcast.)
//!
//! Rounds are interleaved server by server; the median of the rounds is
//! printed, and each ratio comes from the same run.
//!
//! ```sh
//! cargo bench -p wsproto-benches --bench axum              # ~1 min on 2 cores
//! cargo bench -p wsproto-benches --bench axum -- --quick   # smoke run (CI), a few seconds
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Response;
use axum::routing::any;
use axum::serve::ListenerExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Wsproto,
    Axum,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Wsproto => "wsproto",
            Server::Axum => "axum",
        }
    }
}

const ALL: [Server; 2] = [Server::Wsproto, Server::Axum];

async fn ours(ws: wsproto::axum::WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if socket.send(message).await.is_err() {
                return;
            }
        }
    })
}

async fn theirs(ws: axum::extract::ws::WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if socket.send(message).await.is_err() {
                return;
            }
        }
    })
}

/// CPU time the thread called `name` has run so far, in nanoseconds
/// (Linux: the first field of `/proc/self/task/TID/schedstat`). Wall
/// clock on a VM shared with other builders swings by 4× from round to
/// round; the server thread's own CPU time does not.
fn thread_cpu_ns(name: &str) -> u64 {
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap();
            return stat.split(' ').next().unwrap().parse().unwrap();
        }
    }
    panic!("no thread {name}")
}

/// Starts `server` on its own thread, named after it; its address.
fn start(server: Server) -> SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let thread = std::thread::Builder::new().name(server.name().to_owned());
    thread
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let app = match server {
                    Server::Axum => Router::new().route("/", any(theirs)),
                    Server::Wsproto => Router::new().route("/", any(ours)),
                };
                // TCP_NODELAY on the accepted sockets (axum::serve leaves
                // Nagle on by default: 40 ms stalls on small echoes).
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, app).await.unwrap();
            });
        })
        .unwrap();
    addr
}

const REQUEST: &str = "GET / HTTP/1.1\r\n\
    Host: 127.0.0.1\r\n\
    Connection: Upgrade\r\n\
    Pragma: no-cache\r\n\
    Cache-Control: no-cache\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
    Upgrade: websocket\r\n\
    Origin: http://127.0.0.1\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Accept-Encoding: gzip, deflate, br, zstd\r\n\
    Accept-Language: en-US,en;q=0.9\r\n\
    Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n";

/// `n` handshakes one after the other: (handshakes per second, median µs).
async fn handshakes(addr: SocketAddr, n: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(n);
    let start = Instant::now();
    let mut buf = vec![0; 1024];
    let accept = wsproto::handshake::accept_key("x3JJHMbDL1EzLkh9GBhXDw==");
    for _ in 0..n {
        let t = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.write_all(REQUEST.as_bytes()).await.unwrap();
        let mut len = 0;
        while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            let got = tcp.read(&mut buf[len..]).await.unwrap();
            assert!(got > 0, "server closed before its response");
            len += got;
        }
        assert!(buf.starts_with(b"HTTP/1.1 101"), "{:?}", &buf[..len]);
        assert!(
            String::from_utf8_lossy(&buf[..len]).contains(&accept),
            "wrong accept"
        );
        times.push(t.elapsed());
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    times.sort();
    (rate, times[n / 2].as_secs_f64() * 1e6)
}

/// `conns` connections × `messages` echoes; messages per second.
async fn echo(addr: SocketAddr, conns: usize, messages: usize) -> f64 {
    let mut clients = Vec::new();
    for _ in 0..conns {
        let (ws, _) = wsproto::tokio::connect(&format!("ws://{addr}/"))
            .await
            .unwrap();
        clients.push(ws);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for ws in clients {
        tasks.push(tokio::spawn(async move {
            let (mut reader, writer) = ws.into_split();
            let sending = tokio::spawn(async move {
                let payload = [7u8; 16];
                for i in 0..messages {
                    writer
                        .feed(wsproto::Message::binary(&payload[..]))
                        .await
                        .unwrap();
                    if i % 16 == 15 {
                        writer.flush().await.unwrap();
                    }
                }
                writer.flush().await.unwrap();
                writer
            });
            let mut got = 0;
            while got < messages {
                match reader.recv().await {
                    Some(Ok(m)) if m.is_data() => got += 1,
                    Some(Ok(_)) => {}
                    other => panic!("echo ended early: {other:?}"),
                }
            }
            let writer = sending.await.unwrap();
            let _ = writer.close(1000, "").await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (conns * messages) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("WSPROTO_BENCH_QUICK").is_some();
    let (rounds, shakes, conns, messages) = if quick {
        (1, 200, 20, 200)
    } else {
        (5, 2_000, 100, 2_000)
    };
    // Every server in this process, on its own thread.
    let addrs: Vec<(Server, SocketAddr)> = ALL.iter().map(|&s| (s, start(s))).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));

    // Per server: handshake p50 (µs, wall), server CPU per handshake (µs),
    // echo rate (messages/s, wall), server CPU per echoed message (ns).
    let mut rows = vec![[const { Vec::new() }; 4]; ALL.len()];
    for round in 0..rounds {
        for (i, (server, addr)) in addrs.iter().enumerate() {
            let cpu = thread_cpu_ns(server.name());
            let (_, p50) = rt.block_on(handshakes(*addr, shakes));
            let shake_cpu = (thread_cpu_ns(server.name()) - cpu) as f64 / shakes as f64 / 1e3;
            // Let the sockets of the handshakes end first.
            std::thread::sleep(Duration::from_millis(20));
            let cpu = thread_cpu_ns(server.name());
            let echoed = rt.block_on(echo(*addr, conns, messages));
            let echo_cpu = (thread_cpu_ns(server.name()) - cpu) as f64 / (conns * messages) as f64;
            eprintln!(
                "round {round} {:12} handshake p50 {p50:6.1} µs, server CPU {shake_cpu:5.1} µs; \
                 echo {:6.3} M msg/s, server CPU {echo_cpu:6.0} ns/msg",
                server.name(),
                echoed / 1e6
            );
            for (row, value) in rows[i].iter_mut().zip([p50, shake_cpu, echoed, echo_cpu]) {
                row.push(value);
            }
        }
    }
    let m: Vec<[f64; 4]> = rows.into_iter().map(|r| r.map(median)).collect();
    println!(
        "| server | handshake p50 (wall) | server CPU per handshake | echo, {conns} connections × {messages} × 16 B (wall) | server CPU per message |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (i, server) in ALL.iter().enumerate() {
        println!(
            "| {} | {:.1} µs | {:.1} µs | {:.3} M msg/s | {:.0} ns |",
            server.name(),
            m[i][0],
            m[i][1],
            m[i][2] / 1e6,
            m[i][3]
        );
    }
    println!(
        "server CPU, axum / wsproto: handshake {:.2}×, echo {:.2}× (medians of {rounds} rounds)",
        m[1][1] / m[0][1],
        m[1][3] / m[0][3],
    );
}
