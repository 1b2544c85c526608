//! A line client like `wscat`: each line of stdin is sent as a text
//! message, each text message received is printed as a line on stdout
//! (binary ones as a short hex note on stderr). At the end of input it
//! keeps printing what arrives until the server has been quiet for a
//! linger (1000 ms; `--linger MS`, `0` to close at once), then closes with
//! 1000, waits for the server's Close and exits 0; errors go to stderr
//! with a non-zero exit status. A line `/ping LABEL` sends a Ping with
//! that label instead (at most 125 bytes); the server's Pong is noted on
//! stderr as `[pong: LABEL]`.
//!
//! ```text
//! cargo run --example echo_server &
//! cargo run --example client -- ws://127.0.0.1:9001/
//! printf 'one\ntwo\n' | cargo run --example client -- ws://127.0.0.1:9001/ --linger 200
//! ```
//!
//! `wss://` URLs work when built with `--features tls` (Mozilla roots).
//!
//! Behind a proxy, the environment is honoured as curl does
//! ([`wsproto::proxy::ProxyEnv`]): `HTTPS_PROXY` for `wss://`,
//! `HTTP_PROXY` for `ws://`, then `ALL_PROXY`, with `NO_PROXY` as the
//! exceptions; the proxy in use is noted on stderr (without its
//! credentials).
//!
//! ```text
//! HTTPS_PROXY=http://user:pass@proxy.corp:3128 cargo run --features tls --example client -- wss://echo.example/
//! ALL_PROXY=socks5h://127.0.0.1:1080 cargo run --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! Why linger: many servers (Python `websockets`, browsers' peers) stop
//! sending once they have our Close, so a Close sent right after the last
//! line would cut off the replies still on their way. Like `websocat`, the
//! client waits for the server to go quiet first.
//!
//! Reading stdin and reading the socket both block, so the connection is
//! [`split`](wsproto::blocking::WebSocket::split): a thread sends the
//! lines, another reads the socket, and the main thread prints what
//! arrives, timing the linger with `recv_timeout` on the channel between
//! them.

#[path = "common/line_client.rs"]
mod line_client;

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use wsproto::blocking::{Error, Message, connect};
use wsproto::handshake::WsUrl;
use wsproto::proxy::ProxyEnv;

const USAGE: &str = "usage: client ws://HOST:PORT/PATH [--linger MS]";

fn main() -> ExitCode {
    let (url, linger) = match line_client::args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&url, linger) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the main thread hears from the two others.
enum News {
    /// A message, or how the connection ended (the reader stops then).
    Received(Result<Message, Error>),
    /// Every line of input was sent (or input or sending failed).
    EndOfInput,
}

fn run(url: &str, linger: Duration) -> Result<(), Error> {
    // `connect` picks the proxy up from the environment itself; this only
    // says which one (`Display` hides the credentials).
    if let Ok(parsed) = WsUrl::parse(url) {
        if let Ok(Some(proxy)) = ProxyEnv::from_env().proxy_for(&parsed) {
            eprintln!("[through proxy {proxy}]");
        }
    }
    let (ws, _response) = connect(url)?;
    let (mut reader, writer) = ws.into_split()?;
    let (news, inbox) = mpsc::channel();

    // Lines from stdin go out as text messages.
    let lines = writer.clone();
    let input = news.clone();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let sent = match line {
                // The label is borrowed from the line: `send_ping` copies it.
                Ok(line) => match line.strip_prefix("/ping ") {
                    Some(label) => lines.send_ping(label),
                    None => lines.send(line),
                },
                Err(e) => Err(e.into()),
            };
            if let Err(e) = sent {
                // Unreadable input or a connection that ended (the reader
                // reports how): either way, no more lines.
                eprintln!("send: {e}");
                break;
            }
        }
        let _ = input.send(News::EndOfInput);
    });

    // Everything received goes to the main thread, up to the end.
    thread::spawn(move || {
        loop {
            let received = reader.read();
            let end = received.is_err();
            if news.send(News::Received(received)).is_err() || end {
                return;
            }
        }
    });

    // Until the end of input, wait for news without a bound; after it,
    // wait at most the linger for the next message, then close and wait
    // for the end of the closing handshake.
    let mut lingering = false;
    loop {
        let next = if lingering {
            inbox.recv_timeout(linger)
        } else {
            inbox.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match next {
            Ok(News::Received(Ok(message))) => line_client::show(message),
            Ok(News::Received(Err(e))) if e.is_closed() => return Ok(()),
            Ok(News::Received(Err(e))) => return Err(e),
            Ok(News::EndOfInput) if !linger.is_zero() => lingering = true,
            Ok(News::EndOfInput) | Err(RecvTimeoutError::Timeout) => {
                lingering = false;
                // The reader then sees the server's Close and the end.
                match writer.close(1000, "end of input") {
                    Ok(()) => {}
                    // The server closed first: the reader reports it.
                    Err(e) if e.is_closed() || !e.is_fatal() => {}
                    Err(e) => return Err(e),
                }
            }
            // The reader reports the end before it stops, so only a panic
            // there gets here.
            Err(RecvTimeoutError::Disconnected) => return Err(Error::ConnectionLost),
        }
    }
}
