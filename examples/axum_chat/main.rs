//! The chat room of `chat_server`, on axum with wsproto's extractor: the
//! page at `/` (the same `chat.html`), the room at `/ws` (every post to
//! every member, join and leave notices, `?name=`), same-origin only, a
//! heartbeat, and an echo at `/echo` (for the Autobahn testsuite).
//!
//! The room speaks the chat protocol (README, "The chat protocol";
//! `common/chat_log.rs`): posts stored in a log and sent as JSON with
//! their ids, `?since=ID` to resume (a malformed ID: 400 before the
//! upgrade), `{"gap":true}` when the history asked for is gone, and
//! idempotent posts `{"cid":..,"text":..}`, acknowledged. Alone, the log
//! is an in-memory ring (`--history N` posts, 10,000; none older than
//! `--retention SECS`, 3600); with `--redis`, a Redis stream per room.
//!
//! ```text
//! cargo run --features axum,tls,deflate --example axum_chat                  # http://127.0.0.1:8080/
//! cargo run --features axum,tls,deflate --example axum_chat -- 127.0.0.1:0 --tls CERT.pem KEY.pem
//! cargo run --features axum,tls,deflate --example axum_chat -- 127.0.0.1:8443 --tls
//! cargo run --features axum,tls,deflate --example axum_chat -- 127.0.0.1:8081 --redis redis://127.0.0.1:6379
//! ```
//!
//! With `--redis redis://[:PASSWORD@]HOST:PORT[/DB]` several instances
//! share their rooms (`/ws?room=NAME`) through Redis: the posts in a
//! stream per room, notices and presence through pub/sub, with an online
//! count (`redis.rs`; also `--redis-prefix`, `--presence-ttl SECS`,
//! `--max-message BYTES`). A rolling restart loses and duplicates no
//! post. Without it, one room on this instance.
//!
//! Plain, it runs `axum::serve` (HTTP/1.1, and HTTP/2 with prior
//! knowledge). With `--tls` it serves HTTPS with HTTP/2 and HTTP/1.1
//! offered by ALPN and advertises extended CONNECT
//! (`SETTINGS_ENABLE_CONNECT_PROTOCOL`), so browsers open their WebSockets
//! over HTTP/2 (RFC 8441); `--tls` without files makes a self-signed
//! certificate for `localhost` and `127.0.0.1` and prints `certificate
//! PATH`. Prints `listening on ADDR` once bound, and for every socket
//! `socket NAME VERSION METHOD` (e.g. `socket alice HTTP/2.0 CONNECT`), so
//! a test can tell which shape a browser used.
//!
//! With permessage-deflate (feature `deflate`), every socket agrees to it
//! with the default settings: nothing kept per connection between
//! messages, messages under 1 KiB sent as they are, and compressors
//! shared through one pool. A post is framed once plain and compressed
//! once for every member; `/stats` counts both encodings (`posts`,
//! `plain_encodes`, `compressed_encodes`).
//!
//! `SIGTERM` or Ctrl-C stops it well: it stops accepting
//! (`axum::serve(..).with_graceful_shutdown(..)`, or the `--tls` loop),
//! every socket (room and echo, which join one [`ConnectionSet`]) gets a
//! Close with 1001 (Going Away), the closing handshakes are waited for (at
//! most 5 s), and it exits with status 0 after printing `shutdown: N
//! closed, M cut` on stderr. With `--redis`, the members of this instance
//! are announced as left once, by this instance, before it exits (their
//! presence deleted, not left to expire).

#[path = "../common/chat_log.rs"]
mod chat_log;
#[path = "../common/self_signed.rs"]
mod self_signed;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod redis;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use wsproto::adapter::MemoryBudget;
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};
use wsproto::handshake::OriginPolicy;
use wsproto::tls::rustls::pki_types::pem::PemObject;
use wsproto::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wsproto::tls::server_config;
use wsproto::tokio::{ConnectionSet, accept_tls};
use wsproto::{Delivery, PreparedMessage};

use chat_log::{
    GAP_FRAME, Incoming, MemoryLog, Retention, StreamId, ack_frame, notice_frame, post_frame,
    welcome_frame,
};

