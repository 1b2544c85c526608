//! A chat room for browsers: the page at `/` (plain HTTP on the same port)
//! opens a WebSocket to `/ws`; every message is broadcast to every other
//! client, with join and leave notices. Only the page's own origin may
//! connect (browsers send `Origin`; any other origin gets 403).
//!
//! ```text
//! cargo run --example chat_server                  # 127.0.0.1:8080
//! cargo run --example chat_server -- 127.0.0.1:0   # any free port
//! ```
//!
//! `--wasm DIR` also serves the page with its client in Rust
//! (`examples/wasm_chat.rs`, built with `wasm-bindgen --target web
//! --out-dir DIR`) under `/wasm/`, in the same room.
//!
//! Then open `http://127.0.0.1:8080/` in two tabs (`/?name=alice` picks a
//! name). The protocol is the chat's (README, "The chat protocol";
//! `common/chat_log.rs`): posts in a log with ids, JSON frames
//! (`{"id":..,"from":..,"text":..}`, `{"notice":..}`, `{"ack":..}`,
//! `{"gap":true}`), `?since=ID` to resume (a malformed ID: 400), and
//! idempotent posts `{"cid":..,"text":..}`. The history is kept in
//! memory: `--history N` posts (10,000), none older than `--retention
//! SECS` (3600); a restarted server has none, and a client resuming from
//! before gets `{"gap":true}`.
//!
//! One thread per connection; each connection is
//! [`split`](wsproto::blocking::WebSocket::split) so that other threads
//! can send to it through its writer while its own thread reads. A post
//! is stored and sent to every member under the room's lock, so that all
//! get the log's order (a member that does not read holds the room up to
//! its 5 s write timeout, then is dropped).
//!
//! `SIGTERM` or Ctrl-C stops it well: every member gets a Close with 1001
//! (Going Away; the page comes back soon to a server restarted on the
//! same address), and the process exits with status 0 once the closing
//! handshakes are over (at most 5 s), printing `shutdown: N closed, M
//! cut` on stderr (`common/stop.rs`).

#[path = "common/chat_log.rs"]
mod chat_log;
#[path = "common/stop.rs"]
mod stop;

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wsproto::adapter::MemoryBudget;
use wsproto::blocking::{
    ConnectionSet, Decision, Error, Message, Request, ServerBuilder, WebSocketWriter,
};
use wsproto::handshake::OriginPolicy;

/// The page, kept in its own file.
const PAGE: &str = include_str!("chat.html");

use chat_log::{
    GAP_FRAME, Incoming, MemoryLog, Retention, StreamId, ack_frame, notice_frame, post_frame,
    welcome_frame,
};

/// The chat room, shared by the connections' threads.
type Room = Arc<Mutex<Shared>>;

/// The members and the room's history, under one lock.
#[derive(Default)]
struct Shared {
    members: Members,
    log: MemoryLog,
}

/// The page of `--wasm DIR`: chat.html's markup with wasm_chat's module
/// instead of its script.
fn wasm_page() -> String {
    let markup = &PAGE[..PAGE.find("<script>").unwrap_or(PAGE.len())];
    format!(
        "{markup}<script type=\"module\">\nimport init from \"./wasm_chat.js\";\ninit();\n</script>\n</body>\n</html>\n"
    )
}

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let retention = Retention::take(&mut args).map_err(std::io::Error::other)?;
    let mut args = args.into_iter();
    let addr = args.next().unwrap_or("127.0.0.1:8080".into());
    let wasm_dir = match (args.next().as_deref(), args.next()) {
        (Some("--wasm"), Some(dir)) => Some(Arc::new(std::path::PathBuf::from(dir))),
        _ => None,
    };
    let listener = TcpListener::bind(&addr)?;
    // Every member joins `set`: after SIGTERM or Ctrl-C, `set.shutdown()`
    // closes them all with 1001.
    let set = ConnectionSet::new();
    let stop = stop::Stop::on_signals(&listener)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;

    // Same-origin only: a page served by another site cannot open a
    // WebSocket here with the user's cookies (cross-site WebSocket
    // hijacking). Clients that send no Origin (not browsers) are let in.
    // Built with `--features deflate`, messages are compressed with
    // permessage-deflate when the browser offers it (they all do).
    // Bytes of messages still arriving, summed over every connection: a
    // peer that parks most of a large message cannot take the machine's
    // memory (README, "Memory that peers cannot exhaust").
    let budget = MemoryBudget::new(256 << 20);
    let server = ServerBuilder::new()
        .origin_policy(OriginPolicy::new().same_origin(true))
        .connection_set(&set)
        .memory_budget(&budget);
    #[cfg(feature = "deflate")]
    let server = server.deflate(wsproto::deflate::DeflateConfig::default());
    let server = Arc::new(server);
    let room = Room::default();
    room.lock().unwrap().log = MemoryLog::new(retention);
    let next_id = Arc::new(AtomicU64::new(1));
    for stream in listener.incoming() {
        if stop.requested() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (server, room, wasm_dir) = (server.clone(), room.clone(), wasm_dir.clone());
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            if let Err(e) = serve(&server, &room, id, stream, wasm_dir.as_deref()) {
                eprintln!("connection {id}: {e}");
            }
        });
    }
    // A Close 1001 to every connection (handshakes still under way are
    // answered 503 with `Retry-After`), then their closing handshakes.
    drop(listener);
    set.shutdown();
    let report = set.wait_timeout(stop::CLOSE_WAIT);
    eprintln!("shutdown: {} closed, {} cut", report.closed, report.cut);
    Ok(())
}

