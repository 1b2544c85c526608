//! Memory, counted by a `#[global_allocator]` that wraps `System`: heap
//! held per connection and allocations per message, wsproto blocking next
//! to tungstenite 0.30 blocking, over real loopback TCP; and the heap of
//! wsproto's sans-IO core (`wsproto::Connection`) in memory.
//!
//! - Heap held by one connection (server side, client side): live heap
//!   bytes (requested sizes, not the allocator's rounding) before and after
//!   opening `--pairs` connections (default 50) held at once, divided by
//!   their number; right after the handshake, and again after each
//!   connection has received one 64 KiB message and sent one (an echo).
//!   The measured side talks to a raw peer: a `TcpStream` that does the
//!   handshake and the framing by hand and holds no heap, so only the
//!   measured side's heap is counted. A "raw TCP" row, measured the same
//!   way with a bare `TcpStream` on the measured side too, shows what the
//!   method itself counts (it should be 0). The connection objects
//!   themselves (their `size_of`) are printed apart, not counted as heap.
//! - Allocations per message in steady state: the measured side receives
//!   (or sends) messages after a warm-up (default 10,000 after 1,000; for
//!   receives at least 4 MiB of frames after 1 MiB, since a receive buffer
//!   cycles once per read of up to 64 KiB, thousands of small messages).
//!   Only the allocations made by the measured thread count (a
//!   thread-local counter), not the raw peer's on its own thread. Received
//!   messages are binary, read and dropped; sent ones are
//!   `Message::Binary` of a shared `Bytes` (no copy to make one) for both
//!   crates, plus wsproto's borrowed `send_binary(&[u8])`.
//! - The sans-IO core: heap of a new `Connection` per role, and after it
//!   has received one 64 KiB message and sent one (all in memory).
//!
//! Run:
//!
//! ```sh
//! cargo bench -p wsproto-benches --bench memory               # full run, a few seconds
//! cargo bench -p wsproto-benches --bench memory -- --quick    # smoke run (CI)
//! WSPROTO_BENCH_QUICK=1 cargo bench -p wsproto-benches --bench memory
//! ```
//!
//! Options: `--quick`, `--pairs N`, `--messages N` (measured messages per
//! row; the warm-up is a tenth of it; receives span at least 4 MiB after a
//! 1 MiB warm-up, a quarter of that with `--quick`), `--trace-allocs`
//! (print a backtrace for every allocation a measurement counts, to see
//! where a non-zero row comes from).

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use bytes::Bytes;
use support::masked_frames;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use wsproto::{Config, Connection, Message, Role, Transmit};

// ---------------------------------------------------------------------------
// The counting allocator: the tests' (live heap, per-thread allocations,
// `--trace-allocs` backtraces), one file for both.

#[path = "../tests/support/alloc.rs"]
#[allow(dead_code)]
mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

use alloc::live;

/// Allocations made by this thread in `f` (a backtrace for each with
/// `trace`).
fn count_allocs(trace: bool, f: impl FnOnce()) -> u64 {
    alloc::trace(trace, f)
}

// ---------------------------------------------------------------------------
// Settings.

const SMALL: usize = 16;
const MEDIUM: usize = 16 << 10;
const LARGE: usize = 64 << 10;
/// The handshake key of the raw client (RFC 6455 §1.3's example).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[derive(Debug, Clone, Copy)]
struct Settings {
    pairs: usize,
    warmup: usize,
    messages: usize,
    /// Wire bytes the receive warm-up spans at least.
    receive_warmup_bytes: usize,
    /// Wire bytes a receive measurement spans at least.
    receive_bytes: usize,
    /// Print a backtrace for every allocation counted.
    trace: bool,
}

