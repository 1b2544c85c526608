//! The servers, each written as its authors write (and benchmark) an echo
//! server, all on a current-thread tokio runtime, every accepted socket
//! with `TCP_NODELAY`:
//!
//! - `wsproto`: `wsproto::tokio::accept`, then `recv` + `feed` (the echo
//!   the adapter's docs give: a batch of input is answered by one write).
//! - `wsproto-blocking`: `wsproto::blocking::accept`, `read` + `send`, a
//!   thread per connection (64 KiB stacks), for reference.
//! - `tokio-tungstenite` 0.30: `accept_async`, then `split` and
//!   `try_filter(is data).forward(write)`, its echo-server example.
//! - `fastwebsockets` 0.10: its echo-server example (`FragmentCollector`,
//!   `read_frame`/`write_frame`, the task `unconstrained`), over the raw
//!   `TcpStream` with `WebSocket::after_handshake`: its `upgrade` helper
//!   needs hyper, which would put an `Upgraded` box between it and the
//!   socket; the handshake (not measured) is parsed here with httparse.
//! - `tokio-websockets` 0.13: its echo-server example (`ServerBuilder`
//!   with `frame_size(usize::MAX)` and `Limits::unlimited()`,
//!   `next`/`send`, the task `unconstrained`).
//! - `wsproto-room`: the broadcast room. Every text message a member sends
//!   is framed once (`PreparedMessage::text`, counted) and posted on a
//!   `tokio::sync::broadcast` channel; each member's task queues every
//!   post waiting with `feed_prepared` (shared bytes, no copy) and its
//!   `recv` writes them, with one write.
//! - `wsproto-room-deflate`: the same room with permessage-deflate agreed
//!   (the default `DeflateConfig`, stateless, plus a pool): each post is
//!   also compressed once, and every member gets the compressed frame.
//!
//! The server prints `port N` once listening; on the stdin line `stats` it
//! prints `encodes N compressions N dropped N`; it exits when stdin closes.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const IMPLS: [&str; 5] = [
    "wsproto",
    "wsproto-blocking",
    "tokio-tungstenite",
    "fastwebsockets",
    "tokio-websockets",
];

static ENCODES: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The deflate room's posts, to count their compressions on `stats`.
static POSTS: std::sync::Mutex<Vec<wsproto::PreparedMessage>> = std::sync::Mutex::new(Vec::new());
static POOL: wsproto::deflate::DeflatePool = wsproto::deflate::DeflatePool::new(2);

pub fn main(args: &[String]) {
    let which = args.first().map(String::as_str).unwrap_or("wsproto");
    let _ = crate::sys::raise_nofile(200_000);
    let listener = crate::sys::listener();
    let port = listener.local_addr().unwrap().port();
    println!("port {port}");
    std::io::stdout().flush().unwrap();
    // The orchestrator's stdin: `stats` lines, and EOF to stop.
    std::thread::spawn(|| {
        for line in std::io::stdin().lock().lines() {
            if line.is_ok_and(|l| l.trim() == "stats") {
                let compressions: usize = POSTS
                    .lock()
                    .unwrap()
                    .iter()
                    .map(wsproto::PreparedMessage::compressions)
                    .sum();
                println!(
                    "encodes {} compressions {compressions} dropped {}",
                    ENCODES.load(Ordering::Relaxed),
                    DROPPED.load(Ordering::Relaxed)
                );
                std::io::stdout().flush().unwrap();
            }
        }
        std::process::exit(0);
    });
    if which == "wsproto-blocking" {
        return blocking(listener);
    }
    if std::env::var_os("LOAD_SIZES").is_some() {
        let (room, _) = tokio::sync::broadcast::channel(1);
        let s = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        s.set_nonblocking(true).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _g = rt.enter();
        let t = || TcpStream::from_std(s.try_clone().unwrap()).unwrap();
        eprintln!(
            "future sizes: wsproto {} room {} tungstenite {} fastwebsockets {} tokio-websockets {} recv {}",
            std::mem::size_of_val(&wsproto_echo(t())),
            std::mem::size_of_val(&wsproto_member(t(), room, false)),
            std::mem::size_of_val(&tungstenite_echo(t())),
            std::mem::size_of_val(&fastwebsockets_echo(t())),
            std::mem::size_of_val(&tokio_websockets_echo(t())),
            std::mem::size_of::<wsproto::tokio::WebSocket<TcpStream>>()
        );
    }
    listener.set_nonblocking(true).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (room, _) = tokio::sync::broadcast::channel(4096);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true).unwrap();
            match which {
                "wsproto" => {
                    tokio::spawn(wsproto_echo(stream));
                }
                "wsproto-room" => {
                    tokio::spawn(wsproto_member(stream, room.clone(), false));
                }
                "wsproto-room-deflate" => {
                    tokio::spawn(wsproto_member(stream, room.clone(), true));
                }
                "tokio-tungstenite" => {
                    tokio::spawn(tungstenite_echo(stream));
                }
                "fastwebsockets" => {
                    tokio::spawn(tokio::task::unconstrained(fastwebsockets_echo(stream)));
                }
                "tokio-websockets" => {
                    tokio::spawn(tokio::task::unconstrained(tokio_websockets_echo(stream)));
                }
                other => panic!("unknown server {other}"),
            }
        }
    });
}

