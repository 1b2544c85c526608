//! Hostile peers against the server's memory and threads, on loopback,
//! default config; each test runs against the blocking server (a thread
//! per connection) and the tokio one (a task per connection), see
//! `against_both_adapters!`.
//!
//! A counting global allocator tracks live heap bytes and their peak; the
//! tests in this binary run one at a time (a lock) so the figures belong
//! to one case. VmRSS is sampled around each case as well. Figures are
//! printed (`--nocapture`).

#![cfg(feature = "blocking")]

mod support;

use std::io::Write;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use support::alloc;
use support::hostile::*;
use wsproto::blocking::{ClientBuilder, Error, Message};
use wsproto::{Config, ProtocolError};

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

/// One test at a time, so the heap figures are this test's.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: isize = 1 << 20;

/// Heap and RSS around a case.
struct Sample {
    what: &'static str,
    live: isize,
    rss: u64,
}

impl Sample {
    fn start(what: &'static str) -> Sample {
        // Resets VmHWM (the resident peak) to the current VmRSS.
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let live = alloc::live();
        alloc::reset_peak();
        Sample {
            what,
            live,
            rss: rss_kib(),
        }
    }

    /// Peak resident growth (VmHWM) over the case so far, in bytes.
    fn resident_growth(&self) -> isize {
        (status_kib("VmHWM:") as isize - self.rss as isize) << 10
    }

    /// Peak heap growth over the case so far, in bytes.
    fn peak_growth(&self) -> isize {
        alloc::peak() - self.live
    }

    /// Prints the figures; asserts the peak stayed under `cap` and that
    /// the heap is back near where it started (`slack`) once the
    /// connections are gone.
    fn finish(self, cap: isize, slack: isize) {
        let peak = self.peak_growth();
        let left = alloc::live() - self.live;
        let rss = rss_kib();
        println!(
            "{}: heap peak +{} KiB, left +{} KiB; VmRSS {} -> {} KiB, resident peak +{} KiB",
            self.what,
            peak >> 10,
            left >> 10,
            self.rss,
            rss,
            self.resident_growth() >> 10
        );
        assert!(peak < cap, "{}: heap peak +{peak} B over {cap}", self.what);
        assert!(left < slack, "{}: {left} B still held", self.what);
    }
}

/// Waits (bounded) until the server has no connection thread left, so
/// their memory is released before it is measured.
fn settle(server: &Server) {
    let started = Instant::now();
    while server.live() > 0 {
        assert!(
            started.elapsed() < INSTANT,
            "{} threads left",
            server.live()
        );
        thread::yield_now();
    }
}

/// A masked Ping with 125 payload bytes: 2 + 4 + 125.
const PING_FRAME_LEN: usize = 131;

/// How a ping flood stopped.
enum FloodEnd {
    /// Our write blocked for 500 ms: the peer is not reading.
    Blocked,
    /// 64 MiB went out without blocking.
    Cap,
    /// The write failed (the server reset the connection).
    Failed(std::io::Error),
}

/// Writes masked 125-byte Pings, never reading, until the write blocks,
/// fails or 64 MiB went out; returns the bytes sent and why it stopped.
fn flood_pings(ws: &mut RawWs) -> (usize, FloodEnd) {
    ws.tcp
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let ping = masked(PING, &[b'p'; 125]);
    let batch: Vec<u8> = ping
        .iter()
        .cycle()
        .take(ping.len() * 500)
        .copied()
        .collect();
    let mut sent = 0;
    while sent < 64 << 20 {
        match ws.tcp.write(&batch) {
            Ok(n) => sent += n,
            Err(e) if is_timeout(&e) => return (sent, FloodEnd::Blocked),
            Err(e) => return (sent, FloodEnd::Failed(e)),
        }
    }
    (sent, FloodEnd::Cap)
}

