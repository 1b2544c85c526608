//! A line client like `wscat`: each line of stdin is sent as a text
//! message, each text message received is printed as a line on stdout
//! (binary ones as a short hex note on stderr). At the end of input it
//! closes with 1000, waits for the server's Close and exits 0; errors go
//! to stderr with a non-zero exit status.
//!
//! ```text
//! cargo run --example echo_server &
//! cargo run --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! `wss://` URLs work when built with `--features tls` (Mozilla roots).
//!
//! Reading stdin and reading the socket both block, so the connection is
//! [`split`](wsproto::blocking::WebSocket::split): a thread sends the
//! lines while the main thread prints what arrives.

use std::io::BufRead;
use std::process::ExitCode;

use wsproto::blocking::{Error, Message, connect};

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: client ws://HOST:PORT/PATH");
        return ExitCode::from(2);
    };
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str) -> Result<(), Error> {
    let (ws, _response) = connect(url)?;
    let (mut reader, writer) = ws.split()?;

    // Lines from stdin go out as text messages; the end of input closes.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let sent = match line {
                Ok(line) => writer.send(line),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = sent {
                // The reader reports how the connection ended.
                eprintln!("send: {e}");
                return;
            }
        }
        if let Err(e) = writer.close(1000, "end of input") {
            eprintln!("close: {e}");
        }
    });

    loop {
        match reader.read() {
            Ok(Message::Text(text)) => println!("{text}"),
            Ok(Message::Binary(data)) => {
                eprintln!("[binary, {} bytes: {}]", data.len(), hex(&data))
            }
            Ok(Message::Close(frame)) => {
                if frame.code.as_u16() != 1000 {
                    eprintln!("closed by server: {} {}", frame.code.as_u16(), frame.reason);
                }
            }
            Ok(_) => {} // Pings are answered by the connection.
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// The first 16 bytes in hex, with `…` when there are more.
fn hex(data: &[u8]) -> String {
    let mut out: String = data.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if data.len() > 16 {
        out.push('…');
    }
    out
}
