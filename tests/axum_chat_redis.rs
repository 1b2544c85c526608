//! `axum_chat --redis`: two instances of the example share their rooms
//! through a real `redis-server` (Debian's, started here on a loopback
//! port it holds, with persistence off and a password). Clients are
//! wsproto's tokio client. Skipped, loudly, when `redis-server` is not
//! installed, except under CI (`.ci/run` installs it).
//!
//! `cargo test` builds the example first; with `--test axum_chat_redis`
//! alone, run `cargo build --all-features --example axum_chat` before.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::child::{example_path, start_on_a_port, wait_listening};

use tokio::sync::mpsc;
use tokio::time::timeout;
use wsproto::Message;
use wsproto::tokio::{MaybeTlsStream, WebSocket};

const PASSWORD: &str = "s3cret-chat";
/// How long any one expected line may take.
const STEP: Duration = Duration::from_secs(10);

fn redis_server() -> Option<PathBuf> {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A `redis-server` child: killed on drop. It listens on a port outside
/// the ephemeral range that its own process holds (see
/// `support::child::start_on_a_port`), the same again after a restart.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start() -> Option<Redis> {
        let Some(bin) = redis_server() else {
            // CI installs it (.ci/run): there a missing server is a failure.
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed"
            );
            eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wsproto-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (child, port) =
            start_on_a_port("redis-server", |port| Redis::command(&bin, port, &dir));
        Some(Redis { child, port, dir })
    }

    /// `redis-server` on 127.0.0.1:`port`, no persistence, a password.
    fn command(bin: &Path, port: u16, dir: &Path) -> Command {
        let mut command = Command::new(bin);
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--requirepass", PASSWORD])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on its port (the instances were given its URL).
    fn restart(&mut self) {
        self.stop();
        self.child = Redis::command(&redis_server().unwrap(), self.port, &self.dir)
            .spawn()
            .unwrap();
        assert!(
            wait_listening(&mut self.child, self.port, "redis-server").is_some(),
            "redis-server could not listen on {} again",
            self.port
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `axum_chat --redis` child: its stdout lines, its stderr (passed on
/// to the test's), killed on drop.
struct Instance {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Instance {
    /// With a presence TTL of 1 s unless `extra` sets one.
    async fn start(redis: &Redis, extra: &[&str]) -> Instance {
        let ttl: &[&str] = match extra.contains(&"--presence-ttl") {
            true => &[],
            false => &["--presence-ttl", "1"],
        };
        let mut child = Command::new(example_path("axum_chat"))
            .args(["127.0.0.1:0", "--redis", &redis.url()])
            .args(ttl)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (errors, sink) = (BufReader::new(child.stderr.take().unwrap()), stderr.clone());
        std::thread::spawn(move || {
            for line in errors.lines() {
                let Ok(line) = line else { return };
                eprintln!("{line}");
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut instance = Instance {
            child,
            addr: ([0, 0, 0, 0], 0).into(),
            lines,
            seen: Vec::new(),
            stderr,
        };
        let listening = instance.line_starting("listening on ").await;
        instance.addr = listening["listening on ".len()..].parse().unwrap();
        // The relay starts before the listener: its line may come first.
        if !instance.seen.iter().any(|l| l.starts_with("redis up")) {
            instance.line_starting("redis up").await;
        }
        instance
    }

    /// The next stdout line starting with `prefix` (the others are kept in
    /// `seen`).
    async fn line_starting(&mut self, prefix: &str) -> String {
        loop {
            let line = timeout(STEP, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}: {:?}", self.seen))
                .expect("the instance exited");
            self.seen.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    async fn join(&self, name: &str, room: &str) -> Client {
        let url = format!("ws://{}/ws?name={name}&room={room}", self.addr);
        let (ws, _) = wsproto::tokio::connect(&url).await.unwrap();
        let mut client = Client {
            ws,
            name: name.to_owned(),
            log: Vec::new(),
        };
        client.expect(&format!("* you are {name}")).await;
        // The greeting is sent at once; the first `* N online` only after
        // the instance has subscribed to the room (its relay subscribes,
        // then counts): from then on, posts to the room reach this client.
        client.expect_online().await;
        client
    }

    /// `SIGTERM`, as a supervisor stops it; its exit status within
    /// `within`.
    fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid}: {status}");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {within:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10)); // a poll interval
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Client {
    ws: WebSocket<MaybeTlsStream<tokio::net::TcpStream>>,
    name: String,
    /// Every text received, in order.
    log: Vec<String>,
}

impl Client {
    async fn next(&mut self) -> Message {
        timeout(STEP, self.ws.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing for {STEP:?}; got {:?}", self.name, self.log))
            .expect("closed")
            .expect("error")
    }

    /// Reads until `line` arrives.
    async fn expect(&mut self, line: &str) {
        loop {
            match self.next().await {
                Message::Text(text) => {
                    self.log.push(text.as_str().to_owned());
                    if text.as_str() == line {
                        return;
                    }
                }
                Message::Close(frame) => {
                    panic!("{}: closed {frame:?}, waiting for {line:?}", self.name)
                }
                _ => {}
            }
        }
    }

    /// Reads until a `* N online` line arrives.
    async fn expect_online(&mut self) {
        loop {
            if let Message::Text(text) = self.next().await {
                self.log.push(text.as_str().to_owned());
                if text.as_str().starts_with("* ") && text.as_str().ends_with(" online") {
                    return;
                }
            }
        }
    }

    async fn say(&mut self, text: &str) {
        self.ws.send(text).await.unwrap();
    }
}

/// Joins clients one by one; each one's join is awaited by everyone
/// already in its room, so every instance is subscribed to every room
/// before anyone posts (an instance subscribes before it announces a join).
async fn join_all(instances: &[&Instance], who: &[(&str, usize, &str)]) -> Vec<Client> {
    let mut clients: Vec<(Client, &str)> = Vec::new();
    for &(name, instance, room) in who {
        let client = instances[instance].join(name, room).await;
        for (other, other_room) in clients.iter_mut() {
            if *other_room == room {
                other.expect(&format!("* {name} joined")).await;
            }
        }
        clients.push((client, room));
    }
    clients.into_iter().map(|(c, _)| c).collect()
}

/// Clients on both instances in two rooms: each of four senders posts 60
/// messages at once; every other member of its room gets each one exactly
/// once, in the order it was sent, and nothing from the other room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_reach_every_instance_once_in_publish_order() {
    let Some(redis) = Redis::start() else { return };
    let a = Instance::start(&redis, &[]).await;
    let b = Instance::start(&redis, &[]).await;
    let layout = [
        ("a1", 0, "red"),
        ("b1", 1, "red"),
        ("a1x", 0, "red"),
        ("b1x", 1, "red"),
        ("a2", 0, "blue"),
        ("b2", 1, "blue"),
    ];
    let clients = join_all(&[&a, &b], &layout).await;
    // 60 each: a member of red gets at most 3 x 60 posts plus a few
    // notices in a burst, under the 256 a member may have queued (a
    // member over it is dropped as slow, which is another test).
    const N: usize = 60;
    let senders = ["a1", "b1", "a2", "b2"];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut client, (name, _, room)) in clients.into_iter().zip(layout) {
        let peers: Vec<&str> = layout
            .iter()
            .filter(|(n, _, r)| *r == room && *n != name && senders.contains(n))
            .map(|(n, _, _)| *n)
            .collect();
        tasks.push(tokio::spawn(async move {
            if senders.contains(&name) {
                for i in 0..N {
                    client.say(&format!("{i}")).await;
                }
                client.say("end").await;
            }
            for peer in &peers {
                let end = format!("{peer}: end");
                if !client.log.contains(&end) {
                    client.expect(&end).await;
                }
            }
            // Posts by sender, in arrival order.
            let mut got: HashMap<String, Vec<String>> = HashMap::new();
            for line in &client.log {
                if let Some((from, text)) = line.split_once(": ") {
                    got.entry(from.to_owned())
                        .or_default()
                        .push(text.to_owned());
                }
            }
            (name, room, peers, got)
        }));
    }
    let mut want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    want.push("end".to_owned());
    for task in tasks {
        let (name, room, peers, got) = task.await.unwrap();
        assert_eq!(got.len(), peers.len(), "{name} in {room}: {:?}", got.keys());
        for peer in peers {
            assert_eq!(got[peer], want, "{name} got {peer}'s posts");
        }
    }
    eprintln!(
        "4 x {N} posts, two instances, two rooms: all delivered in {:?}",
        started.elapsed()
    );
}

/// Redis stops: each instance says so once and goes on serving its own
/// clients; it comes back empty (no persistence): both resubscribe and
/// register their members again, and posts cross again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_keeps_local_service_and_resubscribes() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let mut a = Instance::start(&redis, &[]).await;
    let mut b = Instance::start(&redis, &[]).await;
    let mut clients = join_all(
        &[&a, &b],
        &[
            ("ann", 0, "lobby"),
            ("ben", 1, "lobby"),
            ("amy", 0, "lobby"),
        ],
    )
    .await
    .into_iter();
    let (mut ann, mut ben, mut amy) = (
        clients.next().unwrap(),
        clients.next().unwrap(),
        clients.next().unwrap(),
    );

    redis.stop();
    let stopped = Instant::now();
    a.line_starting("redis down").await;
    b.line_starting("redis down").await;
    eprintln!(
        "both instances saw Redis stop within {:?}",
        stopped.elapsed()
    );

    // Local service goes on; nothing crosses (and nothing is kept for later).
    ann.say("while redis is down").await;
    amy.expect("ann: while redis is down").await;

    redis.restart();
    let restarted = Instant::now();
    assert_eq!(a.line_starting("redis up").await, "redis up (1 rooms)");
    assert_eq!(b.line_starting("redis up").await, "redis up (1 rooms)");
    let back = restarted.elapsed();
    eprintln!("both resubscribed {back:?} after Redis restarted");
    assert!(back < Duration::from_secs(7), "{back:?}");
    for instance in [&a, &b] {
        let downs = instance
            .seen
            .iter()
            .filter(|l| l.starts_with("redis down"))
            .count();
        assert_eq!(downs, 1, "said once: {:?}", instance.seen);
    }

    ann.say("after the restart").await;
    ben.expect("ann: after the restart").await;
    ben.say("welcome back").await;
    ann.expect("ben: welcome back").await;
    amy.expect("ben: welcome back").await;
    assert!(
        !ben.log.iter().any(|l| l.contains("while redis is down")),
        "{:?}",
        ben.log
    );
    // Presence registered again: ben's instance sees three online.
    ben.ws.close(1000, "").await.ok();
    ann.expect("* ben left").await;
    ann.expect("* 2 online").await;
}

/// An instance is killed: the other's clients see its members leave
/// within the presence expiry (1 s here; swept every third of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_members_leave_within_the_expiry() {
    let Some(redis) = Redis::start() else { return };
    let mut a = Instance::start(&redis, &[]).await;
    let b = Instance::start(&redis, &[]).await;
    let mut clients = join_all(&[&a, &b], &[("kay", 0, "lobby"), ("lou", 1, "lobby")])
        .await
        .into_iter();
    let (_kay, mut lou) = (clients.next().unwrap(), clients.next().unwrap());
    if !lou.log.iter().any(|l| l == "* 2 online") {
        lou.expect("* 2 online").await;
    }

    a.kill();
    let killed = Instant::now();
    lou.expect("* kay left").await;
    let after = killed.elapsed();
    lou.expect("* 1 online").await;
    eprintln!("kay's leave seen {after:?} after her instance was killed (TTL 1 s)");
    // TTL 1 s, a sweep every 1/3 s, and scheduling slack.
    assert!(after < Duration::from_millis(2500), "{after:?}");
    assert_eq!(lou.log.iter().filter(|l| *l == "* kay left").count(), 1);
}

/// An instance stopped with `SIGTERM`: its members get a Close with 1001,
/// it exits with status 0 and says so; the other instance's members see
/// each of them leave once, announced by the stopping instance before it
/// exits: well before the presence TTL (3 s here), and never again when
/// their presence would have expired (watched until twice the TTL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_announces_its_members_left_once() {
    let Some(redis) = Redis::start() else { return };
    const TTL: Duration = Duration::from_secs(3);
    let mut a = Instance::start(&redis, &["--presence-ttl", "3"]).await;
    let b = Instance::start(&redis, &["--presence-ttl", "3"]).await;
    let mut clients = join_all(
        &[&a, &b],
        &[
            ("kim", 0, "lobby"),
            ("kit", 0, "lobby"),
            ("lee", 1, "lobby"),
        ],
    )
    .await
    .into_iter();
    let (kim, kit, mut lee) = (
        clients.next().unwrap(),
        clients.next().unwrap(),
        clients.next().unwrap(),
    );
    if !lee.log.iter().any(|l| l == "* 3 online") {
        lee.expect("* 3 online").await;
    }
    let readers: Vec<_> = [kim, kit]
        .into_iter()
        .map(|mut member| {
            tokio::spawn(async move {
                let mut closes = Vec::new();
                while let Some(message) = timeout(STEP, member.ws.recv()).await.unwrap() {
                    if let Message::Close(frame) = message.unwrap() {
                        closes.push(frame.code.as_u16());
                    }
                }
                closes
            })
        })
        .collect();

    let signalled = Instant::now();
    let status = tokio::task::block_in_place(|| a.terminate(Duration::from_secs(10)));
    let exited = signalled.elapsed();
    assert!(status.success(), "{status}");
    for reader in readers {
        assert_eq!(reader.await.unwrap(), [1001]);
    }
    let stderr = a.stderr.lock().unwrap().clone();
    assert!(stderr.contains("shutdown: 2 closed, 0 cut"), "{stderr}");
    for name in ["kim", "kit"] {
        if !lee.log.iter().any(|l| *l == format!("* {name} left")) {
            lee.expect(&format!("* {name} left")).await;
        }
    }
    let announced = signalled.elapsed();
    eprintln!("exited {exited:?} after SIGTERM; both leaves seen after {announced:?}");
    assert!(announced < TTL, "{announced:?}");
    // Nothing more about them until the presence would long have expired
    // and been swept.
    while let Some(left) = (2 * TTL).checked_sub(signalled.elapsed()) {
        match timeout(left, lee.ws.recv()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) => lee.log.push(text.as_str().to_owned()),
            Ok(other) => panic!("lee: {other:?}"),
        }
    }
    for name in ["kim", "kit"] {
        let leaves = lee.log.iter().filter(|l| **l == format!("* {name} left"));
        assert_eq!(leaves.count(), 1, "{:?}", lee.log);
    }
}

/// A post over `--max-message` closes its socket with 1009 and is not
/// published; two deployments with their own prefixes on one Redis do not
/// see each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_post_is_1009_and_prefixes_separate_deployments() {
    let Some(redis) = Redis::start() else { return };
    let a = Instance::start(&redis, &["--max-message", "1024"]).await;
    let b = Instance::start(&redis, &["--max-message", "1024"]).await;
    let other = Instance::start(&redis, &["--redis-prefix", "elsewhere"]).await;
    let mut clients = join_all(&[&a, &b], &[("big", 0, "lobby"), ("bo", 1, "lobby")])
        .await
        .into_iter();
    let (mut big, mut bo) = (clients.next().unwrap(), clients.next().unwrap());
    let mut stranger = other.join("stranger", "lobby").await;

    big.say(&"x".repeat(1025)).await;
    loop {
        match big.next().await {
            Message::Close(frame) => {
                assert_eq!(frame.code.as_u16(), 1009);
                break;
            }
            Message::Text(_) => {}
            other => panic!("{other:?}"),
        }
    }
    bo.expect("* big left").await;
    assert!(
        !bo.log.iter().any(|l| l.starts_with("big: ")),
        "{:?}",
        bo.log
    );

    bo.say("only for this deployment").await;
    stranger.say("only for the other").await;
    let mut bee = b.join("bee", "lobby").await;
    bo.expect("* bee joined").await;
    bee.say("done").await;
    bo.expect("bee: done").await;
    assert!(
        !bo.log.iter().any(|l| l.contains("stranger")),
        "{:?}",
        bo.log
    );
    // The stranger saw nothing of the other deployment.
    stranger.say("still here").await;
    let mut stranger2 = other.join("stranger2", "lobby").await;
    stranger.expect("* stranger2 joined").await;
    assert!(
        !stranger
            .log
            .iter()
            .any(|l| l.contains("bo") || l.contains("big")),
        "{:?}",
        stranger.log
    );
    stranger2.say("bye").await;
}

/// A member that stops reading is dropped at the per-member bound (256
/// queued messages) on its instance, as on one server: the others get
/// every post, the slow one a part of them and then a Close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_member_is_dropped_and_the_others_get_everything() {
    let Some(redis) = Redis::start() else { return };
    let a = Instance::start(&redis, &[]).await;
    let b = Instance::start(&redis, &[]).await;
    let mut clients = join_all(
        &[&a, &b],
        &[
            ("sam", 0, "lobby"),
            ("fay", 1, "lobby"),
            ("sid", 1, "lobby"),
        ],
    )
    .await
    .into_iter();
    let (mut sam, mut fay, mut sid) = (
        clients.next().unwrap(),
        clients.next().unwrap(),
        clients.next().unwrap(),
    );
    // 2,000 posts of 15 KB (30 MB): more than sid's socket buffers and
    // his queue hold while he does not read. Sent 100 at a time, each
    // hundred read by fay before the next, so fay (who reads) is never
    // near the bound even on a loaded machine.
    const POSTS: usize = 2_000;
    let filler = "y".repeat(15_000);
    let mut seen = 0;
    for chunk in 0..POSTS / 100 {
        for i in chunk * 100..(chunk + 1) * 100 {
            sam.say(&format!("{i} {filler}")).await;
        }
        while seen < (chunk + 1) * 100 {
            let Message::Text(text) = fay.next().await else {
                continue;
            };
            if let Some(rest) = text.as_str().strip_prefix("sam: ") {
                assert_eq!(rest.split_once(' ').unwrap().0, seen.to_string());
                seen += 1;
            }
        }
    }
    // Now sid reads: a part, in order, then the Close of his writer.
    let mut got = 0;
    loop {
        match sid.next().await {
            Message::Text(text) => {
                if let Some(rest) = text.as_str().strip_prefix("sam: ") {
                    assert_eq!(rest.split_once(' ').unwrap().0, got.to_string());
                    got += 1;
                }
            }
            Message::Close(frame) => {
                assert_eq!(frame.code.as_u16(), 1000);
                break;
            }
            _ => {}
        }
    }
    eprintln!("the slow member got {got} of {POSTS} posts before he was dropped");
    assert!(got < POSTS, "{got}");
}
