//! `axum_chat --redis`: two instances of the example share their rooms
//! through a real `redis-server` (Debian's, started here on a loopback
//! port it holds, with persistence off and a password). Clients are
//! wsproto's tokio client. Skipped, loudly, when `redis-server` is not
//! installed, except under CI (`.ci/run` installs it).
//!
//! `cargo test` builds the example first; with `--test servers --
//! axum_chat_redis::` alone, run `cargo build --all-features --example axum_chat` before.

use crate::support;

// The example's frames, read with the example's own small JSON reader.
#[path = "../../examples/common/chat_log.rs"]
mod chat_log;

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
    /// `--appendonly yes --appendfsync always`: what it acknowledged
    /// survives its being killed.
    persistent: bool,
}

impl Redis {
    fn start() -> Option<Redis> {
        Redis::start_with(false)
    }

    fn start_with(persistent: bool) -> Option<Redis> {
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
        let (child, port) = start_on_a_port("redis-server", |port| {
            Redis::command(&bin, port, &dir, persistent)
        });
        Some(Redis {
            child,
            port,
            dir,
            persistent,
        })
    }

    /// `redis-server` on 127.0.0.1:`port`, a password, no persistence
    /// unless `persistent` (then an append-only file written and synced
    /// before each write is answered).
    fn command(bin: &Path, port: u16, dir: &Path, persistent: bool) -> Command {
        let mut command = Command::new(bin);
        let aof: &[&str] = match persistent {
            true => &["--appendonly", "yes", "--appendfsync", "always"],
            false => &["--appendonly", "no"],
        };
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", ""])
            .args(aof)
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
        self.child = Redis::command(
            &redis_server().unwrap(),
            self.port,
            &self.dir,
            self.persistent,
        )
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
        Instance::start_at("127.0.0.1:0", redis, extra).await
    }

