//! Echo over real TCP on 127.0.0.1 (port 0), three implementations with the
//! same client pattern: raw TCP (the baseline), wsproto blocking and
//! tungstenite 0.30 blocking. Every socket has TCP_NODELAY, both sides.
//!
//! - Round-trip latency: the client sends a 16-byte binary message and
//!   waits for its echo, one at a time (warm-up first); p50 and p99.
//! - Pipelined throughput: the client sends 64 KiB binary messages from a
//!   writer thread while a reader thread receives the echoes; payload
//!   bytes echoed back per second (1 GB = 1e9 bytes), the median of
//!   several runs. Implementations are interleaved run by run so that a
//!   machine that drifts (heat, a noisy neighbour) affects them alike.
//!
//! The server echoes every message on its own thread: raw TCP copies bytes
//! back as they are read (64 KiB buffer, `write_all`); the WebSocket
//! servers read a message and send the same message back (its payload, not
//! a copy). WebSocket clients mask their frames (client role, RFC 6455
//! §5.3); servers do not.
//!
//! How each client pipelines:
//! - raw TCP: a `try_clone`d handle for the writer thread; the reader reads
//!   exactly 64 KiB per "message".
//! - wsproto: `connect`, then `WebSocket::split()`: the writer half in one
//!   thread, the reader half in the other.
//! - tungstenite has no split: after `tungstenite::client` over a
//!   `TcpStream`, two `WebSocket::from_raw_socket(Role::Client)` objects
//!   over `try_clone`d handles, one that only writes and one that only
//!   reads. That is fine here because nothing but data messages flows
//!   until the end (no Ping the reader would have to answer). To end, the
//!   writer object sends a Close and the reader object waits for the
//!   server's; errors after that are ignored (the reader object answers the
//!   server's Close too, unaware that the writer object started it).
//!
//! Run:
//!
//! ```sh
//! cargo bench -p wsproto-benches --bench loopback                  # full run, ~10 s on 2 cores
//! cargo bench -p wsproto-benches --bench loopback -- --quick       # smoke run (CI), ~1 s
//! cargo bench -p wsproto-benches --bench loopback -- --repeats 9   # median of 9 throughput runs
//! WSPROTO_BENCH_QUICK=1 cargo bench -p wsproto-benches --bench loopback   # same as --quick
//! ```
//!
//! Options: `--quick`, `--repeats N` (throughput runs per implementation,
//! default 5), `--round-trips N`, `--messages N` (64 KiB messages per
//! throughput run, default 8,000 = 500 MiB: with 2,000 the runs of raw
//! TCP spread by ±25 % on a 2-core VM, with 8,000 by ±2 %).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The latency test's message size.
const SMALL: usize = 16;
/// The throughput test's message size.
const LARGE: usize = 64 << 10;

#[derive(Debug, Clone, Copy)]
struct Settings {
    warmup: usize,
    round_trips: usize,
    messages: usize,
    repeats: usize,
}

impl Settings {
    fn from_args() -> Settings {
        let quick = std::env::var_os("WSPROTO_BENCH_QUICK").is_some_and(|v| v != "0")
            || std::env::args().any(|a| a == "--quick");
        let mut settings = if quick {
            Settings {
                warmup: 50,
                round_trips: 300,
                messages: 64, // 4 MiB
                repeats: 1,
            }
        } else {
            Settings {
                warmup: 1_000,
                round_trips: 20_000,
                messages: 8_000, // 500 MiB
                repeats: 5,
            }
        };
        // `cargo bench` passes `--bench`; anything unknown is ignored.
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = || -> usize {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| panic!("{arg} needs a positive number"))
            };
            match arg.as_str() {
                "--repeats" => settings.repeats = number(),
                "--round-trips" => settings.round_trips = number(),
                "--messages" => settings.messages = number(),
                _ => {}
            }
        }
        settings
    }
}

/// One implementation: its echo server and its client.
trait Echo {
    const NAME: &'static str;
    type Client;
    type Tx: Send;
    type Rx;

    /// Echoes every message until the client closes, then returns.
    fn serve(tcp: TcpStream);
    fn connect(addr: SocketAddr) -> Self::Client;
    /// Sends `payload` and waits for its echo.
    fn round_trip(client: &mut Self::Client, payload: &Bytes);
    /// Closes cleanly (the server sees the end and returns).
    fn close(client: Self::Client);
    /// A writer and a reader for two threads.
    fn split(client: Self::Client) -> (Self::Tx, Self::Rx);
    fn send(tx: &mut Self::Tx, payload: &Bytes);
    /// Receives one echoed message; its payload length.
    fn recv(rx: &mut Self::Rx) -> usize;
    /// Closes cleanly after a split.
    fn close_split(tx: Self::Tx, rx: Self::Rx);
}

