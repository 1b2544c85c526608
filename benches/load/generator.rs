//! The load generator: neutral, like uWebSockets' `load_test` (which the
//! fastwebsockets and tokio-websockets benchmarks use). Raw sockets on one
//! mio (epoll) loop, the handshake and every frame built by hand, no
//! WebSocket crate: the same bytes reach every server.
//!
//! - `echo`: N connections, each a closed loop: write a batch of
//!   `pipeline` masked frames of P bytes (binary or text), wait for all
//!   their echoes (each checked: opcode, FIN, length), write the next.
//!   Messages/s after a warm-up, the median of several samples; with
//!   `--rtt`, the round trip of every message in the samples (batch
//!   written → its echo read) for p50/p99.
//! - `idle`: N connections opened and left idle; the server's RSS before
//!   and after.
//! - `hold`: N connections opened and held idle (`opened N` on stdout once
//!   they are) until the server closes them: each Close is answered with
//!   a Close of the same code, as a client does; when every connection
//!   has ended (or after `--max-secs`, 60), how many got which code and
//!   how many ended without a Close. For timing a graceful shutdown
//!   (`scripts/shutdown_time.sh` sends the server `SIGTERM`).
//! - `room`: N members of a broadcast room; member 0 also posts text
//!   messages of P bytes, at most `window` in flight (posted and not yet
//!   received by every member). Delivered messages/s (messages × members)
//!   and the latency from post to the last member. With `--chat`, posts
//!   are ~4 KB chat-like JSON lines (benches/corpus/chat.jsonl) and every
//!   member offers permessage-deflate as Chromium does; a compressed
//!   delivery (RSV1) is inflated once per distinct frame (every member
//!   gets the same bytes) to read its sequence number; bytes on the wire
//!   per delivery are reported.
//!
//! Connections are opened in batches of 256 from `--sources` addresses
//! 127.0.0.1, 127.0.0.2, ... (one address has 28,000 ephemeral ports).
//! The server's CPU is read from /proc over the measured samples, and our
//! own: a row whose server is not near 100 % measures the generator.
//!
//! Output: one line, `result key=value ...`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::sys;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// Parsed `--name value` options; flags without a value are "1".
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut map = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let name = args[i].trim_start_matches("--").to_string();
            if i + 1 < args.len() && !args[i + 1].starts_with("--") {
                map.insert(name, args[i + 1].clone());
                i += 2;
            } else {
                map.insert(name, "1".into());
                i += 1;
            }
        }
        Opts(map)
    }
    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.0
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
    fn flag(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A masked client frame of `payload` (FIN, `opcode`), RFC 6455 §5.2.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// A server frame at the front of `buf`: (opcode byte, payload range,
/// frame length), or `None` while incomplete.
fn server_frame(buf: &[u8]) -> Option<(u8, std::ops::Range<usize>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "a server frame was masked");
    let (len, at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    (buf.len() >= at + len).then(|| (buf[0], at..at + len, at + len))
}

/// Opens `n` WebSocket connections (handshake by hand), non-blocking.
fn open(addr: SocketAddr, n: usize, sources: usize) -> Vec<TcpStream> {
    open_with(addr, n, sources, "")
}

/// `open` with `headers` (each ending in CRLF) added to the request.
fn open_with(addr: SocketAddr, n: usize, sources: usize, headers: &str) -> Vec<TcpStream> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    );
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let batch: Vec<std::net::TcpStream> = (i..(i + 256).min(n))
            .map(|k| {
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                        .unwrap();
                if sources > 1 {
                    let ip = std::net::Ipv4Addr::new(127, 0, 0, 1 + (k % sources) as u8);
                    let local = SocketAddr::from((ip, 0));
                    socket.bind(&local.into()).unwrap();
                }
                socket
                    .connect(&addr.into())
                    .unwrap_or_else(|e| panic!("connect {k}: {e}"));
                socket.set_tcp_nodelay(true).unwrap();
                let mut stream: std::net::TcpStream = socket.into();
                stream.write_all(request.as_bytes()).unwrap();
                stream
            })
            .collect();
        for mut stream in batch {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            // Nothing follows the 101 until we send (no mode has the
            // server speak first), so the head ends where a read ends.
            while !head.ends_with(b"\r\n\r\n") {
                let got = stream.read(&mut buf).unwrap();
                assert!(got > 0, "the server closed during the handshake");
                head.extend_from_slice(&buf[..got]);
            }
            assert!(
                head.starts_with(b"HTTP/1.1 101"),
                "{}",
                String::from_utf8_lossy(&head)
            );
            stream.set_nonblocking(true).unwrap();
            out.push(TcpStream::from_std(stream));
        }
        i += 256;
    }
    out
}

struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rlen: usize,
    /// Bytes of the current batch written.
    written: usize,
    /// Echoes of the current batch still to come.
    awaiting: usize,
    sent_at: Instant,
}

/// Median of a slice (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn main(args: &[String]) {
    let mode = args.first().cloned().unwrap_or_default();
    let o = Opts::parse(&args[1..]);
    let _ = sys::raise_nofile(200_000);
    let addr: SocketAddr = o.get("addr", "127.0.0.1:9001".parse().unwrap());
    let conns: usize = o.get("conns", 10);
    let sources: usize = o.get("sources", 1);
    let server_pid: u32 = o.get("server-pid", 0);
    match mode.as_str() {
        "echo" => echo(&o, addr, conns, sources, server_pid),
        "idle" => idle(&o, addr, conns, sources, server_pid),
        "room" => room(&o, addr, conns, sources, server_pid),
        "hold" => hold(&o, addr, conns, sources),
        other => panic!("unknown generator mode {other}"),
    }
}

fn idle(o: &Opts, addr: SocketAddr, n: usize, sources: usize, pid: u32) {
    let settle = Duration::from_millis(o.get("settle-ms", 1000));
    std::thread::sleep(Duration::from_millis(200));
    let before = sys::rss_bytes(pid);
    let start = Instant::now();
    let streams = open(addr, n, sources);
    let opened = start.elapsed();
    std::thread::sleep(settle);
    let after = sys::rss_bytes(pid);
    println!(
        "result conns={} rss_before={} rss_after={} rss_per_conn={:.0} open_secs={:.2}",
        streams.len(),
        before,
        after,
        (after as f64 - before as f64) / n as f64,
        opened.as_secs_f64()
    );
}

fn hold(o: &Opts, addr: SocketAddr, n: usize, sources: usize) {
    let max = Duration::from_secs_f64(o.get("max-secs", 60.0));
    let streams = open(addr, n, sources);
    println!("opened {}", streams.len());
    std::io::stdout().flush().unwrap();
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<(TcpStream, Vec<u8>, bool)> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .unwrap();
            (stream, Vec::new(), false)
        })
        .collect();
    let mut codes: HashMap<u16, usize> = HashMap::new();
    let (mut ended, mut without_close, mut other_frames) = (0, 0, 0);
    let mut first_close: Option<Instant> = None;
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    while ended < conns.len() && start.elapsed() < max {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in events.iter() {
            let (stream, pending, closed) = &mut conns[event.token().0];
            let mut end = false;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        end = true;
                        break;
                    }
                    Ok(got) => pending.extend_from_slice(&buf[..got]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        end = true;
                        break;
                    }
                }
            }
            while let Some((first, payload, used)) = server_frame(pending) {
                if first & 0x0f == 0x8 && !*closed {
                    *closed = true;
                    first_close.get_or_insert_with(Instant::now);
                    let code = match &pending[payload.clone()] {
                        [a, b, ..] => u16::from_be_bytes([*a, *b]),
                        _ => 1005,
                    };
                    *codes.entry(code).or_default() += 1;
                    // An 8-byte frame into an empty socket buffer.
                    let _ = stream.write_all(&client_frame(0x8, &code.to_be_bytes()));
                } else {
                    other_frames += 1;
                }
                pending.drain(..used);
            }
            if end {
                ended += 1;
                without_close += usize::from(!*closed);
                let _ = poll.registry().deregister(stream);
            }
        }
    }
    let mut codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
    codes.sort();
    println!(
        "result conns={} ended={ended} closes={} without_close={without_close} \
         other_frames={other_frames} first_close_to_last_end_secs={:.3}",
        conns.len(),
        codes.join(","),
        first_close.map_or(0.0, |t| t.elapsed().as_secs_f64()),
    );
}

