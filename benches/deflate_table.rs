//! permessage-deflate, what each setting costs (issue 33): the table of
//! docs/PERFORMANCE.md, "permessage-deflate per connection".
//!
//! - **Memory**, counted by a `#[global_allocator]` wrapping `System` (live
//!   heap bytes as requested): one zlib-rs compressor per window bits ×
//!   memLevel, one decompressor per window bits, each after a message went
//!   through it; then the deflate state a server `wsproto::Connection`
//!   holds between messages in each mode, after one message each way
//!   (its heap minus a plain connection's after the same traffic).
//! - **Compressed size** on three corpora (`benches/corpus/`: chat-like
//!   JSON, English prose, a binary entity-update protocol), as a server
//!   `Connection` puts it on the wire (payload bytes over text bytes), for
//!   ~4 KB messages with and without context takeover, and for each
//!   corpus as one large message.
//! - **CPU per message**: a server `Connection` sending the chat messages,
//!   nanoseconds per message (best of 5 rounds); instructions with
//!   `--callgrind ROW` (run under `valgrind --tool=callgrind
//!   --toggle-collect='*measured*'`; see docs/PERFORMANCE.md).
//!
//! ```sh
//! cargo bench -p wsproto-benches --bench deflate_table
//! cargo bench -p wsproto-benches --bench deflate_table -- --quick
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use wsproto::Parsed;
use wsproto::deflate::{DeflateParams, DeflatePool};
use wsproto::frame::FrameHeader;
use wsproto::{Config, Connection, Message, Role, Transmit};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const CHAT: &str = include_str!("corpus/chat.jsonl");
const PROSE: &str = include_str!("corpus/prose.txt");
const RECORDS: &[u8] = include_bytes!("corpus/records.bin");

/// A corpus: its name, as ~4 KB messages, and whole.
type Corpus = (&'static str, Vec<Vec<u8>>, Vec<u8>);

/// The three corpora.
fn corpora() -> Vec<Corpus> {
    let chat: Vec<Vec<u8>> = CHAT.lines().map(|l| l.as_bytes().to_vec()).collect();
    let prose: Vec<Vec<u8>> = PROSE.as_bytes().chunks(4096).map(<[u8]>::to_vec).collect();
    let records: Vec<Vec<u8>> = RECORDS.chunks(4096).map(<[u8]>::to_vec).collect();
    vec![
        ("chat JSON", chat, CHAT.as_bytes().to_vec()),
        ("prose", prose, PROSE.as_bytes().to_vec()),
        ("binary records", records, RECORDS.to_vec()),
    ]
}

fn params(bits: u8, mem_level: u8, no_context_takeover: bool) -> DeflateParams {
    let mut p = DeflateParams::default();
    p.server_max_window_bits = bits;
    p.client_max_window_bits = bits;
    p.mem_level = mem_level;
    p.server_no_context_takeover = no_context_takeover;
    p.client_no_context_takeover = no_context_takeover;
    p.threshold = 0;
    p
}

fn server(p: Option<DeflateParams>) -> Connection {
    let mut conn = Connection::new(Role::Server, Config::default());
    if let Some(p) = p {
        conn.set_deflate(p);
    }
    conn
}

fn wire(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(Transmit::Data(bytes)) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// Payload bytes of the frames in `wire`.
fn payload_bytes(mut wire: &[u8]) -> usize {
    let mut total = 0;
    while !wire.is_empty() {
        let Ok(Parsed::Complete((header, used))) = FrameHeader::decode(wire) else {
            panic!("bad frame");
        };
        let len = header.payload_len as usize;
        total += len;
        wire = &wire[used + len..];
    }
    total
}

/// Compressed size over text size of `messages` sent in a row.
fn ratio(p: DeflateParams, messages: &[Vec<u8>]) -> f64 {
    let mut conn = server(Some(p));
    let (mut sent, mut text) = (0, 0);
    for m in messages {
        conn.send_binary(m.as_slice()).unwrap();
        sent += payload_bytes(&wire(&mut conn));
        text += m.len();
    }
    sent as f64 / text as f64
}

/// Heap held by a zlib-rs compressor after compressing `sample`.
fn compressor_bytes(bits: u8, mem_level: u8, sample: &[u8]) -> isize {
    let before = live();
    let mut c = zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
        level: 6,
        method: zlib_rs::Method::Deflated,
        window_bits: -i32::from(bits),
        mem_level: i32::from(mem_level),
        strategy: zlib_rs::Strategy::Default,
    });
    let mut out = vec![0; sample.len() + 1024];
    c.compress(sample, &mut out, zlib_rs::DeflateFlush::SyncFlush)
        .unwrap();
    drop(out);
    let held = live() - before;
    drop(c);
    held
}