impl Settings {
    fn from_args() -> Settings {
        let quick = std::env::var_os("WSPROTO_BENCH_QUICK").is_some_and(|v| v != "0")
            || std::env::args().any(|a| a == "--quick");
        let (mut pairs, mut messages) = if quick { (10, 1_000) } else { (50, 10_000) };
        let scale = if quick { 4 } else { 1 };
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
                "--pairs" => pairs = number(),
                "--messages" => messages = number(),
                _ => {}
            }
        }
        Settings {
            pairs,
            warmup: messages.div_ceil(10),
            messages,
            receive_warmup_bytes: (1 << 20) / scale,
            receive_bytes: (4 << 20) / scale,
            trace: std::env::args().any(|a| a == "--trace-allocs"),
        }
    }
}

// ---------------------------------------------------------------------------
// The raw peer: handshakes and frames by hand over a bare `TcpStream`.

/// Reads an HTTP head (up to the blank line); nothing follows it here,
/// since neither side sends frames before the handshake is over.
fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut buf).expect("raw peer: read head");
        assert!(n > 0, "raw peer: end of stream in the handshake");
        head.extend_from_slice(&buf[..n]);
    }
    head
}

fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes())
        .expect("raw client: request");
    let head = read_head(&mut tcp);
    let expect = format!("{}\r\n", wsproto::handshake::accept_key(KEY));
    assert!(head.starts_with(b"HTTP/1.1 101 "), "raw client: not a 101");
    assert!(
        head.windows(expect.len()).any(|w| w == expect.as_bytes()),
        "raw client: wrong Sec-WebSocket-Accept"
    );
    tcp
}

fn raw_server(listener: &TcpListener) -> TcpStream {
    let (mut tcp, _) = listener.accept().expect("accept");
    tcp.set_nodelay(true).expect("nodelay");
    let head = read_head(&mut tcp);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&head).expect("raw server: request");
    let key = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| std::str::from_utf8(h.value).expect("key"))
        .expect("raw server: no key");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wsproto::handshake::accept_key(key)
    );
    tcp.write_all(response.as_bytes())
        .expect("raw server: response");
    tcp
}

/// One final binary frame as `role` sends it (a client's masked).
fn frame(role: Role, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Client => masked_frames(OpCode::Binary, payload, 1),
        Role::Server => {
            let mut head = [0; MAX_HEADER_LEN];
            let used = FrameHeader::new(OpCode::Binary, payload.len() as u64).encode(&mut head);
            let mut out = head[..used].to_vec();
            out.extend_from_slice(payload);
            out
        }
    }
}

/// The wire length of a final binary frame of `len` bytes sent by `role`.
fn frame_len(role: Role, len: usize) -> usize {
    let header = FrameHeader {
        mask: (role == Role::Client).then_some([0; 4]),
        ..FrameHeader::new(OpCode::Binary, len as u64)
    };
    header.encoded_len() + len
}

/// Writes `count` copies of `frame`, several per system call.
fn write_frames(tcp: &mut TcpStream, frame: &[u8], count: usize) {
    let per_batch = ((64 << 10) / frame.len()).max(1);
    let batch = frame.repeat(per_batch);
    let mut left = count;
    while left > 0 {
        let n = left.min(per_batch);
        tcp.write_all(&batch[..n * frame.len()])
            .expect("raw peer: write");
        left -= n;
    }
}