/// Runs `client` against a fresh server of `E` on its own thread, and
/// waits for the server to return.
fn with_server<E: Echo, T>(client: impl FnOnce(SocketAddr) -> T) -> T {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    thread::scope(|s| {
        let server = s.spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            drop(listener);
            E::serve(tcp);
        });
        let out = client(addr);
        server.join().expect("server thread");
        out
    })
}

/// Round-trip times in nanoseconds, after the warm-up.
fn latency<E: Echo>(settings: &Settings) -> Vec<u64> {
    let payload = Bytes::from_static(b"{\"seq\":12345678}");
    assert_eq!(payload.len(), SMALL);
    with_server::<E, _>(|addr| {
        let mut client = E::connect(addr);
        for _ in 0..settings.warmup {
            E::round_trip(&mut client, &payload);
        }
        let mut samples = Vec::with_capacity(settings.round_trips);
        for _ in 0..settings.round_trips {
            let start = Instant::now();
            E::round_trip(&mut client, &payload);
            samples.push(start.elapsed().as_nanos() as u64);
        }
        E::close(client);
        samples.sort_unstable();
        samples
    })
}

/// Time for `messages` 64 KiB messages to come back, pipelined.
fn throughput<E: Echo>(messages: usize) -> Duration {
    let payload = Bytes::from((0..LARGE).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    with_server::<E, _>(|addr| {
        let client = E::connect(addr);
        let (mut tx, mut rx) = E::split(client);
        thread::scope(|s| {
            let start = Instant::now();
            let writer = s.spawn(|| {
                for _ in 0..messages {
                    E::send(&mut tx, &payload);
                }
                tx
            });
            let mut bytes = 0;
            for _ in 0..messages {
                bytes += E::recv(&mut rx);
            }
            let elapsed = start.elapsed();
            assert_eq!(bytes, messages * LARGE);
            let tx = writer.join().expect("writer thread");
            E::close_split(tx, rx);
            elapsed
        })
    })
}

fn connect_tcp(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

struct RawTcp;

impl Echo for RawTcp {
    const NAME: &'static str = "raw TCP";
    type Client = TcpStream;
    type Tx = TcpStream;
    type Rx = (TcpStream, Vec<u8>);

    fn serve(mut tcp: TcpStream) {
        let mut buf = vec![0; LARGE];
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => tcp.write_all(&buf[..n]).expect("raw server write"),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("raw server read: {e}"),
            }
        }
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        connect_tcp(addr)
    }

    fn round_trip(tcp: &mut TcpStream, payload: &Bytes) {
        let mut echo = [0; SMALL];
        tcp.write_all(payload).expect("raw write");
        tcp.read_exact(&mut echo).expect("raw read");
        assert_eq!(echo[..], payload[..]);
    }

    fn close(tcp: TcpStream) {
        Self::close_split(tcp.try_clone().expect("clone"), (tcp, Vec::new()));
    }

    fn split(tcp: TcpStream) -> (TcpStream, (TcpStream, Vec<u8>)) {
        let writer = tcp.try_clone().expect("try_clone");
        (writer, (tcp, vec![0; LARGE]))
    }

    fn send(tx: &mut TcpStream, payload: &Bytes) {
        tx.write_all(payload).expect("raw write");
    }

    fn recv((tcp, buf): &mut (TcpStream, Vec<u8>)) -> usize {
        tcp.read_exact(buf).expect("raw read");
        buf.len()
    }

    fn close_split(tx: TcpStream, (mut rx, _): (TcpStream, Vec<u8>)) {
        // Our end of stream; the server returns on it and closes, which
        // ends our reads.
        tx.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = [0; 64];
        while rx.read(&mut rest).expect("raw read at the end") > 0 {}
    }
}

struct Wsproto;

type WsClient = wsproto::blocking::WebSocket<wsproto::blocking::MaybeTlsStream<TcpStream>>;

impl Echo for Wsproto {
    const NAME: &'static str = "wsproto";
    type Client = WsClient;
    type Tx = wsproto::blocking::WebSocketWriter<wsproto::blocking::MaybeTlsStream<TcpStream>>;
    type Rx = wsproto::blocking::WebSocketReader<wsproto::blocking::MaybeTlsStream<TcpStream>>;

