//! Instructions per message, counted by callgrind, not timed (issue 34).
//!
//! Each figure is the marginal cost of one message: the program runs
//! under `valgrind --tool=callgrind` twice, once with N1 and once with N2
//! messages, and the figure is `(Ir(N2) - Ir(N1)) / (N2 - N1)`. Start-up,
//! handshake and shutdown cancel out; what is left is deterministic to a
//! few instructions, whatever else the machine is doing, so a change's
//! cost shows without noise. Only user space is counted (callgrind does
//! not see the kernel).
//!
//! Rows:
//!
//! - `core`: the sans-IO [`Connection`] alone, in this process: `recv`
//!   feeds one masked client frame to a server connection and takes the
//!   message out (`receive_data` + `poll_event`); `send` queues one
//!   message (`send_text`/`send_binary`) and drains the output
//!   (`transmit_chunks` + `advance_transmit`), as a writer does.
//! - `echo`: a server process, one connection, one message in flight: the
//!   client here (plain sockets, frames built by hand, outside valgrind)
//!   sends a masked frame and reads the echo before sending the next.
//!   Servers: wsproto's `tokio_echo_server` and `echo_server` examples
//!   (built in the bench profile, `scripts/instructions.sh` does it), and
//!   fastwebsockets 0.10 and tokio-websockets 0.13 as their authors write
//!   an echo server (`load/servers.rs`, on a current-thread runtime, as
//!   `tokio_echo_server` runs by default). The blocking example runs a
//!   thread per connection.
//!
//! Sizes: 20 B binary, 1 KiB text (ASCII), 16 KiB binary (issue 34's rows),
//! plus the other kind at each size for the core.
//!
//! ```text
//! scripts/instructions.sh            # builds, then every row
//! scripts/instructions.sh --quick    # CI: fewer messages, checks the baseline
//! ```
//!
//! `INSTRUCTIONS_KEEP=1` keeps the callgrind files (with per-instruction
//! detail) for a per-function profile.
//!
//! `--quick` compares wsproto's rows with `benches/instructions-baseline.txt`
//! and fails if one grew by more than 10 %; `--write-baseline` rewrites the
//! file. Valgrind presents its own CPU (AVX2 at most, never AVX-512), so
//! the SIMD paths chosen at run time are the same on every x86-64 host;
//! the 10 % margin covers what is left (library versions, the compiler).

#[allow(dead_code)]
#[path = "load/servers.rs"]
mod servers;
#[allow(dead_code)]
#[path = "load/sys.rs"]
mod sys;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use wsproto::{Config, Connection, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The rows issue 34 names: (label, opcode, size).
const ECHO_ROWS: [(&str, OpCode, usize); 3] = [
    ("20 B binary", OpCode::Binary, 20),
    ("1 KiB text", OpCode::Text, 1024),
    ("16 KiB binary", OpCode::Binary, 16 << 10),
];

const SERVERS: [&str; 4] = [
    "wsproto-tokio",
    "wsproto-blocking",
    "fastwebsockets",
    "tokio-websockets",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("server") => servers::main(&args[1..]),
        Some("core") => core(&args[1..]),
        _ => run(&args),
    }
}

/// Message counts: (N1, N2).
struct Counts {
    echo: (u64, u64),
    core: (u64, u64),
}