fn pings_from_a_peer_that_never_reads_are_back_pressured() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start();
    let sample = Sample::start("ping flood, never reading");
    let mut ws = RawWs::connect(server.addr);
    let started = Instant::now();
    let (sent, end) = flood_pings(&mut ws);
    let blocked = match end {
        FloodEnd::Blocked => true,
        FloodEnd::Cap => false,
        FloodEnd::Failed(e) => panic!("{e:?}"),
    };
    let elapsed = within("ping flood", started, INSTANT * 2);
    println!(
        "sent {} KiB of pings ({} pings) in {elapsed:?}; back-pressured: {blocked}",
        sent >> 10,
        sent / PING_FRAME_LEN
    );
    // What happens: the server answers each Ping (coalescing the Pongs it
    // could not send yet) until its socket's send buffer is full; its
    // write then blocks, it stops reading, and TCP pushes back on the
    // peer. The server holds no more than the write cap meanwhile.
    assert!(blocked, "the server kept reading {sent} B of pings");
    let peak = sample.peak_growth();
    assert!(peak < 4 * MIB, "heap peak +{peak} B during the flood");
    // The server stays blocked in its write until the peer reads, goes
    // away, or `Config::write_timeout` (30 s by default; see the next test)
    // passes: closing our socket with unread data resets the connection.
    drop(ws);
    let outcome = server.outcome();
    assert!(
        matches!(outcome.error(), Error::Io(_) | Error::ConnectionLost),
        "{outcome:?}"
    );
    server.assert_serves();
    settle(&server);
    sample.finish(4 * MIB, MIB);
}

/// A peer that floods pings and never reads, but keeps its socket open, is
/// dropped once the server's write has made no progress for
/// the server's write timeout: it cannot hold a server thread forever.
fn a_peer_that_never_reads_is_dropped_at_the_write_timeout() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::with(ServerBuilder::new().write_timeout(Some(Duration::from_millis(300))));
    let mut ws = RawWs::connect(server.addr);
    let started = Instant::now();
    // Fill both directions' buffers until our own write blocks (or the
    // server already gave up): by then the server is stuck writing Pongs
    // we never read.
    let (sent, _) = flood_pings(&mut ws);
    let outcome = server.outcome(); // our socket stays open meanwhile
    let elapsed = within("drop at the write timeout", started, INSTANT * 2);
    println!(
        "dropped after {elapsed:?}, {} KiB of pings sent",
        sent >> 10
    );
    assert!(matches!(outcome.error(), Error::Io(_)), "{outcome:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    drop(ws);
    server.assert_serves();
    settle(&server);
}

fn a_message_growing_past_the_cap_through_many_fragments_1009() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cap = Config::default().max_message_size;
    let server = Server::start();
    let sample = Sample::start("message past the 64 MiB cap in 1 MiB fragments");
    let mut ws = RawWs::connect(server.addr);
    let writer = ws.tcp.try_clone().unwrap();
    let started = Instant::now();
    let sending = thread::spawn(move || {
        let mut writer = writer;
        // Zero masks: the payload bytes go out as they are.
        let chunk = vec![b'x'; 1 << 20];
        let mut fragments = 0;
        for i in 0..(cap >> 20) + 8 {
            let first = if i == 0 { BINARY_FIRST } else { CONT };
            let mut bytes = header(first, chunk.len() as u64, Some([0; 4]));
            bytes.extend_from_slice(&chunk);
            if writer.write_all(&bytes).is_err() {
                break;
            }
            fragments += 1;
        }
        fragments
    });
    assert_eq!(ws.close_code(), 1009);
    within("64 MiB cap enforced", started, INSTANT * 4);
    hang_up(&ws.tcp);
    let fragments = sending.join().unwrap();
    println!("1 MiB fragments written: {fragments}");
    let outcome = server.outcome();
    assert!(
        matches!(
            outcome.error(),
            Error::Protocol(ProtocolError::MessageTooBig { .. })
        ),
        "{outcome:?}"
    );
    server.assert_serves();
    settle(&server);
    // Resident: the server holds up to the cap of one message (the frame
    // that crosses it is refused from its header, before buffering).
    let resident = sample.resident_growth();
    assert!(
        resident < cap as isize + 16 * MIB,
        "resident peak +{resident} B"
    );
    // Reserved heap: the reassembly buffer grows by doubling, so just
    // under the cap its capacity can reach twice the cap; the pages past
    // what was written are never touched, so they are not resident.
    sample.finish(2 * cap as isize + 8 * MIB, MIB);
}