fn serve(
    server: &ServerBuilder,
    room: &Room,
    id: u64,
    stream: TcpStream,
    wasm_dir: Option<&std::path::PathBuf>,
) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    // A client that stops reading must not stall the broadcast for long.
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut name = format!("guest-{id}");
    let mut since = None;
    let accepted = server.accept_with(stream, |request| match (request, request.path()) {
        (Request::Upgrade(_), "/ws") => {
            if let Some(chosen) = request.query_param("name").filter(|n| valid_name(n)) {
                name = chosen.into_owned();
            }
            if let Some(asked) = request.query_param("since") {
                match StreamId::parse(&asked) {
                    Some(id) => since = Some(id),
                    None => return Decision::reject(400),
                }
            }
            Decision::accept()
        }
        (Request::Http(_), "/") => Decision::respond(
            200,
            &[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
            ],
            PAGE,
        ),
        // `--wasm DIR`: the page with the client in Rust, and its files.
        (Request::Http(_), path) if wasm_dir.is_some() && path.starts_with("/wasm/") => {
            let file = &path["/wasm/".len()..];
            let kind = match file.rsplit_once('.').map(|(_, ext)| ext) {
                _ if file.is_empty() => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                _ => return Decision::reject(404),
            };
            let body = if file.is_empty() {
                Some(wasm_page().into_bytes())
            } else if file.contains('/') || file.starts_with('.') {
                None
            } else {
                wasm_dir.and_then(|dir| std::fs::read(dir.join(file)).ok())
            };
            match body {
                Some(body) => Decision::respond(
                    200,
                    &[("Content-Type", kind), ("Cache-Control", "no-store")],
                    body,
                ),
                None => Decision::reject(404),
            }
        }
        // Browsers ask for it; no icon, no 404 in their console.
        (Request::Http(_), "/favicon.ico") => Decision::respond(204, &[], ""),
        _ => Decision::reject(404),
    });
    let ws = match accepted {
        Ok(ws) => ws,
        // The page, a 404 or a refused Origin, as decided: answered,
        // nothing more to do. (A malformed request is an error, logged.)
        Err(Error::Refused(_)) => return Ok(()),
        // Browsers open spare connections and close them unused.
        Err(Error::HandshakeEof) => return Ok(()),
        Err(e) => return Err(e),
    };

    let (mut reader, writer) = ws.into_split()?;
    // Greeting, replay (`since`), joining and choosing who hears of it
    // happen under one lock, so every member sees a consistent story: a
    // newcomer hears of those who joined after it, never of those who
    // were there before, and its replay ends where the live posts begin.
    {
        let mut shared = room.lock().unwrap();
        let last = shared.log.last();
        writer.send(welcome_frame(&name, Some(since.unwrap_or(last))))?;
        if let Some(since) = since {
            let (gap, posts) = shared.log.since(since);
            if gap {
                writer.send(GAP_FRAME)?;
            }
            for post in posts {
                writer.send(post_frame(post.id, &post.from, &post.text))?;
            }
        }
        shared.members.insert(id, (name.clone(), writer.clone()));
        send_all(
            &mut shared,
            Some(id),
            &notice_frame(&format!("{name} joined")),
        );
    }

    let result = loop {
        match reader.read() {
            Ok(Message::Text(text)) => post(room, id, &name, &writer, &text),
            Ok(_) => {}
            Err(e) if e.is_closed() => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let mut shared = room.lock().unwrap();
    shared.members.remove(&id);
    send_all(
        &mut shared,
        Some(id),
        &notice_frame(&format!("{name} left")),
    );
    result
}

/// Everyone connected: id → (name, writer).
type Members = HashMap<u64, (String, WebSocketWriter<TcpStream>)>;

/// Stores a post (once per (name, cid)) and, if new, sends it to every
/// member, its sender too; acknowledges a post with a cid to its sender.
fn post(room: &Room, id: u64, name: &str, writer: &WebSocketWriter<TcpStream>, message: &str) {
    let incoming = Incoming::parse(message);
    let mut shared = room.lock().unwrap();
    let (post, fresh) = shared
        .log
        .append(name, incoming.cid.as_deref(), &incoming.text);
    if fresh {
        send_all(&mut shared, None, &post_frame(post, name, &incoming.text));
    }
    if let Some(cid) = incoming.cid {
        if writer.send(ack_frame(&cid, post)).is_err() {
            shared.members.remove(&id);
        }
    }
}

/// Sends `text` to everyone but `except`; a member that cannot take it
/// (gone, or not reading for the write timeout) is dropped (its own
/// thread sees the end too).
fn send_all(shared: &mut Shared, except: Option<u64>, text: &str) {
    shared
        .members
        .retain(|id, (_, writer)| Some(*id) == except || writer.send(text).is_ok());
}

fn valid_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
