//! The servers `tests/wasm.rs` (the browser client, in headless Chromium)
//! connects to, started by `scripts/wasm_test.sh` on loopback, any free
//! ports. It prints `listening on ADDR` (the main server) and `flaky on
//! ADDR` (a second one that can vanish), then serves until killed.
//!
//! The main server's paths:
//! - `/echo` (also on the flaky port): echoes text and binary messages; a
//!   text `close:CODE:REASON` makes the server close with that code and
//!   reason; `?greet=1` sends `hello` first; `?id=K` records the Close the
//!   client sent (`CODE REASON`, or `lost`) under `K`. Offered `chat`, it
//!   picks that subprotocol.
//! - `/log?id=K`: sends what was recorded under `K` (waiting up to 5 s for
//!   it), then closes.
//! - `/refuse`: refuses the upgrade with 403.
//! - `/sink?pause_ms=N`: reads nothing for N ms (the client's sends pile
//!   up), then counts the bytes of binary messages; a text `done` is
//!   answered with the count.
//! - `/ctl?cmd=down`: the flaky server cuts its connections (no Close: the
//!   browser sees 1006) and each new one before its handshake (its
//!   listener stays bound); `cmd=up` serves again; `up_after_ms=N` with
//!   `down` does that after N ms. Answers `ok`.
//!
//! ```text
//! cargo run --example wasm_test_server
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wsproto::blocking::{Decision, Error, Message, Request, ServerBuilder, WebSocket};

/// What the connections share.
#[derive(Default)]
struct State {
    /// `id` → the client's Close, as `CODE REASON`, or `lost`.
    log: Mutex<HashMap<String, String>>,
    logged: Condvar,
    /// The flaky server's connections, cut on `down`.
    flaky: Mutex<Vec<TcpStream>>,
    flaky_down: AtomicBool,
}

/// Which endpoint a connection asked for.
enum Route {
    Echo { id: Option<String>, greet: bool },
    Log(String),
    Sink(Duration),
    Ctl { down: bool, up_after: Option<u64> },
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let flaky = TcpListener::bind("127.0.0.1:0")?;
    let flaky_addr = flaky.local_addr()?;
    println!("listening on {}", listener.local_addr()?);
    println!("flaky on {flaky_addr}");
    std::io::stdout().flush()?;
    let state = Arc::new(State::default());
    let server = Arc::new(ServerBuilder::new());
    {
        let (state, server) = (state.clone(), server.clone());
        std::thread::spawn(move || run_flaky(flaky, &state, &server));
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (state, server) = (state.clone(), server.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(&server, &state, stream, false) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

/// The flaky server: serves until `down`, then cuts every connection as
/// soon as it is accepted (before the handshake: the browser sees a
/// connection that failed, as when nothing listens) until `up`. Its
/// listener stays bound throughout, so `up` holds from the moment it is
/// answered. The check and the record of a connection happen under the
/// lock that `down` takes, so none slips between them.
fn run_flaky(listener: TcpListener, state: &Arc<State>, server: &Arc<ServerBuilder>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("flaky: {e}");
                continue;
            }
        };
        {
            let mut flaky = state.flaky.lock().unwrap();
            if state.flaky_down.load(Ordering::SeqCst) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                continue;
            }
            if let Ok(clone) = stream.try_clone() {
                flaky.push(clone);
            }
        }
        let (state, server) = (state.clone(), server.clone());
        std::thread::spawn(move || {
            let _ = serve(&server, &state, stream, true);
        });
    }
}

fn serve(
    server: &ServerBuilder,
    state: &Arc<State>,
    stream: TcpStream,
    flaky: bool,
) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut route = None;
    let accepted = server.accept_with(stream, |request| {
        let param = |name| request.query_param(name).map(|v| v.into_owned());
        let Request::Upgrade(upgrade) = request else {
            return Decision::reject(404);
        };
        route = match (request.path(), flaky) {
            ("/echo", _) => Some(Route::Echo {
                id: param("id"),
                greet: param("greet").is_some(),
            }),
            ("/log", false) => Some(Route::Log(param("id").unwrap_or_default())),
            ("/sink", false) => Some(Route::Sink(Duration::from_millis(
                param("pause_ms").and_then(|v| v.parse().ok()).unwrap_or(0),
            ))),
            ("/ctl", false) => Some(Route::Ctl {
                down: param("cmd").as_deref() == Some("down"),
                up_after: param("up_after_ms").and_then(|v| v.parse().ok()),
            }),
            ("/refuse", false) => return Decision::reject(403),
            _ => return Decision::reject(404),
        };
        if upgrade.protocols().iter().any(|p| p == "chat") {
            Decision::accept_protocol("chat")
        } else {
            Decision::accept()
        }
    });
    let mut ws = match accepted {
        Ok(ws) => ws,
        Err(Error::Refused(_) | Error::HandshakeEof) => return Ok(()),
        Err(e) => return Err(e),
    };
    match route.expect("accepted with a route") {
        Route::Echo { id, greet } => echo(&mut ws, state, id, greet),
        Route::Log(id) => {
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut log = state.log.lock().unwrap();
            while !log.contains_key(&id) && Instant::now() < deadline {
                log = state
                    .logged
                    .wait_timeout(log, Duration::from_millis(50))
                    .unwrap()
                    .0;
            }
            let entry = log.get(&id).cloned().unwrap_or_else(|| "none".into());
            drop(log);
            ws.send(entry)?;
            ws.close(1000, "")?;
            drain(&mut ws)
        }
        Route::Sink(pause) => {
            std::thread::sleep(pause);
            let mut total = 0usize;
            loop {
                match ws.read() {
                    Ok(Message::Binary(bytes)) => total += bytes.len(),
                    Ok(Message::Text(text)) if text.as_str() == "done" => {
                        ws.send(total.to_string())?
                    }
                    Ok(_) => {}
                    Err(e) if e.is_closed() => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
        Route::Ctl { down, up_after } => {
            if down {
                let mut flaky = state.flaky.lock().unwrap();
                state.flaky_down.store(true, Ordering::SeqCst);
                for stream in flaky.drain(..) {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
                drop(flaky);
                if let Some(ms) = up_after {
                    let state = state.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(ms));
                        state.flaky_down.store(false, Ordering::SeqCst);
                    });
                }
            } else {
                state.flaky_down.store(false, Ordering::SeqCst);
            }
            ws.send("ok")?;
            ws.close(1000, "")?;
            drain(&mut ws)
        }
    }
}

fn echo(
    ws: &mut WebSocket<TcpStream>,
    state: &State,
    id: Option<String>,
    greet: bool,
) -> Result<(), Error> {
    let record = |entry: String| {
        if let Some(id) = &id {
            state.log.lock().unwrap().insert(id.clone(), entry);
            state.logged.notify_all();
        }
    };
    if greet {
        ws.send("hello")?;
    }
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                if let Some(rest) = text.as_str().strip_prefix("close:") {
                    let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
                    ws.close(code.parse::<u16>().unwrap_or(1000), reason)?;
                    return drain(ws);
                }
                ws.send(Message::Text(text))?;
            }
            Ok(Message::Binary(bytes)) => ws.send(Message::Binary(bytes))?,
            Ok(Message::Close(frame)) => {
                record(format!("{} {}", frame.code.as_u16(), frame.reason));
                return drain(ws);
            }
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => {
                record("lost".into());
                return Err(e);
            }
        }
    }
}

/// Reads until the closing handshake is over.
fn drain(ws: &mut WebSocket<TcpStream>) -> Result<(), Error> {
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