/// Reads until the end of stream; the bytes read.
fn drain(tcp: &mut TcpStream) -> usize {
    let mut buf = vec![0; 64 << 10];
    let mut total = 0;
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // The measured side dropped its socket with bytes unread.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("raw peer: read: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The two implementations.

trait Impl {
    type Server;
    type Client;

    fn accept(tcp: TcpStream) -> Self::Server;
    fn connect(addr: SocketAddr) -> Self::Client;
    /// Reads one message (Pings and such would be skipped); its length.
    fn server_read(ws: &mut Self::Server) -> usize;
    fn client_read(ws: &mut Self::Client) -> usize;
    fn server_send(ws: &mut Self::Server, payload: &Bytes);
    fn client_send(ws: &mut Self::Client, payload: &Bytes);
    /// Reads one message and sends the same message back.
    fn server_echo(ws: &mut Self::Server);
}

struct Wsproto;

type WsServer = wsproto::blocking::WebSocket<TcpStream>;
type WsClient = wsproto::blocking::WebSocket<wsproto::blocking::MaybeTlsStream<TcpStream>>;

fn ws_read<S: wsproto::blocking::Stream>(ws: &mut wsproto::blocking::WebSocket<S>) -> usize {
    match ws.read() {
        Ok(wsproto::blocking::Message::Binary(data)) => data.len(),
        other => panic!("wsproto read: {other:?}"),
    }
}

impl Impl for Wsproto {
    type Server = WsServer;
    type Client = WsClient;

    fn accept(tcp: TcpStream) -> WsServer {
        wsproto::blocking::accept(tcp).expect("wsproto accept")
    }
    fn connect(addr: SocketAddr) -> WsClient {
        wsproto::blocking::connect(&format!("ws://{addr}/"))
            .expect("wsproto connect")
            .0
    }
    fn server_read(ws: &mut WsServer) -> usize {
        ws_read(ws)
    }
    fn client_read(ws: &mut WsClient) -> usize {
        ws_read(ws)
    }
    fn server_send(ws: &mut WsServer, payload: &Bytes) {
        ws.send(wsproto::blocking::Message::Binary(payload.clone()))
            .expect("wsproto send");
    }
    fn client_send(ws: &mut WsClient, payload: &Bytes) {
        ws.send(wsproto::blocking::Message::Binary(payload.clone()))
            .expect("wsproto send");
    }
    fn server_echo(ws: &mut WsServer) {
        let message = ws.read().expect("wsproto read");
        ws.send(message).expect("wsproto send");
    }
}

struct Tungstenite;

type TungSocket = tungstenite::WebSocket<TcpStream>;

fn tung_read(ws: &mut TungSocket) -> usize {
    match ws.read() {
        Ok(tungstenite::Message::Binary(data)) => data.len(),
        other => panic!("tungstenite read: {other:?}"),
    }
}

fn tung_send(ws: &mut TungSocket, payload: &Bytes) {
    ws.send(tungstenite::Message::Binary(payload.clone()))
        .expect("tungstenite send");
}

impl Impl for Tungstenite {
    type Server = TungSocket;
    type Client = TungSocket;

    fn accept(tcp: TcpStream) -> TungSocket {
        tungstenite::accept(tcp).expect("tungstenite accept")
    }
    fn connect(addr: SocketAddr) -> TungSocket {
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        tungstenite::client(format!("ws://{addr}/"), tcp)
            .expect("tungstenite handshake")
            .0
    }
    fn server_read(ws: &mut TungSocket) -> usize {
        tung_read(ws)
    }
    fn client_read(ws: &mut TungSocket) -> usize {
        tung_read(ws)
    }
    fn server_send(ws: &mut TungSocket, payload: &Bytes) {
        tung_send(ws, payload)
    }
    fn client_send(ws: &mut TungSocket, payload: &Bytes) {
        tung_send(ws, payload)
    }
    fn server_echo(ws: &mut TungSocket) {
        let message = ws.read().expect("tungstenite read");
        ws.send(message).expect("tungstenite send");
    }
}

/// The method check: a bare `TcpStream` on the measured side as well.
struct RawTcp;

impl Impl for RawTcp {
    type Server = TcpStream;
    type Client = TcpStream;

    fn accept(mut tcp: TcpStream) -> TcpStream {
        let _ = read_head(&mut tcp);
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            wsproto::handshake::accept_key(KEY)
        );
        tcp.write_all(response.as_bytes()).expect("write");
        tcp
    }
    fn connect(addr: SocketAddr) -> TcpStream {
        raw_client(addr)
    }
    fn server_read(_: &mut TcpStream) -> usize {
        unreachable!()
    }
    fn client_read(_: &mut TcpStream) -> usize {
        unreachable!()
    }
    fn server_send(_: &mut TcpStream, _: &Bytes) {
        unreachable!()
    }
    fn client_send(_: &mut TcpStream, _: &Bytes) {
        unreachable!()
    }
    fn server_echo(tcp: &mut TcpStream) {
        // Frame in, the same payload back unmasked, without parsing more
        // than the header (a 64 KiB client frame has a 14-byte header).
        let mut frame = vec![0; frame_len(Role::Client, LARGE)];
        tcp.read_exact(&mut frame).expect("read");
        let mut out = frame[..2].to_vec();
        out[1] &= 0x7f;
        out.extend_from_slice(&frame[2..10]);
        out.extend_from_slice(&frame[14..]);
        tcp.write_all(&out).expect("write");
    }
}

