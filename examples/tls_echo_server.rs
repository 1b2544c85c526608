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

#[path = "common/self_signed.rs"]
mod self_signed;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use wsproto::blocking::tls::rustls::ServerConfig;
use wsproto::blocking::tls::rustls::pki_types::pem::PemObject;
use wsproto::blocking::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wsproto::blocking::tls::{accept_tls, server_config};
use wsproto::blocking::{Error, accept};

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

    println!("listening on {local}");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, config) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

fn serve(stream: TcpStream, config: Arc<ServerConfig>) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let tls = accept_tls(stream, config, Duration::from_secs(10))?;
    let mut ws = accept(tls)?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.send(message)?,
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
