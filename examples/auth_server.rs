//! Token authentication, the three ways clients pass a token:
//!
//! 1. a query parameter: `ws://HOST/?token=T` (what browser apps often do;
//!    the token ends up in logs, so prefer the others);
//! 2. in the handshake's headers: `Authorization: Bearer T` (non-browser
//!    clients), or, from a browser, which cannot set headers, as an
//!    offered subprotocol: `new WebSocket(url, ["chat", "token.T"])` — the
//!    server answers with `chat`, never echoing the token;
//! 3. the first message after the handshake: `AUTH T`.
//!
//! Credentials in the handshake are checked before upgrading: a malformed
//! `Authorization` header gets 401 with `WWW-Authenticate: Bearer`, a wrong
//! token 403. Without credentials in the handshake the connection is
//! upgraded and the first message must be `AUTH T`; anything else is closed
//! with 1008 (policy violation). Once authenticated, the server says how
//! (`authenticated via query`) and echoes text messages.
//!
//! The log tells the two kinds of handshake that end without a WebSocket
//! apart: a refusal the server decided (`refused: …` on stdout) and a
//! client that sent garbage or went away (`connection: handshake failed: …`
//! on stderr).
//!
//! `SIGTERM` or Ctrl-C stops it well: a Close 1001 to every client, status
//! 0, `shutdown: N closed, M cut` on stderr (`common/stop.rs`); the
//! `reconnecting_client` comes back soon to a server restarted on the same
//! address.
//!
//! ```text
//! cargo run --example auth_server -- 127.0.0.1:9002 secret   # defaults
//! cargo run --example client -- 'ws://127.0.0.1:9002/?token=secret'
//! cargo run --example reconnecting_client -- ws://127.0.0.1:9002/ secret
//! ```

#[path = "common/stop.rs"]
mod stop;

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use wsproto::adapter::MemoryBudget;
use wsproto::blocking::{ConnectionSet, Decision, Error, Message, ServerBuilder};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or("127.0.0.1:9002".into());
    let token = args.next().unwrap_or("secret".into());
    let listener = TcpListener::bind(&addr)?;
    let set = ConnectionSet::new();
    // Bytes of messages still arriving, summed over every connection: a
    // peer that parks most of a large message cannot take the machine's
    // memory (README, "Memory that peers cannot exhaust").
    let budget = MemoryBudget::new(256 << 20);
    let server = ServerBuilder::new()
        .connection_set(&set)
        .memory_budget(&budget);
    let stop = stop::Stop::on_signals(&listener)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        if stop.requested() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (token, server) = (token.clone(), server.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(&server, stream, &token) {
                eprintln!("connection: {e}");
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

fn serve(server: &ServerBuilder, stream: TcpStream, token: &str) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut via = None;
    let accepted = server.accept_with(stream, |request| {
        let Some(upgrade) = request.upgrade() else {
            return Decision::reject(404);
        };
        // 1. ?token=
        if let Some(given) = request.query_param("token") {
            return check(same(&given, token), &mut via, "query", Decision::accept());
        }
        // 2a. Authorization: Bearer
        if let Some(value) = request.header("authorization") {
            return match value.strip_prefix("Bearer ") {
                Some(given) => check(same(given, token), &mut via, "header", Decision::accept()),
                None => Decision::reject(401).header("WWW-Authenticate", "Bearer"),
            };
        }
        // 2b. A subprotocol `token.T` beside the real one, `chat`.
        let protocols = upgrade.protocols();
        if let Some(given) = protocols.iter().find_map(|p| p.strip_prefix("token.")) {
            let ok = same(given, token) && protocols.iter().any(|p| p == "chat");
            return check(
                ok,
                &mut via,
                "subprotocol",
                Decision::accept_protocol("chat"),
            );
        }
        // 3. No credentials yet: the first message must carry them.
        Decision::accept()
    });
    let mut ws = match accepted {
        Ok(ws) => ws,
        // Refused as decided (401/403/404): the response has been sent.
        Err(Error::Refused(refusal)) => {
            println!("refused: {refusal}");
            return Ok(());
        }
        // The client sent garbage (answered with 400…), stalled or left:
        // logged by the caller.
        Err(e) => return Err(e),
    };

    if via.is_none() {
        match ws.read()? {
            Message::Text(text)
                if text
                    .as_str()
                    .strip_prefix("AUTH ")
                    .is_some_and(|t| same(t, token)) =>
            {
                via = Some("first message");
            }
            // The peer's Close, or the server's own (a shutdown): answered
            // inside `read`; the handshake ends there.
            Message::Close(_) => return drain(&mut ws),
            _ => {
                // RFC 6455 §7.4.1: 1008, "a message that violates its policy".
                ws.close(1008, "authentication required")?;
                return drain(&mut ws);
            }
        }
    }
    ws.send(format!("authenticated via {}", via.unwrap_or_default()))?;
    loop {
        match ws.read() {
            Ok(message @ Message::Text(_)) => ws.send(message)?,
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Accepts with `decision` and records `how`, or refuses with 403.
fn check(ok: bool, via: &mut Option<&str>, how: &'static str, decision: Decision) -> Decision {
    if ok {
        *via = Some(how);
        decision
    } else {
        Decision::reject(403)
    }
}

/// Reads until the closing handshake is over.
fn drain<S: wsproto::blocking::Stream>(
    ws: &mut wsproto::blocking::WebSocket<S>,
) -> Result<(), Error> {
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Compares tokens in time that does not depend on where they differ.
fn same(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0, |acc, (a, b)| acc | (a ^ b))
            == 0
}