    /// On `addr`: port 0 the first time, the port it had when restarted.
    async fn start_at(addr: &str, redis: &Redis, extra: &[&str]) -> Instance {
        let ttl: &[&str] = match extra.contains(&"--presence-ttl") {
            true => &[],
            false => &["--presence-ttl", "1"],
        };
        let mut child = Command::new(example_path("axum_chat"))
            .args([addr, "--redis", &redis.url()])
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
    /// Every text received, in order, as the page shows it (`line`).
    log: Vec<String>,
}

/// A frame as the page shows it: `FROM: TEXT` (a post), `* TEXT` (a
/// notice), `* gap`; an ack as `ack CID ID`.
fn line(frame: &str) -> String {
    if frame == chat_log::GAP_FRAME {
        return "* gap".to_owned();
    }
    let fields: HashMap<String, String> = chat_log::parse_object(frame)
        .unwrap_or_else(|| panic!("not a frame: {frame}"))
        .into_iter()
        .collect();
    let get = |k: &str| fields.get(k).map(String::as_str);
    match (
        get("id"),
        get("from"),
        get("text"),
        get("notice"),
        get("ack"),
    ) {
        (Some(_), Some(from), Some(text), None, None) => format!("{from}: {text}"),
        (None, None, None, Some(notice), None) => format!("* {notice}"),
        (Some(id), None, None, None, Some(cid)) => format!("ack {cid} {id}"),
        _ => panic!("not a frame: {frame}"),
    }
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
                    let got = self::line(text.as_str());
                    self.log.push(got.clone());
                    if got == line {
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

    /// Reads until a line starting with `prefix` arrives; returns it.
    async fn expect_starting(&mut self, prefix: &str) -> String {
        loop {
            if let Message::Text(text) = self.next().await {
                let line = line(text.as_str());
                self.log.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
        }
    }

    /// Reads until a `* N online` line arrives.
    async fn expect_online(&mut self) {
        loop {
            if let Message::Text(text) = self.next().await {
                let line = line(text.as_str());
                self.log.push(line.clone());
                if line.starts_with("* ") && line.ends_with(" online") {
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
                match line.split_once(": ") {
                    Some((from, text)) if from != name => {
                        got.entry(from.to_owned())
                            .or_default()
                            .push(text.to_owned());
                    }
                    _ => {}
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

/// Redis is killed and restarted (with an append-only file synced before
/// each answer, so what it acknowledged survives): each instance says so
/// once; a post made while Redis is away is not stored and not
/// acknowledged (a notice says so), and stored once when sent again after
/// Redis is back; a client resuming from the start gets the post stored
/// before the kill, then the others, in order, without a gap; both
/// instances subscribe again and register their members again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_keeps_acknowledged_posts_and_resubscribes() {
    let Some(mut redis) = Redis::start_with(true) else {
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
    ann.say(r#"{"cid":"a1","text":"before the stop"}"#).await;
    ann.expect_starting("ack a1 ").await;
    ben.expect("ann: before the stop").await;

    redis.stop();
    let stopped = Instant::now();
    a.line_starting("redis down").await;
    b.line_starting("redis down").await;
    eprintln!(
        "both instances saw Redis stop within {:?}",
        stopped.elapsed()
    );

    // Not stored, not acknowledged, not delivered: the client sends it
    // again later.
    let resend = r#"{"cid":"a2","text":"while redis is down"}"#;
    ann.say(resend).await;
    ann.expect_starting("* not stored: ").await;

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

    ann.say(resend).await;
    ann.say(resend).await;
    let ack = ann.expect_starting("ack a2 ").await;
    assert_eq!(ann.expect_starting("ack a2 ").await, ack);
    ben.expect("ann: while redis is down").await;
    ben.say("welcome back").await;
    ann.expect("ben: welcome back").await;
    amy.expect("ben: welcome back").await;
    let posts = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter(|l| l.contains(": ") && !l.starts_with("* "))
            .cloned()
            .collect()
    };
    let want = [
        "ann: before the stop",
        "ann: while redis is down",
        "ben: welcome back",
    ];
    assert_eq!(posts(&amy.log), want);
    // The log survived the kill: a newcomer resuming from the start.
    let (ws, _) =
        wsproto::tokio::connect(&format!("ws://{}/ws?name=cy&room=lobby&since=0-0", b.addr))
            .await
            .unwrap();
    let mut cy = Client {
        ws,
        name: "cy".to_owned(),
        log: Vec::new(),
    };
    cy.expect("ben: welcome back").await;
    assert_eq!(posts(&cy.log), want);
    assert!(!cy.log.contains(&"* gap".to_owned()), "{:?}", cy.log);
    // Presence registered again: ben's instance sees three online.
    ben.ws.close(1000, "").await.ok();
    ann.expect("* ben left").await;
    ann.expect("* 3 online").await;
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
            Ok(Some(Ok(Message::Text(text)))) => lee.log.push(line(text.as_str())),
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
    // near the bound even on a loaded machine. Sam gets his own posts
    // too (every member gets the room's log): he reads them as fay does.
    const POSTS: usize = 2_000;
    let filler = "y".repeat(15_000);
    let (mut seen, mut echoed) = (0, 0);
    for chunk in 0..POSTS / 100 {
        for i in chunk * 100..(chunk + 1) * 100 {
            sam.say(&format!("{i} {filler}")).await;
        }
        for (reader, seen) in [(&mut fay, &mut seen), (&mut sam, &mut echoed)] {
            while *seen < (chunk + 1) * 100 {
                let Message::Text(text) = reader.next().await else {
                    continue;
                };
                if let Some(rest) = line(text.as_str()).strip_prefix("sam: ") {
                    assert_eq!(rest.split_once(' ').unwrap().0, seen.to_string());
                    *seen += 1;
                }
            }
        }
    }
    // Now sid reads: a part, in order, then the Close of his writer.
    let mut got = 0;
    loop {
        match sid.next().await {
            Message::Text(text) => {
                if let Some(rest) = line(text.as_str()).strip_prefix("sam: ") {
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

/// One frame of the protocol, as the tests read it.
#[derive(Debug)]
enum Frame {
    Post {
        id: chat_log::StreamId,
        from: String,
        text: String,
    },
    Ack {
        cid: String,
        id: chat_log::StreamId,
    },
    Notice,
    Gap,
}

fn frame(text: &str) -> Frame {
    if text == chat_log::GAP_FRAME {
        return Frame::Gap;
    }
    let mut fields: HashMap<String, String> = chat_log::parse_object(text)
        .unwrap_or_else(|| panic!("not a frame: {text}"))
        .into_iter()
        .collect();
    let id = fields
        .get("id")
        .map(|id| chat_log::StreamId::parse(id).unwrap_or_else(|| panic!("bad id: {text}")));
    match (id, fields.remove("ack"), fields.remove("notice")) {
        (Some(id), Some(cid), None) => Frame::Ack { cid, id },
        (Some(id), None, None) => Frame::Post {
            id,
            from: fields.remove("from").expect(text),
            text: fields.remove("text").expect(text),
        },
        (None, None, Some(_)) => Frame::Notice,
        _ => panic!("not a frame: {text}"),
    }
}

type Socket = WebSocket<MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the first of `addrs` (rotating from `turn`) that answers,
/// with `since` when given.
async fn connect_any(
    addrs: &[SocketAddr],
    turn: &mut usize,
    name: &str,
    since: Option<chat_log::StreamId>,
) -> Socket {
    let deadline = Instant::now() + STEP;
    loop {
        let addr = addrs[*turn % addrs.len()];
        *turn += 1;
        let mut url = format!("ws://{addr}/ws?name={name}&room=roll");
        if let Some(since) = since {
            url.push_str(&format!("&since={since}"));
        }
        if let Ok(Ok((ws, _))) =
            timeout(Duration::from_secs(2), wsproto::tokio::connect(&url)).await
        {
            return ws;
        }
        assert!(Instant::now() < deadline, "{name}: no instance answers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A poster: `n` posts with cids, one every `pace`; after its connection
/// ends (1001 from a stopping instance, or anything else) it connects
/// again, to the next instance that answers, and sends again every post
/// not yet acknowledged, in order. Returns cid -> acknowledged id.
async fn poster(
    addrs: Vec<SocketAddr>,
    name: String,
    n: usize,
    pace: Duration,
) -> (HashMap<String, chat_log::StreamId>, usize, usize) {
    let cids: Vec<String> = (0..n).map(|i| format!("{name}-{i}")).collect();
    let mut acked: HashMap<String, chat_log::StreamId> = HashMap::new();
    let (mut sent, mut turn, mut sessions, mut resent) = (0, 0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < n {
        assert!(Instant::now() < deadline, "{name}: {} acked", acked.len());
        sessions += 1;
        let ws = connect_any(&addrs, &mut turn, &name, None).await;
        let (mut reader, writer) = ws.into_split();
        let post = |i: usize| format!("{{\"cid\":\"{}\",\"text\":\"post {i}\"}}", cids[i]);
        // What this connection lost: sent, never acknowledged.
        let mut broken = false;
        for (i, cid) in cids.iter().enumerate().take(sent) {
            if acked.contains_key(cid) {
                continue;
            }
            resent += 1;
            if writer.send(post(i)).await.is_err() {
                broken = true;
                break;
            }
        }
        let mut tick = tokio::time::interval(pace);
        while !broken && acked.len() < n {
            tokio::select! {
                message = reader.recv() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Frame::Ack { cid, id } = frame(text.as_str()) {
                            if let Some(first) = acked.insert(cid.clone(), id) {
                                assert_eq!(first, id, "{cid} acknowledged with two ids");
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => broken = true,
                },
                _ = tick.tick(), if sent < n => {
                    if writer.send(post(sent)).await.is_err() {
                        broken = true;
                    }
                    sent += 1;
                }
            }
        }
        if !broken {
            let _ = writer.close(1000, "").await;
        }
    }
    (acked, sessions, resent)
}

/// A reader: every post of the room from the start (`since=0-0`); after
/// its connection ends it resumes with `since=` its last id. Stops once
/// it has `until`'s id (told when the posters are done).
async fn reader(
    addrs: Vec<SocketAddr>,
    name: String,
    until: tokio::sync::watch::Receiver<Option<chat_log::StreamId>>,
) -> (Vec<(chat_log::StreamId, String, String)>, usize) {
    let mut posts: Vec<(chat_log::StreamId, String, String)> = Vec::new();
    let (mut turn, mut sessions) = (1, 0);
    let done = |posts: &Vec<(chat_log::StreamId, String, String)>| {
        let until = *until.borrow();
        until.is_some_and(|until| posts.last().is_some_and(|(id, _, _)| *id >= until))
    };
    let mut until_changed = until.clone();
    while !done(&posts) {
        sessions += 1;
        let since = posts.last().map_or(chat_log::StreamId::default(), |p| p.0);
        let mut ws = connect_any(&addrs, &mut turn, &name, Some(since)).await;
        while !done(&posts) {
            tokio::select! {
                message = ws.recv() => match message {
                    Some(Ok(Message::Text(text))) => match frame(text.as_str()) {
                        Frame::Post { id, from, text } => posts.push((id, from, text)),
                        Frame::Gap => panic!("{name}: a gap after {since}"),
                        _ => {}
                    },
                    Some(Ok(_)) => {}
                    _ => break,
                },
                _ = until_changed.changed() => {}
            }
        }
    }
    (posts, sessions)
}

/// The issue-36 run: two instances, three posters (100 posts each, with
/// cids) and three readers; while the posts flow, each instance in turn
/// is stopped with SIGTERM (its members closed with 1001) and started
/// again on its port. Every post is acknowledged, once per cid; every
/// reader ends with exactly the 300 acknowledged posts, each once, in
/// stream order (ids increasing), the same sequence for all. A post
/// every 25 ms from each poster (2.5 s), a restart every 0.7 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_loses_and_duplicates_nothing() {
    rolling_restart(Duration::from_millis(25), Duration::from_millis(700)).await;
}

/// The same with the posters sending as fast as they can (a post every
/// millisecond) and a restart every 150 ms: many posts in flight at each
/// stop, sent again, stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_a_burst_loses_and_duplicates_nothing() {
    rolling_restart(Duration::from_millis(1), Duration::from_millis(150)).await;
}

async fn rolling_restart(pace: Duration, pause: Duration) {
    let Some(redis) = Redis::start() else { return };
    let mut a = Instance::start(&redis, &[]).await;
    let mut b = Instance::start(&redis, &[]).await;
    let addrs = vec![a.addr, b.addr];
    const POSTERS: usize = 3;
    const POSTS: usize = 100;
    let started = Instant::now();
    let (tell, until) = tokio::sync::watch::channel(None);
    let readers: Vec<_> = (0..3)
        .map(|r| tokio::spawn(reader(addrs.clone(), format!("r{r}"), until.clone())))
        .collect();
    let posters: Vec<_> = (0..POSTERS)
        .map(|p| tokio::spawn(poster(addrs.clone(), format!("p{p}"), POSTS, pace)))
        .collect();

    // Each instance in turn: SIGTERM, exit, start again on its port.
    for instance in [&mut a, &mut b] {
        tokio::time::sleep(pause).await;
        let addr = instance.addr.to_string();
        let signalled = Instant::now();
        let status = tokio::task::block_in_place(|| instance.terminate(Duration::from_secs(10)));
        assert!(status.success(), "{status}");
        let stopped = Instant::now();
        *instance = Instance::start_at(&addr, &redis, &[]).await;
        eprintln!(
            "{addr}: SIGTERM at {:?}, exited {:?} later, listening again {:?} after that",
            signalled - started,
            stopped - signalled,
            stopped.elapsed()
        );
    }

    let mut acked: Vec<(chat_log::StreamId, String)> = Vec::new();
    for (p, task) in posters.into_iter().enumerate() {
        let (cids, sessions, resent) = task.await.unwrap();
        assert_eq!(cids.len(), POSTS, "p{p}");
        eprintln!(
            "p{p}: {POSTS} posts acknowledged over {sessions} connections, {resent} sent again"
        );
        acked.extend(cids.into_iter().map(|(cid, id)| (id, cid)));
    }
    acked.sort();
    let ids: Vec<_> = acked.iter().map(|(id, _)| *id).collect();
    let mut distinct = ids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), POSTERS * POSTS, "one id per post");
    tell.send(ids.last().copied()).unwrap();
    for (r, task) in readers.into_iter().enumerate() {
        let (posts, sessions) = task.await.unwrap();
        let got: Vec<_> = posts.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(
            got, ids,
            "r{r}: every acknowledged post once, in stream order"
        );
        for ((_, from, text), (_, cid)) in posts.iter().zip(&acked) {
            let (poster, i) = cid.split_once('-').unwrap();
            assert_eq!(
                (from.as_str(), text.as_str()),
                (poster, &*format!("post {i}"))
            );
        }
        eprintln!(
            "r{r}: all {} posts in order over {sessions} connections",
            got.len()
        );
    }
    eprintln!(
        "{} posts through two rolling restarts in {:?}",
        POSTERS * POSTS,
        started.elapsed()
    );
}

/// The next frame but notices.
async fn next_frame(ws: &mut Socket) -> Frame {
    loop {
        let message = timeout(STEP, ws.recv()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            let frame = frame(text.as_str());
            if !matches!(frame, Frame::Notice) {
                return frame;
            }
        }
    }
}

/// The retention bound and idempotent posts: with `--history 5`, a
/// client resuming from the first of 8 posts gets `{"gap":true}` and the
/// 5 kept; a cid sent twice is stored once and acknowledged twice with
/// one id; a malformed `since` is refused with 400 before the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_after_the_history_bound_and_a_resent_cid_is_stored_once() {
    let Some(redis) = Redis::start() else { return };
    let a = Instance::start(&redis, &["--history", "5"]).await;
    let url = |since: &str| format!("ws://{}/ws?name=gus&room=gaps&since={since}", a.addr);
    let (mut ws, _) = wsproto::tokio::connect(&url("0-0")).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..8 {
        // The same cid twice: one post, two acks.
        for _ in 0..1 + usize::from(i == 7) {
            let post = format!("{{\"cid\":\"c{i}\",\"text\":\"t{i}\"}}");
            ws.send(post).await.unwrap();
        }
        let mut acks = Vec::new();
        while acks.len() < 1 + usize::from(i == 7) || ids.len() < i + 1 {
            match next_frame(&mut ws).await {
                Frame::Post { id, .. } => ids.push(id),
                Frame::Ack { id, .. } => acks.push(id),
                other => panic!("{other:?}"),
            }
        }
        assert!(acks.iter().all(|id| *id == ids[i]), "{acks:?} {ids:?}");
    }
    let (mut late, _) = wsproto::tokio::connect(&url(&ids[0].to_string()))
        .await
        .unwrap();
    let mut replay = Vec::new();
    while replay.len() < 6 {
        let message = timeout(STEP, late.recv())
            .await
            .unwrap_or_else(|_| panic!("got {replay:?}"))
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            match frame(text.as_str()) {
                Frame::Gap => replay.push("gap".to_owned()),
                Frame::Post { text, .. } => replay.push(text),
                _ => {}
            }
        }
    }
    assert_eq!(replay, ["gap", "t3", "t4", "t5", "t6", "t7"]);
    // Nothing more: the resent c7 was not stored again.
    ws.send("{\"text\":\"last\"}").await.unwrap();
    loop {
        let message = timeout(STEP, late.recv()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            match frame(text.as_str()) {
                Frame::Post { text, .. } => {
                    assert_eq!(text, "last");
                    break;
                }
                Frame::Notice => {}
                other => panic!("{other:?}"),
            }
        }
    }
    let error = wsproto::tokio::connect(&url("12x")).await.unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
}