// ---------------------------------------------------------------------------
// Heap held per connection.

/// Heap per connection (after the handshake, after 64 KiB each way, and
/// while waiting in `read()` after each of those) of `pairs` servers of
/// `I`, each talking to a raw client.
fn held_server<I: Impl>(pairs: usize) -> (isize, isize, isize, isize)
where
    I::Server: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let payload: Vec<u8> = (0..LARGE).map(|i| i as u8).collect();
    let to_send = frame(Role::Client, &payload);
    let mut echo = vec![0; frame_len(Role::Server, LARGE)];
    let mut servers: Vec<I::Server> = Vec::with_capacity(pairs);
    let mut peers: Vec<TcpStream> = Vec::with_capacity(pairs);

    let before = live();
    thread::scope(|s| {
        let peer = s.spawn(|| {
            for _ in 0..pairs {
                peers.push(raw_client(addr));
            }
        });
        for _ in 0..pairs {
            let (tcp, _) = listener.accept().expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            servers.push(I::accept(tcp));
        }
        // An explicit join waits for the thread's end, its thread-locals
        // freed.
        peer.join().expect("raw clients");
    });
    let idle = live() - before;
    let idle_in_read = idle / pairs as isize + waiting_in_read::<I>(&mut servers, &mut peers);

    thread::scope(|s| {
        let peer = s.spawn(|| {
            for tcp in &mut peers {
                tcp.write_all(&to_send).expect("raw client: write");
                tcp.read_exact(&mut echo).expect("raw client: read");
                assert_eq!(echo[echo.len() - LARGE..], payload[..]);
            }
        });
        for ws in &mut servers {
            I::server_echo(ws);
        }
        peer.join().expect("raw clients");
    });
    let after = live() - before;
    let after_in_read = after / pairs as isize + waiting_in_read::<I>(&mut servers, &mut peers);
    drop((servers, peers));
    (
        idle / pairs as isize,
        after / pairs as isize,
        idle_in_read,
        after_in_read,
    )
}

/// What waiting in `read()` adds to the heap held per connection (what a
/// thread-per-connection server holds between messages): measured while
/// one thread per connection blocks in `read()`, minus what as many
/// threads blocked on a barrier hold (the threads' own bookkeeping).
fn waiting_in_read<I: Impl>(servers: &mut [I::Server], peers: &mut [TcpStream]) -> isize
where
    I::Server: Send,
{
    let settle = std::time::Duration::from_millis(200);
    let wake = frame(Role::Client, &[7; 16]);
    let barrier = std::sync::Barrier::new(servers.len() + 1);
    let base = live();
    let threads = thread::scope(|s| {
        for _ in 0..servers.len() {
            s.spawn(|| {
                barrier.wait();
            });
        }
        thread::sleep(settle);
        let held = live() - base;
        barrier.wait();
        held
    });
    let base = live();
    let reading = thread::scope(|s| {
        for ws in servers.iter_mut() {
            s.spawn(move || assert_eq!(I::server_read(ws), 16));
        }
        thread::sleep(settle);
        let held = live() - base;
        for tcp in peers.iter_mut() {
            tcp.write_all(&wake).expect("raw client: write");
        }
        held
    });
    (reading - threads) / servers.len() as isize
}

