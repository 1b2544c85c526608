//! `axum_chat --redis` under load (issue 20): one room, one sender, its
//! posts delivered to every other member, on two instances sharing the
//! room through a real `redis-server`, beside the same clients on one
//! instance. Reports delivered messages/s and the p50/p99 latency from
//! the sender's `send` to each member's `recv`, end to end.
//!
//! ```text
//! cargo build --profile bench --all-features --example axum_chat
//! cargo bench -p wsproto-benches --bench redis_chat             # 5,000 + 5,000 clients
//! cargo bench -p wsproto-benches --bench redis_chat -- --quick  # 500 + 500
//! cargo bench -p wsproto-benches --bench redis_chat -- --clients 2000
//! ```
//!
//! The instances run with `--no-notices` (a join notice to a room of
//! 10,000 is 50 million messages before the first post) and one instance
//! alone still publishes to Redis, so both set-ups run the same code. The
//! generator is a tokio runtime on one thread in this process; the sender
//! keeps at most 32 posts in flight (fewer than the 256 a member may have
//! queued before it is dropped), so every post reaches every member and
//! the rate is what the set-up delivers, not what it drops. Needs
//! `redis-server` (Debian's) and the example built in the bench profile.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::cell::RefCell;
use support::child::{Killed, example_path, start_on_a_port};
use wsproto::Message;

const WINDOW: usize = 32;

/// redis-server on a loopback port its own process holds (see
/// `start_on_a_port`), no persistence.
fn start_redis(dir: &std::path::Path) -> (Killed, String) {
    let (child, port) = start_on_a_port("redis-server", |port| {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--maxclients", "1000"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null());
        command
    });
    (Killed(child), format!("redis://127.0.0.1:{port}"))
}

fn start_instance(redis: &str) -> (Killed, String) {
    let mut child = Command::new(example_path("axum_chat"))
        .args(["127.0.0.1:0", "--redis", redis, "--no-notices"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut up) = (None, false);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            addr = Some(a.to_owned());
        }
        // Either may come first: the relay starts before the listener.
        up |= line.starts_with("redis up");
        if up && addr.is_some() {
            break;
        }
    }
    // Keep draining its stdout (`socket ...` lines) so it never blocks.
    std::thread::spawn(move || for _ in lines {});
    (Killed(child), addr.expect("no address"))
}

/// What one set-up measured.
struct Measured {
    /// Delivered messages/s with `WINDOW` posts in flight.
    rate: f64,
    /// Latency percentiles with one post in flight at a time.
    alone: (Duration, Duration),
    /// Latency percentiles with `WINDOW` posts in flight.
    loaded: (Duration, Duration),
}

