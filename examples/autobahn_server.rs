//! The Autobahn TestSuite testee, server role: echoes every text and binary
//! message, a thread per connection, default [`Config`] (plus
//! permessage-deflate when built with the `deflate` feature). See
//! `scripts/autobahn.sh`.
//!
//! The connections run on the public blocking adapters, what users run:
//! `--adapter blocking` (the default, [`wsproto::blocking::WebSocket`]) or
//! `--adapter split` (a reader thread and a writer thread per connection);
//! `--adapter tokio` (with the `tokio` feature) runs
//! [`wsproto::tokio::WebSocket`], a task per connection on a
//! current-thread runtime; `--adapter sans-io` runs the core alone under
//! the hand-written driver of `common/driver.rs`. See `common/echo.rs`.
//!
//! Run with `cargo run --release --example autobahn_server -- 127.0.0.1:9001 --adapter split`.

#[path = "common/driver.rs"]
mod driver;
#[path = "common/echo.rs"]
mod echo;

use std::error::Error;
use std::net::{TcpListener, TcpStream};

use echo::Adapter;
use wsproto::Config;
use wsproto::blocking::ServerBuilder;

fn main() -> Result<(), Box<dyn Error>> {
    let (args, adapter) = echo::args()?;
    let addr = args.first().map_or("127.0.0.1:9001", String::as_str);
    #[cfg(feature = "tokio")]
    if adapter == Adapter::Tokio {
        return echo::tokio_runtime()?.block_on(serve_tokio(addr));
    }
    let listener = TcpListener::bind(addr)?;
    println!(
        "listening on {} ({adapter} adapter)",
        listener.local_addr()?
    );
    let server = ServerBuilder::new();
    #[cfg(feature = "deflate")]
    let server = server.deflate(deflate().unwrap_or_default());
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let server = server.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &server, adapter) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

/// One connection, run to its end.
fn serve(
    mut stream: TcpStream,
    server: &ServerBuilder,
    adapter: Adapter,
) -> Result<(), Box<dyn Error>> {
    stream.set_nodelay(true)?;
    if adapter == Adapter::SansIo {
        let mut conn = driver::accept(&mut stream, Config::default(), deflate())?;
        driver::run(&mut stream, &mut conn, driver::echo)?;
    } else {
        echo::echo(server.accept(stream)?, adapter)?;
    }
    Ok(())
}

/// `--adapter tokio`: the same server, a task per connection.
#[cfg(feature = "tokio")]
async fn serve_tokio(addr: &str) -> Result<(), Box<dyn Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {} (tokio adapter)", listener.local_addr()?);
    let server = wsproto::tokio::ServerBuilder::new();
    #[cfg(feature = "deflate")]
    let server = server.deflate(deflate().unwrap_or_default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let served = async {
                stream.set_nodelay(true)?;
                echo::echo_tokio(server.accept(stream).await?).await
            };
            if let Err(e) = served.await {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// Default limits; permessage-deflate with default preferences when built
/// with the `deflate` feature (Autobahn groups 12 and 13), except the
/// threshold: 0, so every echo goes through the compressor, whatever its
/// size (the suite's point), where the default sends messages under 1 KiB
/// as they are. (kosoku 0.1.0 also fails a deflate case on an
/// uncompressed text echo, which RFC 7692 §6 allows: its runner hands the
/// case a `str`, "Strings must be encoded before hashing".)
fn deflate() -> driver::Deflate {
    #[cfg(feature = "deflate")]
    {
        let mut deflate = wsproto::deflate::DeflateConfig::default();
        deflate.threshold = 0;
        Some(deflate)
    }
}