/// As [`held_server`], for `pairs` clients of `I` and raw servers.
fn held_client<I: Impl>(pairs: usize) -> (isize, isize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let payload = Bytes::from((0..LARGE).map(|i| i as u8).collect::<Vec<u8>>());
    let to_send = frame(Role::Server, &payload);
    let mut received = vec![0; frame_len(Role::Client, LARGE)];
    let mut clients: Vec<I::Client> = Vec::with_capacity(pairs);
    let mut peers: Vec<TcpStream> = Vec::with_capacity(pairs);

    let before = live();
    thread::scope(|s| {
        let peer = s.spawn(|| {
            for _ in 0..pairs {
                peers.push(raw_server(&listener));
            }
        });
        for _ in 0..pairs {
            clients.push(I::connect(addr));
        }
        peer.join().expect("raw servers");
    });
    let idle = live() - before;

    thread::scope(|s| {
        let peer = s.spawn(|| {
            for tcp in &mut peers {
                tcp.read_exact(&mut received).expect("raw server: read");
                tcp.write_all(&to_send).expect("raw server: write");
            }
        });
        for ws in &mut clients {
            I::client_send(ws, &payload);
            assert_eq!(I::client_read(ws), LARGE);
        }
        peer.join().expect("raw servers");
    });
    let after = live() - before;
    drop((clients, peers));
    (idle / pairs as isize, after / pairs as isize)
}

/// The raw TCP check: both sides bare sockets.
fn held_raw(pairs: usize) -> (isize, isize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let payload: Vec<u8> = (0..LARGE).map(|i| i as u8).collect();
    let to_send = frame(Role::Client, &payload);
    let mut echo = vec![0; frame_len(Role::Server, LARGE)];
    let mut servers: Vec<TcpStream> = Vec::with_capacity(pairs);
    let mut peers: Vec<TcpStream> = Vec::with_capacity(pairs);
    let before = live();
    thread::scope(|s| {
        let peer = s.spawn(|| {
            for _ in 0..pairs {
                peers.push(raw_client(addr));
            }
        });
        for _ in 0..pairs {
            let (tcp, _) = listener.accept().expect("accept");
            servers.push(RawTcp::accept(tcp));
        }
        peer.join().expect("raw clients");
    });
    let idle = live() - before;
    // Echoes each 64 KiB frame through transient buffers (freed at once).
    thread::scope(|s| {
        let peer = s.spawn(|| {
            for tcp in &mut peers {
                tcp.write_all(&to_send).expect("write");
                tcp.read_exact(&mut echo).expect("read");
            }
        });
        for tcp in &mut servers {
            RawTcp::server_echo(tcp);
        }
        peer.join().expect("raw clients");
    });
    let after = live() - before;
    drop((servers, peers));
    (idle / pairs as isize, after / pairs as isize)
}

// ---------------------------------------------------------------------------
// Allocations per message in steady state.

/// Allocations counted over `messages` messages.
#[derive(Debug, Clone, Copy)]
struct Counted {
    allocs: u64,
    messages: usize,
}

impl Counted {
    fn per_message(self) -> f64 {
        self.allocs as f64 / self.messages as f64
    }
}

/// Allocations made by this thread while `read` takes messages that a raw
/// peer writes as `frame`s. A receive buffer cycles once per read of up to
/// 64 KiB (thousands of small messages), so besides the message counts
/// the warm-up and the measurement each span a minimum of wire bytes.
fn receive_allocs<T>(
    mut measured: T,
    mut peer: TcpStream,
    frame: &[u8],
    len: usize,
    settings: &Settings,
    mut read: impl FnMut(&mut T) -> usize,
) -> Counted {
    let warmup = settings
        .warmup
        .max(settings.receive_warmup_bytes.div_ceil(frame.len()));
    let messages = settings
        .messages
        .max(settings.receive_bytes.div_ceil(frame.len()));
    thread::scope(|s| {
        let writer = s.spawn(move || write_frames(&mut peer, frame, warmup + messages));
        for _ in 0..warmup {
            assert_eq!(read(&mut measured), len);
        }
        let allocs = count_allocs(settings.trace, || {
            for _ in 0..messages {
                assert_eq!(read(&mut measured), len);
            }
        });
        writer.join().expect("raw peer");
        drop(measured);
        Counted { allocs, messages }
    })
}

