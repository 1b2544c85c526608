//! The Autobahn TestSuite testee, server role: echoes every text and binary
//! message, a thread per connection, default [`Config`] (plus
//! permessage-deflate when built with the `deflate` feature). See
//! `scripts/autobahn.sh`.
//!
//! Run with `cargo run --release --example autobahn_server -- 127.0.0.1:9001`.

#[path = "common/driver.rs"]
mod driver;

use std::net::TcpListener;

use wsproto::Config;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        std::thread::spawn(move || {
            let result = driver::accept(&mut stream, config())
                .and_then(|mut conn| Ok(driver::run(&mut stream, &mut conn, driver::echo)?));
            if let Err(e) = result {
                eprintln!("connection: {e}");
            }
        });
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