/// Connects the members and the sender; `single` posts one at a time,
/// then `posts` with up to `WINDOW` in flight.
fn run(addrs: &[String], per_instance: usize, single: usize, loaded: usize) -> Measured {
    let posts = single + loaded;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let receivers = addrs.len() * per_instance;
                let done: Rc<Vec<AtomicU32>> =
                    Rc::new((0..posts).map(|_| AtomicU32::new(0)).collect());
                let complete = Rc::new(AtomicUsize::new(0));
                let latencies = Rc::new(RefCell::new((
                    Vec::new(),
                    Vec::with_capacity(receivers * loaded),
                )));
                let origin = Instant::now();
                // Connect everyone, 64 at a time.
                let mut clients = Vec::with_capacity(receivers);
                for addr in addrs {
                    let mut i = 0;
                    while i < per_instance {
                        let batch = (per_instance - i).min(64);
                        let mut pending = Vec::new();
                        for k in 0..batch {
                            let url = format!("ws://{addr}/ws?name=m{}&room=bench", i + k);
                            pending.push(tokio::task::spawn_local(async move {
                                wsproto::tokio::connect(&url).await.unwrap().0
                            }));
                        }
                        for p in pending {
                            clients.push(p.await.unwrap());
                        }
                        i += batch;
                    }
                }
                let (sender, _) = wsproto::tokio::connect(&format!(
                    "ws://{}/ws?name=sender&room=bench",
                    addrs[0]
                ))
                .await
                .unwrap();
                // The sender gets its own posts too (every member gets the
                // room's log): read and dropped.
                let (mut echoes, sender) = sender.into_split();
                tokio::task::spawn_local(
                    async move { while let Some(Ok(_)) = echoes.recv().await {} },
                );
                // Every member's greeting read; then each one counts posts.
                let mut tasks = Vec::new();
                for mut ws in clients {
                    let (done, complete, latencies) =
                        (done.clone(), complete.clone(), latencies.clone());
                    tasks.push(tokio::task::spawn_local(async move {
                        let mut got = 0;
                        while got < posts {
                            match ws.recv().await {
                                Some(Ok(Message::Text(text))) => {
                                    // A post: {"id":ID,"from":"sender","text":"SEQ AT"}.
                                    let Some((seq, at)) = text
                                        .as_str()
                                        .split_once("\"from\":\"sender\",\"text\":\"")
                                        .and_then(|(_, t)| t.strip_suffix("\"}"))
                                        .and_then(|t| t.split_once(' '))
                                    else {
                                        continue;
                                    };
                                    let (seq, at): (usize, u64) =
                                        (seq.parse().unwrap(), at.parse().unwrap());
                                    let now = origin.elapsed().as_nanos() as u64;
                                    let mut l = latencies.borrow_mut();
                                    if seq < single { &mut l.0 } else { &mut l.1 }.push(now - at);
                                    if done[seq].fetch_add(1, Ordering::Relaxed) + 1
                                        == receivers as u32
                                    {
                                        complete.fetch_add(1, Ordering::Relaxed);
                                    }
                                    got += 1;
                                }
                                Some(Ok(_)) => {}
                                other => panic!("a member lost its socket: {other:?}"),
                            }
                        }
                    }));
                }
                // Every instance subscribed to the room when its first
                // member joined (before that join went out), thousands of
                // handshakes ago.
                let mut start = Instant::now();
                for seq in 0..posts {
                    if seq == single {
                        while complete.load(Ordering::Relaxed) < single {
                            tokio::task::yield_now().await;
                        }
                        start = Instant::now();
                    }
                    let window = if seq < single { 1 } else { WINDOW };
                    while seq >= complete.load(Ordering::Relaxed) + window {
                        tokio::task::yield_now().await;
                    }
                    let at = origin.elapsed().as_nanos() as u64;
                    sender.send(format!("{seq} {at}")).await.unwrap();
                }
                for task in tasks {
                    task.await.unwrap();
                }
                let elapsed = start.elapsed();
                let mut l = latencies.borrow_mut();
                let percentiles = |l: &mut Vec<u64>| {
                    l.sort_unstable();
                    let pick =
                        |q: f64| Duration::from_nanos(l[((l.len() - 1) as f64 * q) as usize]);
                    (pick(0.5), pick(0.99))
                };
                Measured {
                    rate: (receivers * loaded) as f64 / elapsed.as_secs_f64(),
                    alone: percentiles(&mut l.0),
                    loaded: percentiles(&mut l.1),
                }
            })
            .await
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let total = args
        .iter()
        .position(|a| a == "--clients")
        .map(|i| args[i + 1].parse::<usize>().unwrap())
        .unwrap_or(if quick { 1_000 } else { 10_000 });
    let (single, loaded) = if quick { (20, 50) } else { (50, 200) };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    println!(
        "redis_chat: {total} members in one room, one sender, {single} posts one at a time, then {loaded} with {WINDOW} in flight; CPU {cpu}, {} logical CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let dir = std::env::temp_dir().join(format!("wsproto-redis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for instances in [1, 2] {
        let (_redis, url) = start_redis(&dir);
        let started: Vec<(Killed, String)> = (0..instances).map(|_| start_instance(&url)).collect();
        let addrs: Vec<String> = started.iter().map(|(_, a)| a.clone()).collect();
        let m = run(&addrs, total / instances, single, loaded);
        println!(
            "{instances} instance(s) x {} members: {:>8.0} delivered messages/s; latency one at a time p50 {:.1?} p99 {:.1?}, {WINDOW} in flight p50 {:.1?} p99 {:.1?}",
            total / instances,
            m.rate,
            m.alone.0,
            m.alone.1,
            m.loaded.0,
            m.loaded.1,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
