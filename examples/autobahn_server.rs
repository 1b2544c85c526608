//! The Autobahn TestSuite testee, server role: echoes every text and binary
//! message, a thread per connection, default [`Config`] (plus
//! permessage-deflate when built with the `deflate` feature). See
//! `scripts/autobahn.sh`.
//!
//! The connections run on the public blocking adapters, what users run:
//! `--adapter blocking` (the default, [`wsproto::blocking::WebSocket`]) or
//! `--adapter split` (a reader thread and a writer thread per connection);
//! `--adapter sans-io` runs the core alone under the hand-written driver
//! of `common/driver.rs`. See `common/echo.rs`.
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
    let listener = TcpListener::bind(addr)?;
    println!(
        "listening on {} ({adapter} adapter)",
        listener.local_addr()?
    );
    let server = ServerBuilder::new().config(config());
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
        let mut conn = driver::accept(&mut stream, config())?;
        driver::run(&mut stream, &mut conn, driver::echo)?;
    } else {
        echo::echo(server.accept(stream)?, adapter)?;
    }
    Ok(())
}

/// Default limits; permessage-deflate with default preferences when built
/// with the `deflate` feature (Autobahn groups 12 and 13).
fn config() -> Config {
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(wsproto::deflate::DeflateConfig::default());
    }
    config
}