    fn serve(tcp: TcpStream) {
        let mut ws = wsproto::blocking::accept(tcp).expect("wsproto accept");
        loop {
            match ws.read() {
                Ok(message) if message.is_data() => ws.send(message).expect("wsproto server send"),
                Ok(_) => {}
                Err(e) if e.is_closed() => return,
                Err(e) => panic!("wsproto server read: {e}"),
            }
        }
    }

    fn connect(addr: SocketAddr) -> WsClient {
        let (ws, _) =
            wsproto::blocking::connect(&format!("ws://{addr}/")).expect("wsproto connect");
        // `connect` sets it already; said again so all three match.
        ws.get_ref().get_ref().set_nodelay(true).expect("nodelay");
        ws
    }

    fn round_trip(ws: &mut WsClient, payload: &Bytes) {
        use wsproto::blocking::Message;
        ws.send(Message::Binary(payload.clone()))
            .expect("wsproto send");
        match ws.read() {
            Ok(Message::Binary(echo)) => assert_eq!(echo.len(), payload.len()),
            other => panic!("wsproto read: {other:?}"),
        }
    }

    fn close(mut ws: WsClient) {
        ws.close(1000, "").expect("wsproto close");
        loop {
            match ws.read() {
                Ok(_) => {}
                Err(e) if e.is_closed() => return,
                Err(e) => panic!("wsproto closing: {e}"),
            }
        }
    }

    fn split(ws: WsClient) -> (Self::Tx, Self::Rx) {
        let (reader, writer) = ws.into_split().expect("wsproto split");
        (writer, reader)
    }

    fn send(tx: &mut Self::Tx, payload: &Bytes) {
        tx.send(wsproto::blocking::Message::Binary(payload.clone()))
            .expect("wsproto send");
    }

    fn recv(rx: &mut Self::Rx) -> usize {
        match rx.read() {
            Ok(wsproto::blocking::Message::Binary(echo)) => echo.len(),
            other => panic!("wsproto read: {other:?}"),
        }
    }

    fn close_split(tx: Self::Tx, mut rx: Self::Rx) {
        tx.close(1000, "").expect("wsproto close");
        loop {
            match rx.read() {
                Ok(_) => {}
                Err(e) if e.is_closed() => return,
                Err(e) => panic!("wsproto closing: {e}"),
            }
        }
    }
}

struct Tungstenite;

type TungSocket = tungstenite::WebSocket<TcpStream>;

/// Whether a tungstenite error is the normal end of a connection.
fn tung_ended(e: &tungstenite::Error) -> bool {
    use tungstenite::error::{Error, ProtocolError};
    matches!(
        e,
        Error::ConnectionClosed
            | Error::AlreadyClosed
            | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)
    )
}

impl Echo for Tungstenite {
    const NAME: &'static str = "tungstenite";
    type Client = TungSocket;
    type Tx = TungSocket;
    type Rx = TungSocket;

    fn serve(tcp: TcpStream) {
        let mut ws = tungstenite::accept(tcp).expect("tungstenite accept");
        loop {
            match ws.read() {
                Ok(message) if message.is_binary() || message.is_text() => match ws.send(message) {
                    Ok(()) => {}
                    Err(e) if tung_ended(&e) => return,
                    Err(e) => panic!("tungstenite server send: {e}"),
                },
                Ok(_) => {}
                Err(e) if tung_ended(&e) => return,
                Err(e) => panic!("tungstenite server read: {e}"),
            }
        }
    }

    fn connect(addr: SocketAddr) -> TungSocket {
        let (ws, _) = tungstenite::client(format!("ws://{addr}/"), connect_tcp(addr))
            .expect("tungstenite handshake");
        ws
    }

    fn round_trip(ws: &mut TungSocket, payload: &Bytes) {
        use tungstenite::Message;
        ws.send(Message::Binary(payload.clone()))
            .expect("tungstenite send");
        match ws.read() {
            Ok(Message::Binary(echo)) => assert_eq!(echo.len(), payload.len()),
            other => panic!("tungstenite read: {other:?}"),
        }
    }

    fn close(mut ws: TungSocket) {
        ws.close(None).expect("tungstenite close");
        loop {
            match ws.read() {
                Ok(_) => {}
                Err(e) if tung_ended(&e) => return,
                Err(e) => panic!("tungstenite closing: {e}"),
            }
        }
    }