fn run(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    let write_baseline = args.iter().any(|a| a == "--write-baseline");
    // `--only TEXT`, repeatable: the rows whose name contains any TEXT.
    let only: Vec<&str> = args
        .windows(2)
        .filter(|pair| pair[0] == "--only")
        .map(|pair| pair[1].as_str())
        .collect();
    let counts = if quick {
        Counts {
            echo: (200, 1200),
            core: (1000, 5000),
        }
    } else {
        Counts {
            echo: (1000, 6000),
            core: (10_000, 60_000),
        }
    };
    let mut results: Vec<(String, f64)> = Vec::new();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o));

    println!("instructions per message (callgrind Ir, (Ir(N2)-Ir(N1))/(N2-N1))");
    for dir in ["recv", "send"] {
        for kind in ["binary", "text"] {
            for size in [20, 1024, 16 << 10] {
                let name = format!("core {dir} {kind} {}", size_label(size));
                if !wanted(&name) {
                    continue;
                }
                let per = marginal(counts.core, |n| {
                    let mut cmd = valgrind(&format!("core-{dir}-{kind}-{size}-{n}"));
                    cmd.arg(std::env::current_exe().unwrap()).args([
                        "core",
                        dir,
                        kind,
                        &size.to_string(),
                        &n.to_string(),
                    ]);
                    let status = cmd.status().expect("valgrind");
                    assert!(status.success(), "{name}: {status}");
                    total_ir(&out_file(&format!("core-{dir}-{kind}-{size}-{n}")))
                });
                println!("{name:<40} {per:>10.0}");
                results.push((name, per));
            }
        }
    }
    for (label, opcode, size) in ECHO_ROWS {
        let mut line = format!("echo {label:<14}");
        let mut shown = false;
        for server in SERVERS {
            let name = format!("echo {label} {server}");
            if !wanted(&name) {
                continue;
            }
            let per = marginal(counts.echo, |n| echo_run(server, opcode, size, n));
            line += &format!("  {server} {per:>7.0}");
            shown = true;
            results.push((name, per));
        }
        if shown {
            println!("{line}");
        }
    }
    summary(&results);
    if std::env::var_os("INSTRUCTIONS_KEEP").is_some() {
        // For `callgrind_annotate --inclusive=yes FILE`: subtract the N1
        // run's functions from the N2 run's for a profile per message.
        println!("callgrind files kept in {}", out_dir().display());
    } else {
        let _ = std::fs::remove_dir_all(out_dir());
    }

    let baseline_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("instructions-baseline.txt");
    // The rows of a build with every feature (CI's, see
    // scripts/instructions.sh) have lines of their own.
    let prefix = match std::env::var("INSTRUCTIONS_FEATURES").as_deref() {
        Ok("all") => "all-features ",
        _ => "",
    };
    let results: Vec<(String, f64)> = results
        .into_iter()
        .map(|(name, per)| (format!("{prefix}{name}"), per))
        .collect();
    if write_baseline {
        write_baseline_rows(&baseline_path, prefix, &results);
    }
    if quick {
        check_baseline(&baseline_path, &results);
    }
}

/// Rewrites this build's lines of the baseline (`prefix`), keeping the
/// other build's.
fn write_baseline_rows(path: &Path, prefix: &str, results: &[(String, f64)]) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut text = String::from(
        "# benches/instructions.rs: instructions per message (callgrind Ir).\n\
         # Rewritten by `scripts/instructions.sh --write-baseline` (lines\n\
         # \"all-features ...\": with INSTRUCTIONS_FEATURES=all, as CI builds);\n\
         # --quick fails if a wsproto row is more than 10 % above its line here.\n",
    );
    let other_build = |line: &&str| {
        !line.starts_with('#') && line.starts_with("all-features ") != prefix.starts_with("all")
    };
    for line in old.lines().filter(other_build) {
        text += line;
        text += "\n";
    }
    for (name, per) in results {
        text += &format!("{name}\t{per:.0}\n");
    }
    std::fs::write(path, text).unwrap();
    println!("wrote {}", path.display());
}

/// The wsproto/best-peer ratio of each echo row.
fn summary(results: &[(String, f64)]) {
    for (label, _, _) in ECHO_ROWS {
        let get = |server: &str| {
            results
                .iter()
                .find(|(n, _)| *n == format!("echo {label} {server}"))
                .map(|r| r.1)
        };
        let best = [get("fastwebsockets"), get("tokio-websockets")]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        if let Some(ours) = get("wsproto-tokio")
            && best.is_finite()
        {
            println!(
                "echo {label:<14} wsproto-tokio / best peer = {:.2}x",
                ours / best
            );
        }
    }
}

fn check_baseline(path: &Path, results: &[(String, f64)]) {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("no baseline at {}", path.display());
        return;
    };
    let mut failed = false;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.split_once('\t') else {
            continue;
        };
        let Ok(base) = value.trim().parse::<f64>() else {
            continue;
        };
        let ours = name.contains("core ") || name.contains("wsproto");
        if let Some((_, now)) = results.iter().find(|(n, _)| n == name)
            && ours
            && *now > base * 1.10
        {
            println!("REGRESSION {name}: {now:.0} > {base:.0} + 10 %");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
    println!("within 10 % of {}", path.display());
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1024 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// `(f(N2) - f(N1)) / (N2 - N1)`.
fn marginal(counts: (u64, u64), mut f: impl FnMut(u64) -> u64) -> f64 {
    let (n1, n2) = counts;
    let a = f(n1);
    let b = f(n2);
    (b as f64 - a as f64) / (n2 - n1) as f64
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsproto-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn out_file(tag: &str) -> PathBuf {
    out_dir().join(format!("callgrind.{tag}.out"))
}

/// `valgrind --tool=callgrind`, counting from the start, into `tag`'s file.
fn valgrind(tag: &str) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--tool=callgrind",
        "--collect-atstart=yes",
        "--quiet",
        "--trace-children=no",
    ])
    .arg(format!("--callgrind-out-file={}", out_file(tag).display()));
    if std::env::var_os("INSTRUCTIONS_KEEP").is_some() {
        // Kept for a profile: costs per instruction, to read beside the
        // disassembly.
        cmd.arg("--dump-instr=yes");
    } else {
        // Only the totals are read; no per-instruction detail is needed.
        cmd.arg("--dump-instr=no");
    }
    cmd
}