/// Allocations per message made by this thread while `send` sends
/// `settings.messages` messages that a raw peer reads and drops.
fn send_allocs<T>(
    mut measured: T,
    mut peer: TcpStream,
    wire_len: usize,
    settings: &Settings,
    mut send: impl FnMut(&mut T),
) -> Counted {
    let total = settings.warmup + settings.messages;
    thread::scope(|s| {
        let reader = s.spawn(move || drain(&mut peer));
        for _ in 0..settings.warmup {
            send(&mut measured);
        }
        let allocs = count_allocs(settings.trace, || {
            for _ in 0..settings.messages {
                send(&mut measured);
            }
        });
        // The end of stream that stops the peer.
        drop(measured);
        let got = reader.join().expect("raw peer");
        assert_eq!(got, total * wire_len, "bytes on the wire");
        Counted {
            allocs,
            messages: settings.messages,
        }
    })
}

/// A server of `I` and its raw client.
fn server_pair<I: Impl>() -> (I::Server, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    thread::scope(|s| {
        let peer = s.spawn(|| raw_client(addr));
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let server = I::accept(tcp);
        (server, peer.join().expect("raw client"))
    })
}

/// A client of `I` and its raw server.
fn client_pair<I: Impl>() -> (I::Client, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    thread::scope(|s| {
        let peer = s.spawn(|| raw_server(&listener));
        let client = I::connect(addr);
        (client, peer.join().expect("raw server"))
    })
}