fn a_frame_over_the_frame_cap_is_refused_before_buffering() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start();
    let sample = Sample::start("one frame declaring 16 MiB + 1");
    let mut ws = RawWs::connect(server.addr);
    let started = Instant::now();
    let mut bytes = header(BINARY, (16 << 20) + 1, Some([0; 4]));
    bytes.extend_from_slice(&[0; 1000]);
    ws.send(&bytes);
    assert_eq!(ws.close_code(), 1009);
    within("frame cap", started, INSTANT);
    hang_up(&ws.tcp);
    let outcome = server.outcome();
    assert!(
        matches!(
            outcome.error(),
            Error::Protocol(ProtocolError::FrameTooBig { .. })
        ),
        "{outcome:?}"
    );
    server.assert_serves();
    settle(&server);
    sample.finish(MIB, MIB);
}

/// Messages of client `c`: sizes from a few bytes to 64 KiB, text and
/// binary, content that depends on (client, index).
fn load_message(c: u32, i: u32) -> Message {
    let len = match i % 50 {
        0 => 65_536,
        7 | 21 => 3000,
        n => 1 + (n as usize * 13 + c as usize) % 200,
    };
    let bytes: Vec<u8> = (0..len)
        .map(|k| (k as u32 ^ (c * 31 + i * 7)) as u8 % 90 + 32)
        .collect();
    if i % 3 == 0 {
        Message::text(String::from_utf8(bytes).unwrap())
    } else {
        Message::binary(bytes)
    }
}

fn many_concurrent_clients_lose_and_reorder_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const CLIENTS: u32 = 32;
    const MESSAGES: u32 = 500;
    let server = Server::start();
    let sample = Sample::start("32 clients x 500 messages");
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let url = format!("ws://{}/", server.addr);
            thread::spawn(move || {
                // Fragment larger messages, so fragments of one message
                // are interleaved with Pings on the wire.
                let mut config = Config::default();
                config.fragment_size = Some(1000);
                let (ws, _) = ClientBuilder::new(url)
                    .config(config)
                    .handshake_timeout(INSTANT)
                    .connect()
                    .unwrap();
                ws.get_ref()
                    .get_ref()
                    .set_read_timeout(Some(INSTANT * 2))
                    .unwrap();
                let (mut reader, writer) = ws.into_split().unwrap();
                let sending = {
                    let writer = writer.clone();
                    thread::spawn(move || {
                        for i in 0..MESSAGES {
                            writer.send(load_message(c, i)).unwrap();
                            if i % 25 == 0 {
                                writer
                                    .send(Message::Ping(i.to_be_bytes().to_vec().into()))
                                    .unwrap();
                            }
                        }
                    })
                };
                let mut received = 0;
                while received < MESSAGES {
                    match reader.read().unwrap() {
                        Message::Pong(_) => {}
                        m => {
                            assert_eq!(
                                m,
                                load_message(c, received),
                                "client {c} message {received}"
                            );
                            received += 1;
                        }
                    }
                }
                sending.join().unwrap();
                writer.close(1000, "").unwrap();
                loop {
                    match reader.read() {
                        Ok(_) => {}
                        Err(e) if e.is_closed() => break,
                        Err(e) => panic!("client {c}: {e:?}"),
                    }
                }
                received
            })
        })
        .collect();
    let total: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    within("32 x 500 echoed", started, INSTANT * 6);
    assert_eq!(total, CLIENTS * MESSAGES);
    for _ in 0..CLIENTS {
        let outcome = server.outcome();
        assert!(
            matches!(outcome.error(), Error::ConnectionClosed),
            "{outcome:?}"
        );
    }
    server.assert_serves();
    settle(&server);
    // 64 threads on each side, each with buffers of at most a 64 KiB
    // message in flight.
    sample.finish(64 * MIB, MIB);
}

against_both_adapters!(
    pings_from_a_peer_that_never_reads_are_back_pressured,
    a_peer_that_never_reads_is_dropped_at_the_write_timeout,
    a_message_growing_past_the_cap_through_many_fragments_1009,
    a_frame_over_the_frame_cap_is_refused_before_buffering,
    many_concurrent_clients_lose_and_reorder_nothing,
);