const PAGE: &str = include_str!("../chat.html");

/// Messages queued for one member before it counts as too slow and is
/// dropped from the room.
const QUEUE: usize = 256;

/// How long the closing handshakes may take at shutdown before the
/// sockets left are cut.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Room {
    /// Every socket of this server (room and echo), closed together on
    /// shutdown.
    set: ConnectionSet,
    /// Bytes of messages still arriving, summed over every socket: a
    /// peer that parks most of a large message cannot take the machine's
    /// memory (README, "Memory that peers cannot exhaust").
    budget: MemoryBudget,
    /// Everyone connected and the room's history, under one lock: posts
    /// are stored and handed to every member in one order.
    shared: Arc<Mutex<Shared>>,
    next_id: Arc<AtomicU64>,
    stats: Arc<Stats>,
}

impl Default for Room {
    fn default() -> Room {
        Room {
            set: ConnectionSet::default(),
            budget: MemoryBudget::new(256 << 20),
            shared: Arc::default(),
            next_id: Arc::default(),
            stats: Arc::default(),
        }
    }
}

/// The room: its members and its history.
#[derive(Default)]
struct Shared {
    /// Everyone connected: id -> the queue of its writer task.
    members: HashMap<u64, mpsc::Sender<Post>>,
    log: MemoryLog,
}

/// Encodings made, for `/stats`.
#[derive(Default)]
struct Stats {
    /// Messages framed for the room (each framed plain once).
    plain: AtomicU64,
    /// Compressions of those messages, counted once every member has it.
    compressed: AtomicU64,
}

/// A message on its way to members: shared by their queues, and counted
/// when the last of them is done with it.
#[derive(Clone)]
struct Post(Arc<Counted>);

struct Counted(PreparedMessage, Arc<Stats>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1
            .compressed
            .fetch_add(self.0.compressions() as u64, Ordering::Relaxed);
    }
}

impl Room {
    /// `text` framed once, for any number of members.
    fn post(&self, text: &str) -> Post {
        self.stats.plain.fetch_add(1, Ordering::Relaxed);
        Post(Arc::new(Counted(
            PreparedMessage::text(text),
            self.stats.clone(),
        )))
    }

    /// Sends `text` to everyone but `from`; a member whose queue is full
    /// (not reading) is dropped. The message is framed once: every
    /// member's socket writes the same shared bytes (the same compressed
    /// bytes, with permessage-deflate).
    fn broadcast(&self, shared: &mut Shared, from: u64, text: &str) {
        let post = self.post(text);
        shared
            .members
            .retain(|id, queue| *id == from || queue.try_send(post.clone()).is_ok());
    }

    /// Stores a post (once per (name, cid)) and, if new, sends it to every
    /// member, its sender too, in the log's order; acknowledges a post
    /// with a cid to its sender.
    fn store(&self, from: u64, name: &str, message: &str) {
        let incoming = Incoming::parse(message);
        let mut shared = self.shared.lock().unwrap();
        let (id, fresh) = shared
            .log
            .append(name, incoming.cid.as_deref(), &incoming.text);
        if fresh {
            self.broadcast(&mut shared, u64::MAX, &post_frame(id, name, &incoming.text));
        }
        if let Some(cid) = incoming.cid {
            let ack = self.post(&ack_frame(&cid, id));
            if let Some(queue) = shared.members.get(&from) {
                if queue.try_send(ack).is_err() {
                    shared.members.remove(&from);
                }
            }
        }
    }
}

/// Compressors shared by every socket (see `DeflatePool`): two worker
/// threads' worth, kept warm.
#[cfg(feature = "deflate")]
static POOL: wsproto::deflate::DeflatePool = wsproto::deflate::DeflatePool::new(4);