fn payload(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// Allocations per received message: (server, client) for `len` bytes.
fn recv_rows<I: Impl>(len: usize, settings: &Settings) -> (Counted, Counted) {
    let data = payload(len);
    let (server, peer) = server_pair::<I>();
    let at_server = receive_allocs(
        server,
        peer,
        &frame(Role::Client, &data),
        len,
        settings,
        I::server_read,
    );
    let (client, peer) = client_pair::<I>();
    let at_client = receive_allocs(
        client,
        peer,
        &frame(Role::Server, &data),
        len,
        settings,
        I::client_read,
    );
    (at_server, at_client)
}

/// Allocations per sent message: (server, client) for `len` bytes.
fn send_rows<I: Impl>(len: usize, settings: &Settings) -> (Counted, Counted) {
    let data = payload(len);
    let (server, peer) = server_pair::<I>();
    let at_server = send_allocs(server, peer, frame_len(Role::Server, len), settings, |ws| {
        I::server_send(ws, &data)
    });
    let (client, peer) = client_pair::<I>();
    let at_client = send_allocs(client, peer, frame_len(Role::Client, len), settings, |ws| {
        I::client_send(ws, &data)
    });
    (at_server, at_client)
}

/// wsproto's borrowed form, `send_binary(&[u8])`: (server, client).
fn wsproto_borrowed_send_rows(len: usize, settings: &Settings) -> (Counted, Counted) {
    let data = payload(len);
    let (server, peer) = server_pair::<Wsproto>();
    let at_server = send_allocs(server, peer, frame_len(Role::Server, len), settings, |ws| {
        ws.send_binary(&data[..]).expect("wsproto send")
    });
    let (client, peer) = client_pair::<Wsproto>();
    let at_client = send_allocs(client, peer, frame_len(Role::Client, len), settings, |ws| {
        ws.send_binary(&data[..]).expect("wsproto send")
    });
    (at_server, at_client)
}

// ---------------------------------------------------------------------------
// The sans-IO core, in memory.

/// Heap per `Connection` of `role`: new, and after receiving one 64 KiB
/// message and sending one (what it hands out written and dropped).
fn core_held(role: Role, count: usize) -> (isize, isize) {
    let data = payload(LARGE);
    let peer = if role == Role::Server {
        Role::Client
    } else {
        Role::Server
    };
    let incoming = frame(peer, &data);
    let mut conns = Vec::with_capacity(count);
    let before = live();
    for _ in 0..count {
        conns.push(Connection::new(role, Config::default()));
    }
    let idle = live() - before;
    for conn in &mut conns {
        conn.receive_data(&incoming).expect("valid frame");
        match conn.poll_event() {
            Some(Message::Binary(message)) => assert_eq!(message.len(), LARGE),
            other => panic!("core: {other:?}"),
        }
        conn.send_binary(data.clone()).expect("open");
        while let Some(transmit) = conn.poll_transmit() {
            assert!(matches!(transmit, Transmit::Data(_)));
        }
    }
    let after = live() - before;
    drop(conns);
    (idle / count as isize, after / count as isize)
}

// ---------------------------------------------------------------------------
// The table.

fn bytes(n: isize) -> String {
    if n.abs() >= 10 << 10 {
        format!("{n} B ({:.1} KiB)", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn allocs(c: Counted) -> String {
    if c.allocs == 0 {
        format!("0 (0 in {})", c.messages)
    } else {
        format!("{:.4} ({} in {})", c.per_message(), c.allocs, c.messages)
    }
}

struct Table(Vec<[String; 5]>);

impl Table {
    fn row(&mut self, what: &str, ours: String, theirs: String, target: &str, ok: Option<bool>) {
        let ok = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        self.0.push([
            what.to_owned(),
            ours,
            theirs,
            target.to_owned(),
            ok.to_owned(),
        ]);
    }
}

fn main() {
    let settings = Settings::from_args();
    let started = std::time::Instant::now();
    eprintln!(
        "memory: {} connections held at once; {} messages per row after {} warm-up",
        settings.pairs, settings.messages, settings.warmup
    );
    // Warm-up: lazily built state (thread handles, the random generator of
    // client masks, name resolution) is made once here, not counted below.
    let _ = held_server::<Wsproto>(2);
    let _ = held_client::<Wsproto>(2);
    let _ = held_server::<Tungstenite>(2);
    let _ = held_client::<Tungstenite>(2);
    let _ = core_held(Role::Client, 2);

    let raw = held_raw(settings.pairs);
    let ws_server = held_server::<Wsproto>(settings.pairs);
    let ws_client = held_client::<Wsproto>(settings.pairs);
    let tu_server = held_server::<Tungstenite>(settings.pairs);
    let tu_client = held_client::<Tungstenite>(settings.pairs);
    let core_server = core_held(Role::Server, settings.pairs);
    let core_client = core_held(Role::Client, settings.pairs);

    let idle_target = 8 << 10;
    let mut t = Table(Vec::new());
    for (what, ours, theirs) in [
        (
            "heap per server connection, after the handshake",
            ws_server.0,
            tu_server.0,
        ),
        (
            "heap per client connection, after the handshake",
            ws_client.0,
            tu_client.0,
        ),
    ] {
        t.row(
            what,
            bytes(ours),
            bytes(theirs),
            "≤ 8 KiB",
            Some(ours <= idle_target),
        );
    }
    for (what, ours, theirs) in [
        (
            "heap per server connection, after 64 KiB in + 64 KiB out",
            ws_server.1,
            tu_server.1,
        ),
        (
            "heap per client connection, after 64 KiB out + 64 KiB in",
            ws_client.1,
            tu_client.1,
        ),
    ] {
        t.row(what, bytes(ours), bytes(theirs), "", None);
    }
    t.row(
        "heap per server connection, waiting in read() after the handshake",
        bytes(ws_server.2),
        bytes(tu_server.2),
        "≤ 8 KiB",
        Some(ws_server.2 <= idle_target),
    );
    t.row(
        "heap per server connection, waiting in read() after 64 KiB each way",
        bytes(ws_server.3),
        bytes(tu_server.3),
        "",
        None,
    );

    for len in [SMALL, MEDIUM] {
        let (ws_s, ws_c) = recv_rows::<Wsproto>(len, &settings);
        let (tu_s, tu_c) = recv_rows::<Tungstenite>(len, &settings);
        for (side, ours, theirs) in [("server", ws_s, tu_s), ("client", ws_c, tu_c)] {
            t.row(
                &format!("allocations per receive, {}, {side}", size(len)),
                allocs(ours),
                allocs(theirs),
                "0",
                Some(ours.allocs == 0),
            );
        }
    }
    for len in [SMALL, LARGE] {
        let (ws_s, ws_c) = send_rows::<Wsproto>(len, &settings);
        let (tu_s, tu_c) = send_rows::<Tungstenite>(len, &settings);
        let (bo_s, bo_c) = wsproto_borrowed_send_rows(len, &settings);
        for (side, ours, theirs) in [("server", ws_s, tu_s), ("client", ws_c, tu_c)] {
            t.row(
                &format!("allocations per send, {}, {side}", size(len)),
                allocs(ours),
                allocs(theirs),
                "≤ 1",
                Some(ours.per_message() <= 1.0),
            );
        }
        for (side, ours) in [("server", bo_s), ("client", bo_c)] {
            t.row(
                &format!(
                    "allocations per send, {}, {side}, `send_binary(&[u8])`",
                    size(len)
                ),
                allocs(ours),
                "n/a".to_owned(),
                "≤ 1",
                Some(ours.per_message() <= 1.0),
            );
        }
    }
    for (side, (idle, after)) in [("server", core_server), ("client", core_client)] {
        t.row(
            &format!("core `Connection` ({side}), new"),
            bytes(idle),
            "n/a".to_owned(),
            "≤ 8 KiB",
            Some(idle <= idle_target),
        );
        t.row(
            &format!("core `Connection` ({side}), after 64 KiB in + 64 KiB out"),
            bytes(after),
            "n/a".to_owned(),
            "",
            None,
        );
    }

    println!();
    println!("| measure | wsproto | tungstenite | target | wsproto meets it |");
    println!("|---|---:|---:|---|---|");
    for [what, ours, theirs, target, ok] in &t.0 {
        println!("| {what} | {ours} | {theirs} | {target} | {ok} |");
    }
    println!();
    println!(
        "Heap: requested bytes, averaged over {} connections held at once, each talking to a raw \
         peer that holds no heap (method check, bare TcpStreams: {} B after the handshake, {} B \
         after 64 KiB each way). Allocations: the measured thread's only, {} messages after {} \
         warm-up (receives: at least {} KiB of frames after {} KiB); sends are `Message::Binary` of a shared `Bytes` unless marked. Not in the \
         heap figures, the connection objects themselves: wsproto server \
         `WebSocket<TcpStream>` {} B, client `WebSocket<MaybeTlsStream<TcpStream>>` {} B \
         (feature `deflate` on), tungstenite `WebSocket<TcpStream>` {} B. Total {:.1} s.",
        settings.pairs,
        raw.0,
        raw.1,
        settings.messages,
        settings.warmup,
        settings.receive_bytes >> 10,
        settings.receive_warmup_bytes >> 10,
        std::mem::size_of::<WsServer>(),
        std::mem::size_of::<WsClient>(),
        std::mem::size_of::<TungSocket>(),
        started.elapsed().as_secs_f64()
    );
    // The figures are counts, not timings: a missed target is a failure
    // (CI runs this with --quick).
    let missed: Vec<&str> =
        t.0.iter()
            .filter(|row| row[4] == "**no**")
            .map(|row| row[0].as_str())
            .collect();
    if !missed.is_empty() {
        eprintln!("targets missed: {missed:?}");
        std::process::exit(1);
    }
}

fn size(len: usize) -> String {
    if len >= 1 << 10 {
        format!("{} KiB", len >> 10)
    } else {
        format!("{len} B")
    }
}
