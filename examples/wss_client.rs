//! A `wss://` client, feature `tls`: sends one message, prints the reply
//! and closes.
//!
//! ```text
//! cargo run --features tls --example wss_client -- wss://echo.example.com/
//! cargo run --features tls --example wss_client -- wss://127.0.0.1:9443/ cert.pem
//! ```
//!
//! With only a URL, the server's certificate is checked against the
//! Mozilla roots (`webpki-roots`), as `connect` does for any `wss://` URL.
//! With a PEM file, only the certificates in it are trusted: a private CA,
//! or the self-signed certificate `tls_echo_server` prints.

use wsproto::blocking::{ClientBuilder, Message};
use wsproto::tls::client_config_with_roots;
use wsproto::tls::rustls::RootCertStore;
use wsproto::tls::rustls::pki_types::CertificateDer;
use wsproto::tls::rustls::pki_types::pem::PemObject;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: wss_client wss://HOST:PORT/ [CA.pem]")?;
    let mut builder = ClientBuilder::new(url);
    if let Some(ca) = args.next() {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&ca)? {
            roots.add(cert?)?;
        }
        builder = builder.tls_config(client_config_with_roots(roots)?);
    }

    let (mut ws, _response) = builder.connect()?;
    ws.send("hello over TLS")?;
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                println!("{text}");
                ws.close(1000, "done")?;
            }
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
