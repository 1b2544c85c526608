//! The sans-IO contract by hand: a client whose every byte of I/O is in
//! this file. The core ([`ClientRequest`], [`Connection`]) never touches a
//! socket or a clock; we read into `receive_data`, hand it the time with
//! `handle_timeout`, take events with `poll_event`, write what
//! `transmit_slices` lends (then `advance_transmit`), take the shutdown
//! from `poll_transmit`, and stop at `is_finished`.
//!
//! ```text
//! cargo run --example sans_io                             # against its own echo thread
//! cargo run --example sans_io -- ws://127.0.0.1:9001/     # against echo_server
//! ```

use std::error::Error;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use wsproto::handshake::{ClientRequest, WsUrl};
use wsproto::{Config, Connection, Message, Parsed, Role, Transmit};

fn main() -> Result<(), Box<dyn Error>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => spawn_echo_server()?,
    };

    // 1. The opening handshake: the core writes the request and checks
    //    the response; we move the bytes.
    let target = WsUrl::parse(&url)?;
    let mut stream = TcpStream::connect((target.host(), target.port()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (request, mut handshake) = ClientRequest::from_url(&url)?.build()?;
    stream.write_all(&request)?;
    let mut head = Vec::new();
    let mut buf = vec![0; 16 << 10];
    let used = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err("server closed during the handshake".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Parsed::Complete((_established, used)) = handshake.parse_response(&head)? {
            break used;
        }
    };
    let mut conn = Connection::new(Role::Client, Config::default());
    // Frames that arrived with the response belong to the connection.
    conn.receive_data(&head[used..])?;
    println!("connected to {url}");

    // 2. Commands only queue bytes; nothing is sent until we write them.
    conn.send_text("hello, sans-io")?;

    // 3. The loop: events out, bytes out, wait for bytes or a deadline.
    loop {
        conn.handle_timeout(Instant::now());
        while let Some(event) = conn.poll_event() {
            match event {
                Message::Text(text) => {
                    println!("received: {text}");
                    conn.close(1000, "done")?; // one echo is enough
                }
                Message::Close(frame) => println!("peer closed: {}", frame.code),
                other => println!("event: {other:?}"),
            }
        }
        // Write what waits, borrowed from the core; say how much went out.
        loop {
            let mut slices = [IoSlice::new(&[]); 16];
            let n = conn.transmit_slices(&mut slices);
            if n == 0 {
                break;
            }
            let written = stream.write_vectored(&slices[..n])?;
            conn.advance_transmit(written);
        }
        // With nothing waiting, this yields only the shutdown: the core
        // says when to close TCP (the server goes first).
        while let Some(transmit) = conn.poll_transmit() {
            match transmit {
                Transmit::Data(bytes) => stream.write_all(&bytes)?,
                Transmit::Shutdown => drop(stream.shutdown(Shutdown::Write)),
            }
        }
        if conn.is_finished() {
            println!("finished: {:?}", conn.close_frame());
            return Ok(());
        }
        // Sleep until bytes arrive or the core's next deadline (the close
        // timeout here); zero would mean "forever" to the socket.
        let wait = conn.poll_timeout().map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            Ok(0) => conn.receive_eof(),
            // A violation is sticky: its Close is queued and sent above.
            Ok(n) => drop(conn.receive_data(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// An echo server for one connection, on the blocking adapter, so that the
/// example runs on its own.
fn spawn_echo_server() -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    std::thread::spawn(move || -> Result<(), wsproto::blocking::Error> {
        let mut ws = wsproto::blocking::accept(listener.accept()?.0)?;
        loop {
            let message = ws.read()?;
            if message.is_data() {
                ws.send(message)?;
            }
        }
    });
    Ok(url)
}