    fn split(ws: TungSocket) -> (TungSocket, TungSocket) {
        use tungstenite::protocol::Role;
        // Nothing is left in the handshake's read buffer: the server sends
        // nothing before it has received something.
        let tcp = ws.get_ref();
        let writer = tcp.try_clone().expect("try_clone");
        let reader = tcp.try_clone().expect("try_clone");
        drop(ws); // the socket stays open through the clones
        (
            tungstenite::WebSocket::from_raw_socket(writer, Role::Client, None),
            tungstenite::WebSocket::from_raw_socket(reader, Role::Client, None),
        )
    }

    fn send(tx: &mut TungSocket, payload: &Bytes) {
        tx.send(tungstenite::Message::Binary(payload.clone()))
            .expect("tungstenite send");
    }

    fn recv(rx: &mut TungSocket) -> usize {
        match rx.read() {
            Ok(tungstenite::Message::Binary(echo)) => echo.len(),
            other => panic!("tungstenite read: {other:?}"),
        }
    }

    fn close_split(mut tx: TungSocket, mut rx: TungSocket) {
        tx.close(None).expect("tungstenite close");
        // Until the server's Close (or the end of the stream). The reader
        // object answers that Close as if the server had started the
        // closing handshake; whether that write succeeds does not matter.
        loop {
            match rx.read() {
                Ok(tungstenite::Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        drop(rx);
        drop(tx);
    }
}

struct Row {
    name: &'static str,
    p50: u64,
    p99: u64,
    round_trips: usize,
    runs: Vec<Duration>,
}

impl Row {
    fn median(&self) -> Duration {
        let mut runs = self.runs.clone();
        runs.sort_unstable();
        runs[runs.len() / 2]
    }

    fn gbps(&self, bytes: usize) -> f64 {
        bytes as f64 / self.median().as_secs_f64() / 1e9
    }
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn main() {
    let settings = Settings::from_args();
    let started = Instant::now();
    eprintln!(
        "loopback: {} round trips of {SMALL} B after {} warm-up; {} x {} KiB pipelined, median of {} run(s)",
        settings.round_trips,
        settings.warmup,
        settings.messages,
        LARGE >> 10,
        settings.repeats
    );

    let mut rows = Vec::new();
    for (name, measure) in [
        (RawTcp::NAME, latency::<RawTcp> as fn(&Settings) -> Vec<u64>),
        (Wsproto::NAME, latency::<Wsproto>),
        (Tungstenite::NAME, latency::<Tungstenite>),
    ] {
        let samples = measure(&settings);
        rows.push(Row {
            name,
            p50: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            round_trips: samples.len(),
            runs: Vec::new(),
        });
    }
    let runs: [fn(usize) -> Duration; 3] = [
        throughput::<RawTcp>,
        throughput::<Wsproto>,
        throughput::<Tungstenite>,
    ];
    for _ in 0..settings.repeats {
        for (row, run) in rows.iter_mut().zip(runs) {
            row.runs.push(run(settings.messages));
        }
    }

    let bytes = settings.messages * LARGE;
    let raw = (rows[0].p50, rows[0].gbps(bytes));
    println!();
    println!(
        "| implementation | RTT p50 (µs) | RTT p99 (µs) | p50 vs raw TCP | throughput (GB/s) | % of raw TCP | runs (GB/s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        let all: Vec<String> = row
            .runs
            .iter()
            .map(|d| format!("{:.2}", bytes as f64 / d.as_secs_f64() / 1e9))
            .collect();
        println!(
            "| {} | {:.1} | {:.1} | {:.2}× (+{:.1} µs) | {:.2} | {:.0} % | {} |",
            row.name,
            us(row.p50),
            us(row.p99),
            row.p50 as f64 / raw.0 as f64,
            us(row.p50.saturating_sub(raw.0)),
            row.gbps(bytes),
            100.0 * row.gbps(bytes) / raw.1,
            all.join(", ")
        );
    }
    println!();
    println!(
        "{} round trips of {SMALL} B each after {} warm-up; throughput: {} messages of {} KiB ({} MiB) echoed, payload bytes / elapsed, median of {} run(s); total {:.1} s",
        rows[0].round_trips,
        settings.warmup,
        settings.messages,
        LARGE >> 10,
        bytes >> 20,
        settings.repeats,
        started.elapsed().as_secs_f64()
    );
}