/// The `summary:` (or `totals:`) line of a callgrind output file.
fn total_ir(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("summary:") || l.starts_with("totals:"))
        .unwrap_or_else(|| panic!("{}: no totals", path.display()));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Where cargo put the examples: beside this binary's `deps` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} missing: run scripts/instructions.sh (it builds the examples)",
        path.display()
    );
    path
}

/// One server process under callgrind, N messages through it; its Ir.
fn echo_run(server: &str, opcode: OpCode, size: usize, n: u64) -> u64 {
    let tag = format!("echo-{server}-{size}-{n}");
    let mut cmd = valgrind(&tag);
    let by_signal = match server {
        "wsproto-tokio" => {
            cmd.arg(example("tokio_echo_server")).arg("127.0.0.1:0");
            true
        }
        "wsproto-blocking" => {
            cmd.arg(example("echo_server")).arg("127.0.0.1:0");
            true
        }
        peer => {
            cmd.arg(std::env::current_exe().unwrap())
                .args(["server", peer]);
            false
        }
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("valgrind");
    let port = read_port(&mut child);
    client(port, opcode, size, n);
    if by_signal {
        // The examples stop well on SIGTERM (exit status 0).
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    } else {
        // The peers' servers exit when stdin closes.
        drop(child.stdin.take());
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{server}: {status}");
    total_ir(&out_file(&tag))
}

/// The port from `listening on ADDR` or `port N`.
fn read_port(child: &mut Child) -> u16 {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "server gave no port");
        let word = line.split_whitespace().last().unwrap_or("");
        if let Some(port) = line
            .starts_with("port ")
            .then(|| word.parse().ok())
            .flatten()
        {
            return port;
        }
        if line.starts_with("listening on ")
            && let Some((_, port)) = word.rsplit_once(':')
        {
            return port.parse().unwrap();
        }
    }
}

/// One masked client frame.
fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        mask: Some(KEY),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let mut head = [0; MAX_HEADER_LEN];
    let used = header.encode(&mut head);
    let mut out = head[..used].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY);
    out
}

fn payload(opcode: OpCode, size: usize) -> Vec<u8> {
    match opcode {
        OpCode::Text => b"0123456789abcdef"
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect(),
        _ => (0..size).map(|i| (i * 7) as u8).collect(),
    }
}

/// The client: handshake, `n` echoes one at a time, a Close.
fn client(port: u16, opcode: OpCode, size: usize, n: u64) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "handshake refused");
    let body = payload(opcode, size);
    let out = frame(opcode, &body);
    let mut back = vec![0u8; size];
    for _ in 0..n {
        s.write_all(&out).unwrap();
        let (op, len) = read_header(&mut s);
        assert_eq!((op, len), (opcode as u8, size), "echo");
        s.read_exact(&mut back).unwrap();
    }
    debug_assert_eq!(back, body);
    // Close 1000, then whatever comes back until EOF.
    s.write_all(&frame(OpCode::Close, &1000u16.to_be_bytes()))
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = [0u8; 256];
    while matches!(s.read(&mut rest), Ok(n) if n > 0) {}
}

/// An unmasked server frame's opcode and payload length.
fn read_header(s: &mut TcpStream) -> (u8, usize) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert!(h[0] & 0x80 != 0, "fragmented echo");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        l => l as usize,
    };
    (h[0] & 0x0f, len)
}

/// `core recv|send text|binary SIZE N`: the sans-IO core, N messages.
fn core(args: &[String]) {
    let dir = args[0].as_str();
    let opcode = if args[1] == "text" {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    let size: usize = args[2].parse().unwrap();
    let n: u64 = args[3].parse().unwrap();
    let body = payload(opcode, size);
    let mut conn = Connection::new(Role::Server, Config::default());
    match dir {
        "recv" => {
            let input = frame(opcode, &body);
            for _ in 0..n {
                conn.receive_data(&input).unwrap();
                let message = conn.poll_event().unwrap();
                std::hint::black_box(&message);
            }
        }
        _ => {
            let text = String::from_utf8(body.clone()).unwrap_or_default();
            let bytes = bytes::Bytes::from(body);
            // Text as `&str` (copied into the frame), binary as `Bytes`
            // (shared): what a caller holding the payload passes.
            for _ in 0..n {
                if opcode == OpCode::Text {
                    conn.send_text(text.as_str()).unwrap();
                } else {
                    conn.send_binary(bytes.clone()).unwrap();
                }
                let mut chunks = [&[][..]; 4];
                let mut written = 0;
                let k = conn.transmit_chunks(&mut chunks);
                for chunk in &chunks[..k] {
                    written += std::hint::black_box(chunk).len();
                }
                conn.advance_transmit(written);
            }
        }
    }
}
