//! An echo server: every text and binary message comes back unchanged.
//! One thread per connection, default [`Config`](wsproto::Config).
//!
//! ```text
//! cargo run --example echo_server                  # 127.0.0.1:9001
//! cargo run --example echo_server -- 127.0.0.1:0   # any free port
//! ```
//!
//! It prints `listening on ADDR` (the address actually bound) once it
//! accepts connections; try it with `cargo run --example client -- ws://ADDR/`.
//!
//! `SIGTERM` or Ctrl-C stops it well: every client gets a Close with 1001
//! (Going Away), the closing handshakes are waited for (at most 5 s), and
//! it exits with status 0 after printing `shutdown: N closed, M cut` on
//! stderr (`common/stop.rs`).

#[path = "common/stop.rs"]
mod stop;

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use wsproto::adapter::MemoryBudget;
use wsproto::blocking::{ConnectionSet, Error, ServerBuilder};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    // Every connection accepted by `server` joins `set`, which closes
    // them all with 1001 at the end.
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
        match stream {
            Ok(stream) => {
                let server = server.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(&server, stream) {
                        eprintln!("connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    // A Close 1001 to every connection (handshakes still under way are
    // answered 503 with `Retry-After`), then their closing handshakes.
    drop(listener);
    set.shutdown();
    let report = set.wait_timeout(stop::CLOSE_WAIT);
    eprintln!("shutdown: {} closed, {} cut", report.closed, report.cut);
    Ok(())
}

fn serve(server: &ServerBuilder, stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = server.accept(stream)?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.send(message)?,
            // Pings and the peer's Close are answered inside `read`; so
            // is a shutdown (the Close 1001 goes out from here).
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