/// The sample schedule: warm-up, then `samples` windows of `secs`.
struct Schedule {
    warmup: Duration,
    sample: Duration,
    samples: usize,
}

impl Schedule {
    fn from(o: &Opts) -> Schedule {
        Schedule {
            warmup: Duration::from_secs_f64(o.get("warmup", 1.0)),
            sample: Duration::from_secs_f64(o.get("sample-secs", 0.5)),
            samples: o.get("samples", 5),
        }
    }
}

fn echo(o: &Opts, addr: SocketAddr, n: usize, sources: usize, pid: u32) {
    let size: usize = o.get("size", 20);
    let text = o.flag("text");
    let pipeline: usize = o.get("pipeline", 1).max(1);
    let want_rtt = o.flag("rtt");
    let schedule = Schedule::from(o);
    let payload: Vec<u8> = if text {
        // ASCII and two-byte UTF-8 mixed, cut on a character boundary and
        // padded with ASCII to `size` bytes.
        let mut s = String::new();
        for ch in "wsproto é load ".chars().cycle() {
            if s.len() + ch.len_utf8() > size {
                break;
            }
            s.push(ch);
        }
        while s.len() < size {
            s.push('x');
        }
        s.into_bytes()
    } else {
        (0..size).map(|i| (i * 7) as u8).collect()
    };
    let opcode = if text { 1 } else { 2 };
    let frame = client_frame(opcode, &payload);
    let batch: Vec<u8> = frame.repeat(pipeline);
    let streams = open(addr, n, sources);
    let mut poll = Poll::new().unwrap();
    let rcap = (4 * frame.len() * pipeline).clamp(4096, 1 << 20);
    let mut conns: Vec<Conn> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .unwrap();
            Conn {
                stream,
                rbuf: vec![0; rcap],
                rlen: 0,
                written: 0,
                awaiting: pipeline,
                sent_at: Instant::now(),
            }
        })
        .collect();
    // Start every connection's first batch.
    let now = Instant::now();
    for c in &mut conns {
        c.sent_at = now;
        write_batch(c, &batch);
    }
    let mut events = Events::with_capacity(1024);
    let mut count: u64 = 0;
    let mut rtts: Vec<u32> = Vec::new();
    let start = Instant::now();
    let mut phase_end = start + schedule.warmup;
    let mut measuring = false;
    let mut sample_start_count = 0;
    let mut sample_start = start;
    let mut rates = Vec::new();
    let mut cpu = None;
    let mut own = None;
    let mut cores = None;
    loop {
        let now = Instant::now();
        if now >= phase_end {
            if measuring {
                let secs = (now - sample_start).as_secs_f64();
                rates.push((count - sample_start_count) as f64 / secs);
                if rates.len() == schedule.samples {
                    break;
                }
            } else {
                measuring = true;
                cpu = Some(sys::CpuMeter::start(pid));
                own = Some(sys::CpuMeter::start(std::process::id()));
                cores = Some(sys::CoreMeter::start());
            }
            sample_start = now;
            sample_start_count = count;
            phase_end = now + schedule.sample;
        }
        poll.poll(&mut events, Some(phase_end.saturating_duration_since(now)))
            .unwrap();
        let now = Instant::now();
        for event in events.iter() {
            let c = &mut conns[event.token().0];
            if event.is_writable() && c.written < batch.len() {
                write_batch(c, &batch);
            }
            if !event.is_readable() {
                continue;
            }
            loop {
                if c.rlen == c.rbuf.len() {
                    let grown = c.rbuf.len() * 2;
                    c.rbuf.resize(grown, 0);
                }
                match c.stream.read(&mut c.rbuf[c.rlen..]) {
                    Ok(0) => panic!("the server closed a connection"),
                    Ok(got) => c.rlen += got,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => panic!("read: {e}"),
                }
            }
            let mut at = 0;
            while let Some((op, range, used)) = server_frame(&c.rbuf[at..c.rlen]) {
                assert_eq!(op, 0x80 | opcode, "unexpected frame");
                assert_eq!(range.len(), size, "echo of the wrong length");
                at += used;
                count += 1;
                if measuring && want_rtt {
                    rtts.push((now - c.sent_at).as_micros() as u32);
                }
                c.awaiting -= 1;
                if c.awaiting == 0 {
                    c.awaiting = pipeline;
                    c.written = 0;
                    c.sent_at = now;
                    write_batch(c, &batch);
                }
            }
            c.rbuf.copy_within(at..c.rlen, 0);
            c.rlen -= at;
        }
    }
    let (server_cpu, server_share) = cpu.map_or((0.0, 0.0), |c| c.read());
    let (_, own_share) = own.map_or((0.0, 0.0), |c| c.read());
    let (core0, core1) = cores.map_or((0.0, 0.0), |c| c.read());
    let measured: f64 = rates.iter().sum::<f64>() * schedule.sample.as_secs_f64();
    let rate = median(&mut rates);
    rtts.sort_unstable();
    println!(
        "result msgs_per_sec={rate:.0} server_cpu={server_share:.3} gen_cpu={own_share:.3} \
         server_us_per_msg={:.3} rtt_p50_us={} rtt_p99_us={} conns={} core0_busy={core0:.3} core1_busy={core1:.3}",
        server_cpu * 1e6 / measured.max(1.0),
        percentile(&rtts, 0.5),
        percentile(&rtts, 0.99),
        conns.len()
    );
}