/// Heap held by a zlib-rs decompressor after inflating a message.
fn decompressor_bytes(bits: u8, sample: &[u8]) -> isize {
    let mut c = zlib_rs::Deflate::new(6, false, bits);
    let mut compressed = vec![0; sample.len() + 1024];
    c.compress(sample, &mut compressed, zlib_rs::DeflateFlush::SyncFlush)
        .unwrap();
    let n = c.total_out() as usize;
    let mut out = vec![0; sample.len() + 1024];
    let before = live();
    let mut d = zlib_rs::Inflate::new(false, bits);
    d.decompress(&compressed[..n], &mut out, zlib_rs::InflateFlush::SyncFlush)
        .unwrap();
    let held = live() - before;
    drop(d);
    held
}

/// Heap a server connection holds between messages: after one message
/// each way, with the client dropped and `release_buffers` called. A pool
/// is warmed first, so that its own states are not counted.
fn connection_bytes(p: Option<DeflateParams>, sample: &[u8]) -> isize {
    let held = |p: Option<DeflateParams>| {
        let before = live();
        let mut s = server(p);
        let mut c = Connection::new(Role::Client, Config::default());
        if let Some(p) = p {
            c.set_deflate(p);
        }
        c.send_binary(sample).unwrap();
        s.receive_data(&wire(&mut c)).unwrap();
        assert!(matches!(s.poll_event(), Some(Message::Binary(_))));
        s.send_binary(sample).unwrap();
        c.receive_data(&wire(&mut s)).unwrap();
        assert!(matches!(c.poll_event(), Some(Message::Binary(_))));
        s.release_buffers();
        drop(c);
        let held = live() - before;
        drop(s);
        held
    };
    held(p);
    held(p)
}

/// The CPU rows: (name, params; None = no deflate).
fn cpu_rows() -> Vec<(&'static str, Option<DeflateParams>)> {
    static POOL: DeflatePool = DeflatePool::new(4);
    let pooled = |mut p: DeflateParams| {
        p.pool = Some(&POOL);
        p
    };
    vec![
        ("plain (no deflate)", None),
        (
            "context takeover, 15 bits, memLevel 8",
            Some(params(15, 8, false)),
        ),
        (
            "context takeover, 12 bits, memLevel 5",
            Some(params(12, 5, false)),
        ),
        (
            "no takeover, 15 bits, memLevel 8, a state per message",
            Some(params(15, 8, true)),
        ),
        (
            "no takeover, 15 bits, memLevel 8, pool",
            Some(pooled(params(15, 8, true))),
        ),
        (
            "no takeover, 15 bits, memLevel 5, pool",
            Some(pooled(params(15, 5, true))),
        ),
        (
            "no takeover, 12 bits, memLevel 5, a state per message",
            Some(params(12, 5, true)),
        ),
        (
            "no takeover, 12 bits, memLevel 5, pool",
            Some(pooled(params(12, 5, true))),
        ),
    ]
}

/// Sends `messages` `rounds` times from a server connection.
#[inline(never)]
fn measured_send(conn: &mut Connection, messages: &[Vec<u8>], rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        for m in messages {
            conn.send_text(black_box(std::str::from_utf8(m).unwrap()))
                .unwrap();
            while let Some(Transmit::Data(bytes)) = conn.poll_transmit() {
                n += black_box(bytes).len();
            }
        }
    }
    n
}

/// A client's frames for `messages` sent `rounds` times (compressed as a
/// client with `p` compresses them).
fn client_frames(p: Option<DeflateParams>, messages: &[Vec<u8>], rounds: usize) -> Vec<Vec<u8>> {
    let mut client = Connection::new(Role::Client, Config::default());
    if let Some(p) = p {
        client.set_deflate(p);
    }
    let mut out = Vec::new();
    for _ in 0..rounds {
        for m in messages {
            client.send_text(std::str::from_utf8(m).unwrap()).unwrap();
            out.push(wire(&mut client));
        }
    }
    out
}

