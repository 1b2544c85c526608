//! Ten thousand concurrent connections held by one tokio server, each
//! echoing one message, with the server's resident memory per connection
//! printed (`--nocapture` shows it).
//!
//! Both ends of 10,000 connections in one process would need over 20,000
//! file descriptors, more than many machines' hard limit, so the clients
//! run in a child process: this same test binary, re-run with
//! [`CLIENT_ENV`] naming the server's address. The server (this process)
//! holds all 10,000 connections at once, and its RSS is measured alone.
//!
//! The open-file limit is raised to the hard limit without a crate or
//! `unsafe` (std has no `setrlimit`): `/proc/self/limits` tells the
//! limits, and util-linux's `prlimit --pid` raises this process's soft
//! limit; the child inherits it. When the hard limit is too low (or
//! `prlimit` is missing and the soft limit too low), the test says so
//! and passes without running. What it prints is bounded: the clients'
//! lines it waits for, and at most 20 lines of the client process's
//! stderr when that process fails.
#![cfg(feature = "tokio")]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::procfs::rss_kib;
use tokio::net::{TcpListener, TcpStream};
use wsproto::handshake::ClientRequest;
use wsproto::tokio::Message;

const CONNECTIONS: usize = 10_000;
/// Connections opened at once, each batch fully established before the
/// next: well under the listen backlog (1024 in tokio, capped by
/// `net.core.somaxconn`), so no SYN is dropped and retried a second later.
const BATCH: usize = 250;
/// File descriptors beyond one per connection (stdio, the runtime, the
/// test harness, pipes).
const SPARE_FDS: u64 = 200;
/// Set in the child: the server's address.
const CLIENT_ENV: &str = "WSPROTO_TOKIO_MANY_SERVER";
/// The whole test, both processes, must be over within this.
const DEADLINE: Duration = Duration::from_secs(240);
const TEST: &str = "ten_thousand_concurrent_connections_each_echo_once";

#[test]
fn ten_thousand_concurrent_connections_each_echo_once() {
    if let Ok(addr) = std::env::var(CLIENT_ENV) {
        clients(addr.parse().unwrap());
        return;
    }
    if let Err(why) = raise_open_files(CONNECTIONS as u64 + SPARE_FDS) {
        println!("skipped: {why}");
        eprintln!("tokio_many skipped: {why}");
        return;
    }
    server();
}

// ---------------------------------------------------------------------
// The server: this process.

fn server() {
    let live = Arc::new(AtomicUsize::new(0));
    let echoed = Arc::new(AtomicUsize::new(0));
    let (addr_tx, addr_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runtime = {
        let live = live.clone();
        let echoed = echoed.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(serve(live, echoed, addr_tx, stop_rx))
        })
    };
    let addr: SocketAddr = addr_rx.recv().unwrap();
    let rss_before = rss_kib();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CLIENT_ENV, addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Bounded::read(child.stderr.take().unwrap());
    let started = Instant::now();
    // A watchdog ends the child if the test runs over; a killed child's
    // stdout ends and the reads below fail.
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if done_rx.recv_timeout(DEADLINE).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut expect = |prefix: &str| loop {
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "the client process ended before {prefix:?}; its stderr:\n{}",
                    stderr.text()
                )
            })
            .unwrap();
        // libtest writes `test NAME ... ` before the test's own output.
        if let Some(at) = line.find(prefix) {
            return line[at..].to_owned();
        }
    };
    println!("{}", expect("connected "));
    println!("{}", expect("echoed "));
    // Every connection is open and has echoed: measure.
    let rss_after = rss_kib();
    let held = live.load(Ordering::SeqCst);
    let echoes = echoed.load(Ordering::SeqCst);
    println!(
        "server: {held} connections held, {echoes} echoes in {:?}; RSS {rss_before} -> \
         {rss_after} KiB, {:.1} KiB per connection",
        started.elapsed(),
        (rss_after.saturating_sub(rss_before)) as f64 / held as f64
    );
    assert_eq!(held, CONNECTIONS);
    assert_eq!(echoes, CONNECTIONS);

    // Let the clients close, and wait for every connection to end.
    drop(child.stdin.take());
    println!("{}", expect("closed "));
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "client process: {status}; its stderr:\n{}",
        stderr.text()
    );
    let _ = done_tx.send(());
    let deadline = Instant::now() + Duration::from_secs(60);
    while live.load(Ordering::SeqCst) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} server connections still open",
            live.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10)); // a poll interval
    }
    let _ = stop_tx.send(());
    runtime.join().unwrap();
}

