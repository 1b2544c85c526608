//! An echo server over TLS (`wss://`), feature `tls`.
//!
//! ```text
//! cargo run --features tls --example tls_echo_server                       # self-signed
//! cargo run --features tls --example tls_echo_server -- 127.0.0.1:9443 cert.pem key.pem
//! ```
//!
//! Without PEM files it makes a self-signed certificate for `localhost`
//! and `127.0.0.1` (with `rcgen`) and writes it next to the temporary
//! files, printing `certificate PATH`, so that a client can trust it:
//!
//! ```text
//! cargo run --features tls --example wss_client -- wss://127.0.0.1:9443/ PATH
//! ```
//!
//! The TLS handshake runs in the connection's thread (bounded by a
//! timeout), then the WebSocket handshake as on plain TCP.
//!
//! `SIGTERM` or Ctrl-C stops it well, as `echo_server`: a Close 1001 to
//! every client (over TLS: the reader wakes as on plain TCP), status 0,
//! `shutdown: N closed, M cut` on stderr (`common/stop.rs`).

#[path = "common/self_signed.rs"]
mod self_signed;
#[path = "common/stop.rs"]
mod stop;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use wsproto::adapter::MemoryBudget;
use wsproto::blocking::accept_tls;
use wsproto::blocking::{ConnectionSet, Error, ServerBuilder};
use wsproto::tls::rustls::ServerConfig;
use wsproto::tls::rustls::pki_types::pem::PemObject;
use wsproto::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wsproto::tls::server_config;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().map_or("127.0.0.1:9443", String::as_str);
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;

    let (chain, key) = match &args[1..] {
        [cert, key] => (
            CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key)?,
        ),
        [] => self_signed::self_signed("wsproto-tls-echo", local.port())?,
        _ => return Err("usage: tls_echo_server [ADDR [CERT.pem KEY.pem]]".into()),
    };
    let config = server_config(chain, key)?;
    let set = ConnectionSet::new();
    // Bytes of messages still arriving, summed over every connection: a
    // peer that parks most of a large message cannot take the machine's
    // memory (README, "Memory that peers cannot exhaust").
    let budget = MemoryBudget::new(256 << 20);
    let server = ServerBuilder::new()
        .connection_set(&set)
        .memory_budget(&budget);
    let stop = stop::Stop::on_signals(&listener)?;

    println!("listening on {local}");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        if stop.requested() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (config, server) = (config.clone(), server.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, config, &server) {
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

fn serve(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    server: &ServerBuilder,
) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let tls = accept_tls(stream, config, Duration::from_secs(10))?;
    let mut ws = server.accept(tls)?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.send(message)?,
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
