//! A client and a server in one process, no sockets: the opening handshake,
//! then two `Connection`s exchanging messages, a ping and the closing
//! handshake, all by hand through the sans-IO core. Every byte that crosses
//! the "wire" is printed.
//!
//! Run with `cargo run --example in_memory`.

use std::io::IoSlice;
use std::time::Instant;
use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser};
use wsproto::{Config, Connection, Message, Parsed, Role, Transmit};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Client: the upgrade request for a URL, with a fresh random key.
    let (request, mut handshake) = ClientRequest::from_url("ws://localhost:9001/chat")?
        .protocol("chat")
        .build()?;
    print!("client -> server\n{}", String::from_utf8_lossy(&request));

    // Server: parse as bytes arrive (here one byte at a time), then accept.
    let mut parser = RequestParser::default();
    let mut upgrade = None;
    for end in 1..=request.len() {
        if let Parsed::Complete((found, _used)) = parser.parse(&request[..end])? {
            upgrade = Some(found);
            break;
        }
    }
    let upgrade = upgrade.ok_or("request head never completed")?;
    let accepted = upgrade.accept(AcceptOptions::new().protocol("chat"))?;
    print!(
        "server -> client\n{}",
        String::from_utf8_lossy(accepted.response())
    );

    // Client: check the 101 response, including Sec-WebSocket-Accept.
    let Parsed::Complete((established, _)) = handshake.parse_response(accepted.response())? else {
        return Err("response head incomplete".into());
    };
    println!("agreed on subprotocol {:?}\n", established.protocol());

    // After the handshake: one Connection per end.
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());

    client.send_text("Hello")?;
    client.send_ping(b"are you there?")?;
    pump("client -> server", &mut client, &mut server)?;
    while let Some(event) = server.poll_event() {
        println!("server got {event:?}");
        if let Message::Text(text) = event {
            server.send_text(text)?; // echo; the Pong is already queued
        }
    }
    pump("server -> client", &mut server, &mut client)?;
    while let Some(event) = client.poll_event() {
        println!("client got {event:?}");
    }

    // Closing handshake: the client closes, the server echoes and shuts
    // down TCP first (RFC 6455 §7.1.1).
    client.close(1000u16, "bye")?;
    pump("client -> server", &mut client, &mut server)?;
    pump("server -> client", &mut server, &mut client)?;
    client.receive_eof(); // the server's TCP close
    client.handle_timeout(Instant::now());
    pump("client -> server", &mut client, &mut server)?;
    println!("client closed with {:?}", client.close_frame());
    println!("server closed with {:?}", server.close_frame());
    assert!(client.is_finished() && server.is_finished());
    Ok(())
}

/// Moves everything `from` wants to send into `to`, printing the bytes.
fn pump(
    label: &str,
    from: &mut Connection,
    to: &mut Connection,
) -> Result<(), wsproto::ProtocolError> {
    from.handle_timeout(Instant::now());
    // The bytes waiting, borrowed (what a driver passes to a vectored
    // write); then how many "went out": all of them here.
    loop {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = from.transmit_slices(&mut slices);
        if n == 0 {
            break;
        }
        let mut written = 0;
        for slice in &slices[..n] {
            println!("{label} {:02x?}", &slice[..]);
            to.receive_data(slice)?;
            written += slice.len();
        }
        from.advance_transmit(written);
    }
    // Nothing waits any more: only the shutdown, once owed.
    while let Some(transmit) = from.poll_transmit() {
        match transmit {
            Transmit::Data(bytes) => to.receive_data(&bytes)?,
            Transmit::Shutdown => println!("{label} (shutdown of the write half)"),
        }
    }
    to.handle_timeout(Instant::now());
    Ok(())
}
