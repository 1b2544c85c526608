//! A line client like `wscat` on tokio, the async twin of `client`, with
//! the same behaviour, output and flags: each line of stdin is sent as a
//! text message, each text message received is printed as a line on
//! stdout (binary ones as a short hex note on stderr). At the end of input
//! it keeps printing what arrives until the server has been quiet for a
//! linger (1000 ms; `--linger MS`, `0` to close at once), then closes with
//! 1000, waits for the server's Close and exits 0; errors go to stderr
//! with a non-zero exit status. A line `/ping LABEL` sends a Ping with
//! that label instead (at most 125 bytes); the server's Pong is noted on
//! stderr as `[pong: LABEL]`.
//!
//! ```text
//! cargo run --features tokio --example tokio_echo_server &
//! cargo run --features tokio --example tokio_client -- ws://127.0.0.1:9001/
//! printf 'one\ntwo\n' | cargo run --features tokio --example tokio_client -- ws://127.0.0.1:9001/ --linger 200
//! ```
//!
//! `wss://` URLs work when built with `--features tokio,tls` (Mozilla
//! roots).
//!
//! Behind a proxy, the environment is honoured as curl does
//! ([`wsproto::proxy::ProxyEnv`]): `HTTPS_PROXY` for `wss://`,
//! `HTTP_PROXY` for `ws://`, then `ALL_PROXY`, with `NO_PROXY` as the
//! exceptions; the proxy in use is noted on stderr (without its
//! credentials).
//!
//! ```text
//! HTTPS_PROXY=http://user:pass@proxy.corp:3128 cargo run --features tokio,tls --example tokio_client -- wss://echo.example/
//! ALL_PROXY=socks5h://127.0.0.1:1080 cargo run --features tokio --example tokio_client -- ws://127.0.0.1:9001/
//! ```
//!
//! Why linger: many servers (Python `websockets`, browsers' peers) stop
//! sending once they have our Close, so a Close sent right after the last
//! line would cut off the replies still on their way. Like `websocat`, the
//! client waits for the server to go quiet first.
//!
//! Where `client` needs three threads, this is one task and a
//! `tokio::select!`-free loop: stdin lines come from a blocking thread
//! through a channel (tokio's own stdin is the same thing), and the main
//! task waits on whichever of the channel and [`recv`](WebSocket::recv)
//! is ready first, with the linger as a timeout on `recv`. `recv` is
//! cancel-safe, so losing that race loses nothing.

#[path = "common/line_client.rs"]
mod line_client;

use std::future::poll_fn;
use std::io::BufRead;
use std::process::ExitCode;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc;
use wsproto::handshake::WsUrl;
use wsproto::proxy::ProxyEnv;
use wsproto::tokio::{Error, Message, WebSocket, connect};

const USAGE: &str = "usage: tokio_client ws://HOST:PORT/PATH [--linger MS]";

fn main() -> ExitCode {
    let (url, linger) = match line_client::args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&url, linger));
    // The stdin thread may still be blocked reading: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the main task waits for next.
enum Next {
    /// A line of input, or `None` at its end (or when it failed).
    Line(Option<String>),
    /// A message, how the connection ended (`Some(Err)`), or its normal
    /// end (`None`).
    Received(Option<Result<Message, Error>>),
}

async fn run(url: &str, linger: Duration) -> Result<(), Error> {
    // `connect` picks the proxy up from the environment itself; this only
    // says which one (`Display` hides the credentials).
    if let Ok(parsed) = WsUrl::parse(url) {
        if let Ok(Some(proxy)) = ProxyEnv::from_env().proxy_for(&parsed) {
            eprintln!("[through proxy {proxy}]");
        }
    }
    let (mut ws, _response) = connect(url).await?;
    let mut lines = stdin_lines();
    let mut input_open = true;
    let mut lingering = false;
    loop {
        let next = if input_open {
            next_line_or_message(&mut lines, &mut ws).await
        } else if lingering {
            // After the end of input, wait at most the linger for the next
            // message, then close.
            match tokio::time::timeout(linger, ws.recv()).await {
                Ok(received) => Next::Received(received),
                Err(_) => {
                    lingering = false;
                    close(&mut ws).await?;
                    continue;
                }
            }
        } else {
            Next::Received(ws.recv().await)
        };
        match next {
            Next::Line(Some(line)) => {
                // The label is borrowed from the line: `send_ping` copies it.
                let sent = match line.strip_prefix("/ping ") {
                    Some(label) => ws.send_ping(label).await,
                    None => ws.send(line).await,
                };
                if let Err(e) = sent {
                    // A connection that ended (`recv` reports how) or a
                    // Ping too long: either way, no more lines.
                    eprintln!("send: {e}");
                    lines.close();
                    while lines.try_recv().is_ok() {}
                }
            }
            Next::Line(None) => {
                input_open = false;
                if linger.is_zero() {
                    close(&mut ws).await?;
                } else {
                    lingering = true;
                }
            }
            Next::Received(Some(Ok(message))) => line_client::show(message),
            Next::Received(Some(Err(e))) if e.is_closed() => return Ok(()),
            Next::Received(Some(Err(e))) => return Err(e),
            Next::Received(None) => return Ok(()),
        }
    }
}

/// Waits for whichever comes first, a line of input or a message; the
/// other is left where it was (the channel keeps its lines, and `recv` is
/// cancel-safe).
async fn next_line_or_message(
    lines: &mut mpsc::Receiver<String>,
    ws: &mut WebSocket<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
) -> Next {
    poll_fn(|cx| {
        if let Poll::Ready(line) = lines.poll_recv(cx) {
            return Poll::Ready(Next::Line(line));
        }
        ws.poll_recv(cx).map(Next::Received)
    })
    .await
}

/// Closes with 1000; the next `recv` sees the server's Close and the end.
async fn close(
    ws: &mut WebSocket<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
) -> Result<(), Error> {
    match ws.close(1000, "end of input").await {
        Ok(()) => Ok(()),
        // The server closed first: `recv` reports it.
        Err(e) if e.is_closed() || !e.is_fatal() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Lines of stdin, read on a blocking thread (reading stdin blocks); the
/// channel closes at the end of input or on a read error.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if tx.blocking_send(line).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // Unreadable input: no more lines.
                    eprintln!("send: {}", Error::from(e));
                    return;
                }
            }
        }
    });
    rx
}