/// Writes what is left of the batch; the rest waits for WRITABLE.
fn write_batch(c: &mut Conn, batch: &[u8]) {
    while c.written < batch.len() {
        match c.stream.write(&batch[c.written..]) {
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// The chat corpus, one ~4 KB JSON line per post.
const CHAT: &str = include_str!("../corpus/chat.jsonl");

/// The sequence number at the front of a post's text.
fn seq_of(text: &[u8]) -> usize {
    std::str::from_utf8(&text[..8])
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .expect("a post's sequence number") as usize
}

/// A compressed message's text (RFC 7692 §7.2.2: the tail appended back).
fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut out = vec![0; 64 << 10];
    let mut inflater = zlib_rs::Inflate::new(false, 15);
    inflater
        .decompress(&input, &mut out, zlib_rs::InflateFlush::SyncFlush)
        .expect("valid deflate");
    out.truncate(inflater.total_out() as usize);
    out
}

fn room(o: &Opts, addr: SocketAddr, n: usize, sources: usize, pid: u32) {
    let size: usize = o.get("size", 32).max(8);
    let window: usize = o.get("window", 4).max(1);
    let chat = o.flag("chat");
    let lines: Vec<&str> = CHAT.lines().collect();
    let schedule = Schedule::from(o);
    let offer = if chat {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let streams = open_with(addr, n, sources, offer);
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<Conn> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .unwrap();
            Conn {
                stream,
                rbuf: vec![0; 4096],
                rlen: 0,
                written: 0,
                awaiting: 0,
                sent_at: Instant::now(),
            }
        })
        .collect();
    // Posts: seq as 8 hex digits, padded with 'x'; sent by member 0.
    const RING: usize = 1 << 16;
    let mut posted_at = vec![Instant::now(); RING];
    let mut received = vec![0u32; RING];
    let mut next_seq: u64 = 0;
    let mut done_seq: u64 = 0;
    let mut pending_out: Vec<u8> = Vec::new();
    let mut text_bytes: u64 = 0;
    let mut post = |conns: &mut [Conn], next_seq: &mut u64, posted_at: &mut [Instant], now| {
        let mut payload = format!("{:08x}", *next_seq % (1 << 32)).into_bytes();
        if chat {
            payload.extend_from_slice(lines[*next_seq as usize % lines.len()].as_bytes());
        } else {
            payload.resize(size, b'x');
        }
        text_bytes += payload.len() as u64;
        posted_at[(*next_seq as usize) % RING] = now;
        *next_seq += 1;
        pending_out.extend_from_slice(&client_frame(1, &payload));
        let c = &mut conns[0];
        while !pending_out.is_empty() {
            match c.stream.write(&pending_out) {
                Ok(k) => {
                    pending_out.drain(..k);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("post: {e}"),
            }
        }
    };
    let now = Instant::now();
    for _ in 0..window {
        post(&mut conns, &mut next_seq, &mut posted_at, now);
    }
    let mut events = Events::with_capacity(1024);
    let mut delivered: u64 = 0;
    let mut wire_bytes: u64 = 0;
    let mut compressed: u64 = 0;
    // A compressed post's frame payload -> its sequence number.
    let mut inflated: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut lat: Vec<u32> = Vec::new();
    let start = Instant::now();
    let mut phase_end = start + schedule.warmup;
    let mut measuring = false;
    let (mut sample_start, mut sample_count) = (start, 0u64);
    let mut rates = Vec::new();
    let mut cpu = None;
    let mut own = None;
    let mut cores = None;
    let mut complete_in_samples = 0u64;
    loop {
        let now = Instant::now();
        if now >= phase_end {
            if measuring {
                rates.push((delivered - sample_count) as f64 / (now - sample_start).as_secs_f64());
                if rates.len() == schedule.samples {
                    break;
                }
            } else {
                measuring = true;
                cpu = Some(sys::CpuMeter::start(pid));
                own = Some(sys::CpuMeter::start(std::process::id()));
                cores = Some(sys::CoreMeter::start());
            }
            sample_start = now;
            sample_count = delivered;
            phase_end = now + schedule.sample;
        }
        poll.poll(&mut events, Some(phase_end.saturating_duration_since(now)))
            .unwrap();
        let now = Instant::now();
        let mut completed = 0;
        for event in events.iter() {
            let c = &mut conns[event.token().0];
            if !event.is_readable() {
                continue;
            }
            loop {
                if c.rlen == c.rbuf.len() {
                    let grown = c.rbuf.len() * 2;
                    c.rbuf.resize(grown, 0);
                }
                match c.stream.read(&mut c.rbuf[c.rlen..]) {
                    Ok(0) => panic!("the room closed a member (dropped as too slow?)"),
                    Ok(got) => c.rlen += got,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            let mut at = 0;
            while let Some((op, range, used)) = server_frame(&c.rbuf[at..c.rlen]) {
                let payload = &c.rbuf[at..][range];
                let seq = match op {
                    0x81 => seq_of(payload),
                    // RSV1: compressed (permessage-deflate, `--chat`).
                    0xc1 if chat => {
                        compressed += 1;
                        match inflated.get(payload) {
                            Some(&seq) => seq,
                            None => {
                                let seq = seq_of(&inflate(payload));
                                if inflated.len() > 256 {
                                    inflated.clear();
                                }
                                inflated.insert(payload.to_vec(), seq);
                                seq
                            }
                        }
                    }
                    _ => panic!("unexpected frame {op:#x}"),
                };
                at += used;
                wire_bytes += used as u64;
                delivered += 1;
                let slot = &mut received[seq % RING];
                *slot += 1;
                if *slot as usize == n {
                    *slot = 0;
                    completed += 1;
                    if measuring {
                        complete_in_samples += 1;
                        lat.push((now - posted_at[seq % RING]).as_micros() as u32);
                    }
                }
            }
            c.rbuf.copy_within(at..c.rlen, 0);
            c.rlen -= at;
        }
        done_seq += completed;
        while next_seq - done_seq < window as u64 {
            post(&mut conns, &mut next_seq, &mut posted_at, now);
        }
    }
    let (server_cpu, server_share) = cpu.map_or((0.0, 0.0), |c| c.read());
    let (_, own_share) = own.map_or((0.0, 0.0), |c| c.read());
    let (core0, core1) = cores.map_or((0.0, 0.0), |c| c.read());
    let measured: f64 = rates.iter().sum::<f64>() * schedule.sample.as_secs_f64();
    let rate = median(&mut rates);
    lat.sort_unstable();
    println!(
        "result delivered_per_sec={rate:.0} posts={complete_in_samples} posted={next_seq} server_cpu={server_share:.3} \
         gen_cpu={own_share:.3} server_us_per_delivered={:.4} lat_p50_us={} lat_p99_us={} conns={} core0_busy={core0:.3} core1_busy={core1:.3} \
         wire_bytes_per_delivered={:.1} text_bytes_per_post={:.1} compressed_deliveries={compressed}",
        server_cpu * 1e6 / measured.max(1.0),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        conns.len(),
        wire_bytes as f64 / delivered.max(1) as f64,
        text_bytes as f64 / next_seq.max(1) as f64,
    );
}