/// The default permessage-deflate settings with the shared pool.
#[cfg(feature = "deflate")]
fn deflate() -> wsproto::deflate::DeflateConfig {
    let mut deflate = wsproto::deflate::DeflateConfig::default();
    deflate.pool = Some(&POOL);
    deflate
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let room = Room::default();
    let set = room.set.clone();
    // `--history N`, `--retention SECS`: how much of the room's log is kept.
    let retention = Retention::take(&mut args)?;
    room.shared.lock().unwrap().log = MemoryLog::new(retention);
    // `--redis URL`: rooms shared with other instances (redis.rs).
    let hub = redis::Options::take(&mut args, retention)?
        .map(|options| redis::Hub::start(options, set.clone()))
        .transpose()?;
    let (addr, tls) = match args.iter().position(|a| a == "--tls") {
        Some(i) => (args[..i].first().cloned(), Some(args[i + 1..].to_vec())),
        None => (args.first().cloned(), None),
    };
    let addr = addr.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        // `any`: HTTP/1.1 asks with GET, HTTP/2 with CONNECT.
        .route(
            "/ws",
            hub.clone()
                .map_or_else(|| any(chat), |hub| any(redis::chat).with_state(hub)),
        )
        .route("/echo", any(echo))
        .route("/stats", get(stats))
        .with_state(room);
    let mut terminate = signal(SignalKind::terminate())?;
    let stop_signal = async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            Ok(()) = tokio::signal::ctrl_c() => "SIGINT",
        }
    };

    let Some(tls) = tls else {
        println!("listening on {local}");
        std::io::stdout().flush()?;
        // With axum's `http2` feature, `serve` advertises extended CONNECT.
        // At the signal it stops accepting and, the upgraded sockets being
        // no longer its own (axum's graceful shutdown does not reach
        // them), the set closes them.
        let stopping = set.clone();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let signal = stop_signal.await;
                eprintln!("shutdown: {signal}, closing {} sockets", stopping.live());
                stopping.shutdown();
            })
            .await?;
        finish(&set, hub).await;
        return Ok(());
    };

    let (chain, key) = match tls.as_slice() {
        [cert, key] => (
            CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key)?,
        ),
        [] => self_signed::self_signed("wsproto-axum-chat", local.port())?,
        _ => return Err("usage: axum_chat [ADDR] [--redis URL] [--tls [CERT.pem KEY.pem]]".into()),
    };
    let mut config = (*server_config(chain, key)?).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = Arc::new(config);

    println!("listening on {local}");
    std::io::stdout().flush()?;
    let mut stop_signal = std::pin::pin!(stop_signal);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            signal = &mut stop_signal => {
                eprintln!("shutdown: {signal}, closing {} sockets", set.live());
                break;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (config, app) = (config.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = accept_tls(tcp, config, Duration::from_secs(10)).await else {
                return;
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, or
            // browsers will not send WebSockets over this connection.
            builder.http2().enable_connect_protocol();
            let service = TowerToHyperService::new(app);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
    drop(listener);
    set.shutdown();
    finish(&set, hub).await;
    Ok(())
}

/// After `set.shutdown()`: waits for the sockets' closing handshakes (the
/// rest cut after [`CLOSE_WAIT`]), then, with `--redis`, for this
/// instance's leave notices and presence to reach Redis.
async fn finish(set: &ConnectionSet, hub: Option<redis::Hub>) {
    let report = set.wait_timeout(CLOSE_WAIT).await;
    if let Some(hub) = hub {
        hub.stop(Duration::from_secs(2)).await;
    }
    eprintln!("shutdown: {} closed, {} cut", report.closed, report.cut);
}

/// `?since=ID`: the last post a client has (absent: none, only what comes
/// from now on), or, for a malformed id, `Err` with a 400 to answer.
fn since(ws: &WebSocketUpgrade) -> Result<Option<StreamId>, Box<Response>> {
    match ws.request().query_param("since") {
        None => Ok(None),
        Some(since) => StreamId::parse(&since).map(Some).ok_or_else(|| {
            Box::new((StatusCode::BAD_REQUEST, "since: a stream id MS-SEQ\n").into_response())
        }),
    }
}

/// `/ws`: joins the room, same-origin only, with a heartbeat;
/// `?since=ID` replays the posts after ID first.
async fn chat(ws: WebSocketUpgrade, State(room): State<Room>) -> Response {
    let id = room.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let name = match ws.request().query_param("name") {
        Some(name) if valid_name(&name) => name.into_owned(),
        _ => format!("guest-{id}"),
    };
    let since = match since(&ws) {
        Ok(since) => since,
        Err(response) => return *response,
    };
    println!(
        "socket {name} {:?} {}",
        ws.version(),
        if ws.request().is_extended_connect() {
            "CONNECT"
        } else {
            "GET"
        }
    );
    std::io::stdout().flush().ok();
    let mut config = wsproto::Config::default();
    // Heartbeat: a Ping after 20 s of silence, dropped 20 s later.
    config.ping_interval = Some(Duration::from_secs(20));
    #[cfg(feature = "deflate")]
    let ws = ws.deflate(deflate());
    ws.config(config)
        // A page of another site cannot open a socket here with the
        // user's cookies (cross-site WebSocket hijacking).
        .origin_policy(OriginPolicy::new().same_origin(true))
        .connection_set(&room.set)
        .memory_budget(&room.budget)
        .on_upgrade(move |socket| member(socket, room, id, name, since))
}

async fn member(socket: WebSocket, room: Room, id: u64, name: String, since: Option<StreamId>) {
    let (mut reader, writer) = socket.into_split();
    let (queue, mut inbox) = mpsc::channel::<Post>(QUEUE);
    // The greeting, the replay (`since`) and joining the room happen under
    // the room's lock: the replay ends where the live posts begin.
    let mut first = Vec::new();
    {
        let mut shared = room.shared.lock().unwrap();
        let last = shared.log.last();
        first.push(room.post(&welcome_frame(&name, Some(since.unwrap_or(last)))));
        if let Some(since) = since {
            let (gap, posts) = shared.log.since(since);
            if gap {
                first.push(room.post(GAP_FRAME));
            }
            first.extend(posts.map(|e| room.post(&post_frame(e.id, &e.from, &e.text))));
        }
        shared.members.insert(id, queue);
        room.broadcast(&mut shared, id, &notice_frame(&format!("{name} joined")));
    }
    // The writer task: everything for this member goes out in order. A
    // member whose socket has more than `max_write_buffer` waiting is
    // closed with 1013 (`Delivery::Dropped`) instead of buffered.
    tokio::spawn(async move {
        for Post(post) in &first {
            if !matches!(writer.send_prepared(&post.0).await, Ok(Delivery::Queued)) {
                return;
            }
        }
        while let Some(Post(post)) = inbox.recv().await {
            if !matches!(writer.send_prepared(&post.0).await, Ok(Delivery::Queued)) {
                return;
            }
        }
        let _ = writer.close(1000, "").await;
    });
    while let Some(Ok(message)) = reader.recv().await {
        if let Message::Text(text) = message {
            room.store(id, &name, text.as_str());
        }
    }
    let mut shared = room.shared.lock().unwrap();
    shared.members.remove(&id);
    // Leaving the room drops this member's queue: its writer task closes.
    room.broadcast(&mut shared, id, &notice_frame(&format!("{name} left")));
}

/// `/echo`: every data message back, for the Autobahn testsuite.
async fn echo(ws: WebSocketUpgrade, State(room): State<Room>) -> impl IntoResponse {
    #[cfg(feature = "deflate")]
    let ws = ws.deflate(deflate());
    let response = ws
        .connection_set(&room.set)
        .memory_budget(&room.budget)
        .on_upgrade(|mut socket| async move {
            while let Some(Ok(message)) = socket.recv().await {
                if message.is_data() && socket.send(message).await.is_err() {
                    return;
                }
            }
        });
    ([(header::CACHE_CONTROL, "no-store")], response)
}

/// `/stats`: the room's encodings so far, one `name value` a line.
async fn stats(State(room): State<Room>) -> impl IntoResponse {
    let plain = room.stats.plain.load(Ordering::Relaxed);
    let body = format!(
        "posts {plain}\nplain_encodes {plain}\ncompressed_encodes {}\n",
        room.stats.compressed.load(Ordering::Relaxed)
    );
    ([(header::CACHE_CONTROL, "no-store")], body)
}

fn valid_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
