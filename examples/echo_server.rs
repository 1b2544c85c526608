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

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use wsproto::blocking::{Error, accept};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || {
                    if let Err(e) = serve(stream) {
                        eprintln!("connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    Ok(())
}

fn serve(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = accept(stream)?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.send(message)?,
            // Pings and the peer's Close are answered inside `read`.
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