async fn wsproto_echo(stream: TcpStream) -> Result<(), wsproto::tokio::Error> {
    let mut ws = wsproto::tokio::accept(stream).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.feed(message).await?;
        }
    }
    Ok(())
}

async fn wsproto_member(
    stream: TcpStream,
    room: tokio::sync::broadcast::Sender<wsproto::PreparedMessage>,
    deflate: bool,
) -> Result<(), wsproto::tokio::Error> {
    use wsproto::tokio::Message;
    use wsproto::{Delivery, PreparedMessage};
    let mut ws = if deflate {
        let mut config = wsproto::deflate::DeflateConfig::default();
        config.pool = Some(&POOL);
        wsproto::tokio::ServerBuilder::new()
            .deflate(config)
            .accept(stream)
            .await?
    } else {
        wsproto::tokio::accept(stream).await?
    };
    let mut feed = room.subscribe();
    loop {
        tokio::select! {
            message = ws.recv() => match message.transpose()? {
                Some(Message::Text(text)) => {
                    ENCODES.fetch_add(1, Ordering::Relaxed);
                    let post = PreparedMessage::text(text);
                    if deflate {
                        POSTS.lock().unwrap().push(post.clone());
                    }
                    let _ = room.send(post);
                }
                Some(_) => {}
                None => return Ok(()),
            },
            prepared = feed.recv() => match prepared {
                Ok(prepared) => {
                    // Every post waiting is queued before `recv` writes:
                    // one write for all of them.
                    let mut next = Some(prepared);
                    while let Some(prepared) = next {
                        if ws.feed_prepared(&prepared)? == Delivery::Dropped {
                            DROPPED.fetch_add(1, Ordering::Relaxed);
                            while let Some(message) = ws.recv().await {
                                message?;
                            }
                            return Ok(());
                        }
                        next = feed.try_recv().ok();
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(_) => return Ok(()),
            },
        }
    }
}

async fn tungstenite_echo(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use futures_util::{StreamExt, TryStreamExt, future};
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (write, read) = ws.split();
    read.try_filter(|m| future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await
}

async fn fastwebsockets_echo(
    mut stream: TcpStream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    // The handshake: read the request head, answer 101.
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let key = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(_) = req.parse(&head)? {
            let key = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                .ok_or("no key")?;
            break String::from_utf8(key.value.to_vec())?;
        }
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        wsproto::handshake::accept_key(&key)
    );
    stream.write_all(response.as_bytes()).await?;
    // Its echo-server example from here on.
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn tokio_websockets_echo(stream: TcpStream) -> Result<(), tokio_websockets::Error> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_websockets::{Config, Limits, ServerBuilder};
    let (_request, mut server) = ServerBuilder::new()
        .config(Config::default().frame_size(usize::MAX))
        .limits(Limits::unlimited())
        .accept(stream)
        .await?;
    while let Some(Ok(item)) = server.next().await {
        if item.is_text() || item.is_binary() {
            server.send(item).await?;
        }
    }
    Ok(())
}

fn blocking(listener: std::net::TcpListener) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        stream.set_nodelay(true).unwrap();
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let Ok(mut ws) = wsproto::blocking::accept(stream) else {
                    return;
                };
                while let Ok(message) = ws.read() {
                    if message.is_data() && ws.send(message).is_err() {
                        return;
                    }
                }
            })
            .unwrap();
    }
}