/// A server connection receives `frames` (one message each).
#[inline(never)]
fn measured_receive(conn: &mut Connection, frames: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for f in frames {
        conn.receive_data(black_box(f)).unwrap();
        while let Some(event) = conn.poll_event() {
            if let Message::Text(t) = event {
                n += black_box(t).len();
            }
        }
    }
    n
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let (_, chat, _) = corpora().remove(0);
    if let Some(i) = args.iter().position(|a| a == "--callgrind") {
        // One row, 96 messages sent (`--callgrind ROW`) or received
        // (`--callgrind ROW receive`), after a warm-up of 16 not counted:
        // only `measured_*` is, with --toggle-collect='*measured*'.
        let row: usize = args[i + 1].parse().unwrap();
        let receive = args.get(i + 2).is_some_and(|a| a == "receive");
        let (name, p) = cpu_rows().remove(row);
        let mut conn = server(p);
        let n = if receive {
            let frames = client_frames(p, &chat, 7);
            measured_receive(&mut conn, &frames[..16]);
            measured_receive(&mut conn, &frames[16..])
        } else {
            measured_send(&mut conn, &chat, 1);
            measured_send(&mut conn, &chat, 6)
        };
        let what = if receive { "received" } else { "sent" };
        eprintln!("callgrind row {row} ({name}): 96 messages {what}, {n} bytes");
        return;
    }
    let sample = &chat[0];

    println!("CPU: {}", cpu_model());
    println!("\n## zlib-rs compressor, heap bytes (after one ~4 KB message)\n");
    let levels = [1u8, 3, 5, 8, 9];
    print!("| window bits |");
    for m in levels {
        print!(" memLevel {m} |");
    }
    println!("\n|---|{}", "---:|".repeat(levels.len()));
    for bits in 9..=15u8 {
        print!("| {bits} |");
        for m in levels {
            print!(
                " {:.1} KiB |",
                compressor_bytes(bits, m, sample) as f64 / 1024.0
            );
        }
        println!();
    }
    println!("\n## zlib-rs decompressor, heap bytes (after one message)\n");
    println!("| window bits | heap |\n|---|---:|");
    for bits in 9..=15u8 {
        println!(
            "| {bits} | {:.1} KiB |",
            decompressor_bytes(bits, sample) as f64 / 1024.0
        );
    }

    println!("\n## heap a server connection holds after a message each way\n");
    println!("| mode | held |\n|---|---:|");
    println!(
        "| no deflate | {:.1} KiB |",
        connection_bytes(None, sample) as f64 / 1024.0
    );
    static POOL: DeflatePool = DeflatePool::new(4);
    let mut pooled = params(15, 8, true);
    pooled.pool = Some(&POOL);
    for (name, p) in [
        (
            "context takeover both ways, 15 bits, memLevel 8",
            params(15, 8, false),
        ),
        (
            "context takeover both ways, 15 bits, memLevel 5",
            params(15, 5, false),
        ),
        (
            "context takeover both ways, 12 bits, memLevel 5",
            params(12, 5, false),
        ),
        (
            "no context takeover both ways (Stateless)",
            params(15, 8, true),
        ),
        ("Stateless with a pool", pooled),
    ] {
        println!(
            "| {name} | {:.1} KiB |",
            connection_bytes(Some(p), sample) as f64 / 1024.0
        );
    }

    println!("\n## compressed size / text size\n");
    let rows: &[(u8, u8)] = &[
        (15, 9),
        (15, 8),
        (15, 5),
        (15, 1),
        (13, 8),
        (12, 8),
        (12, 5),
        (11, 8),
        (10, 8),
        (9, 8),
    ];
    let corpora = corpora();
    print!("| bits | memLevel |");
    for (name, _, _) in &corpora {
        print!(" {name}, 4 KB, takeover | {name}, 4 KB, none | {name}, whole |");
    }
    println!("\n|---|---|{}", "---:|".repeat(3 * corpora.len()));
    for &(bits, m) in rows {
        print!("| {bits} | {m} |");
        for (_, messages, whole) in &corpora {
            print!(
                " {:.3} | {:.3} | {:.3} |",
                ratio(params(bits, m, false), messages),
                ratio(params(bits, m, true), messages),
                ratio(params(bits, m, true), std::slice::from_ref(whole)),
            );
        }
        println!();
    }

    println!("\n## CPU per ~4 KB chat message (server, level 6), best of 5 rounds\n");
    println!("| row | ns per message sent | ns per message received |\n|---|---:|---:|");
    let rounds = if quick { 5 } else { 50 };
    for (name, p) in cpu_rows() {
        let mut conn = server(p);
        measured_send(&mut conn, &chat, 2);
        let send = (0..5)
            .map(|_| {
                let t = Instant::now();
                measured_send(&mut conn, &chat, rounds);
                t.elapsed().as_nanos() as f64 / (rounds * chat.len()) as f64
            })
            .fold(f64::INFINITY, f64::min);
        let mut conn = server(p);
        let frames = client_frames(p, &chat, 1 + 5 * rounds);
        measured_receive(&mut conn, &frames[..chat.len()]);
        let receive = frames[chat.len()..]
            .chunks(rounds * chat.len())
            .map(|batch| {
                let t = Instant::now();
                measured_receive(&mut conn, batch);
                t.elapsed().as_nanos() as f64 / batch.len() as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!("| {name} | {send:.0} | {receive:.0} |");
    }
}