async fn serve(
    live: Arc<AtomicUsize>,
    echoed: Arc<AtomicUsize>,
    addr: mpsc::Sender<SocketAddr>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    addr.send(listener.local_addr().unwrap()).unwrap();
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => accepted.unwrap().0,
            _ = &mut stop => return,
        };
        let live = live.clone();
        let echoed = echoed.clone();
        live.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            tcp.set_nodelay(true).unwrap();
            let mut ws = wsproto::tokio::accept(tcp).await.unwrap();
            while let Some(message) = ws.recv().await {
                let message = message.unwrap();
                if message.is_data() {
                    ws.send(message).await.unwrap();
                    echoed.fetch_add(1, Ordering::SeqCst);
                }
            }
            live.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

// ---------------------------------------------------------------------
// The clients: the child process. It reports on stdout and closes every
// connection when its stdin ends.

fn clients(addr: SocketAddr) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let url = format!("ws://{addr}/");
            let mut all = Vec::with_capacity(CONNECTIONS);
            while all.len() < CONNECTIONS {
                let batch = BATCH.min(CONNECTIONS - all.len());
                let opened: Vec<_> = (0..batch)
                    .map(|_| {
                        let url = url.clone();
                        tokio::spawn(async move {
                            let tcp = TcpStream::connect(addr).await.unwrap();
                            tcp.set_nodelay(true).unwrap();
                            wsproto::tokio::client_handshake(
                                tcp,
                                ClientRequest::from_url(&url).unwrap(),
                            )
                            .await
                            .unwrap()
                            .0
                        })
                    })
                    .collect();
                for task in opened {
                    all.push(task.await.unwrap());
                }
            }
            println!("connected {} (client process)", all.len());

            // Each echoes once, all at the same time.
            let echoes: Vec<_> = all
                .into_iter()
                .enumerate()
                .map(|(i, mut ws)| {
                    tokio::spawn(async move {
                        let text = format!("hello {i}");
                        ws.send(text.as_str()).await.unwrap();
                        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
                        ws
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(CONNECTIONS);
            for task in echoes {
                all.push(task.await.unwrap());
            }
            println!("echoed {} (client process)", all.len());
            std::io::stdout().flush().unwrap();

            // Hold them until the server has measured.
            tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
                .await
                .unwrap();
            let closes: Vec<_> = all
                .into_iter()
                .map(|mut ws| {
                    tokio::spawn(async move {
                        ws.close(1000, "").await.unwrap();
                        while let Some(message) = ws.recv().await {
                            message.unwrap();
                        }
                    })
                })
                .collect();
            for task in closes {
                task.await.unwrap();
            }
            println!("closed {CONNECTIONS} (client process)");
        });
}

// ---------------------------------------------------------------------

/// Raises the soft limit on open files to at least `need` (to the hard
/// limit), or says why it cannot.
fn raise_open_files(need: u64) -> Result<(), String> {
    let (soft, hard) = open_files_limits();
    if soft >= need {
        return Ok(());
    }
    if hard < need {
        return Err(format!(
            "{CONNECTIONS} connections need {need} open files; the hard limit is {hard}"
        ));
    }
    let raised = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    match raised {
        Ok(status) if status.success() && open_files_limits().0 >= need => Ok(()),
        other => Err(format!(
            "the soft limit on open files is {soft} (hard {hard}) and `prlimit` could not \
             raise it: {other:?}"
        )),
    }
}

/// (soft, hard) limits on open files, from `/proc/self/limits`.
fn open_files_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut figures = line["Max open files".len()..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(u64::MAX)); // "unlimited"
    (figures.next().unwrap(), figures.next().unwrap())
}

/// Resident memory of this process in KiB (Linux `VmRSS`).
/// The first [`Bounded::LINES`] lines of a child's output and how many
/// more there were: a client process that fails may panic in each of its
/// 10,000 tasks, and the test shows the first few panics, not all.
#[derive(Clone, Default)]
struct Bounded(Arc<Mutex<(Vec<String>, usize)>>);

impl Bounded {
    const LINES: usize = 20;

    /// Reads `output` to its end in a thread.
    fn read(output: impl std::io::Read + Send + 'static) -> Bounded {
        let bounded = Bounded::default();
        let kept = bounded.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                let mut kept = kept.0.lock().unwrap();
                if kept.0.len() < Bounded::LINES {
                    kept.0.push(line);
                } else {
                    kept.1 += 1;
                }
            }
        });
        bounded
    }

    /// What was kept so far, and a count of the rest.
    fn text(&self) -> String {
        let kept = self.0.lock().unwrap();
        let mut text = kept.0.join("\n");
        if kept.1 > 0 {
            text.push_str(&format!("\n... and {} more lines", kept.1));
        }
        text
    }
}
