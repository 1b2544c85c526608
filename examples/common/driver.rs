//! The sans-IO contract, driven by hand over a blocking `TcpStream`: a
//! teaching example of what an adapter does, not the code users run (that
//! is `wsproto::blocking`, which the Autobahn testees and the interop
//! client use). It runs only behind `--adapter sans-io` of the Autobahn
//! testees, to test the core without an adapter.
//!
//! The core does no I/O and reads no clock; this file is the whole I/O loop
//! (see the driving loop on [`Connection`]): read into `receive_data`, tell
//! the time with `handle_timeout`, drain `poll_event`, write what
//! `transmit_slices` lends (reporting it with `advance_transmit`), take the
//! shutdown from `poll_transmit`, sleep until readable or until
//! `poll_timeout`, and stop at `is_finished`. Every protocol decision
//! (pongs, close echo, who closes TCP first, limits) stays in the core.
//!
//! Writing: `transmit_slices` + `advance_transmit` is the cheap path (no
//! `Bytes` split off per call, and a short write leaves the rest in the
//! core); `poll_transmit` is called only once nothing waits, so all it
//! can yield is the shutdown.

// Each example that includes this file uses part of it.
#![allow(dead_code)]

use std::error::Error;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser, WsUrl};
use wsproto::{Config, Connection, Message, Parsed, Role, Transmit};

/// What to offer or accept of permessage-deflate (nothing without the
/// `deflate` feature).
#[cfg(feature = "deflate")]
pub type Deflate = Option<wsproto::deflate::DeflateConfig>;
/// What to offer or accept of permessage-deflate (nothing without the
/// `deflate` feature).
#[cfg(not(feature = "deflate"))]
pub type Deflate = ();

/// How long the opening handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Server: reads the upgrade request and answers it; bytes after the head
/// go to the connection.
#[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
pub fn accept(
    stream: &mut TcpStream,
    config: Config,
    deflate: Deflate,
) -> Result<Connection, Box<dyn Error>> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut parser = RequestParser::default();
    let mut buf = Vec::new();
    let (request, used) = loop {
        read_more(stream, &mut buf)?;
        match parser.parse(&buf) {
            Ok(Parsed::Complete(done)) => break done,
            Ok(Parsed::Partial) => {}
            Err(refused) => {
                stream.write_all(&refused.response())?;
                return Err(refused.into());
            }
        }
    };
    #[allow(unused_mut)]
    let mut accept = AcceptOptions::new();
    // permessage-deflate when the configuration asks for it.
    #[cfg(feature = "deflate")]
    if let Some(deflate) = deflate {
        accept = accept.deflate(deflate);
    }
    let accepted = request.accept(accept)?;
    stream.write_all(accepted.response())?;
    #[allow(unused_mut)]
    let mut conn = Connection::new(Role::Server, config);
    #[cfg(feature = "deflate")]
    if let Some(params) = accepted.deflate() {
        conn.set_deflate(params);
    }
    // A violation here is sticky and its Close is queued: `run` sends it.
    let _ = conn.receive_data(&buf[used..]);
    Ok(conn)
}

/// Client: connects to a `ws://` URL and completes the opening handshake.
#[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
pub fn connect(
    url: &str,
    config: Config,
    deflate: Deflate,
) -> Result<(TcpStream, Connection), Box<dyn Error>> {
    let target = WsUrl::parse(url)?;
    let mut stream = TcpStream::connect((target.host(), target.port()))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    #[allow(unused_mut)]
    let mut request = ClientRequest::from_url(url)?;
    #[cfg(feature = "deflate")]
    if let Some(deflate) = deflate {
        request = request.deflate(deflate);
    }
    let (request, mut handshake) = request.build()?;
    stream.write_all(&request)?;
    let mut buf = Vec::new();
    let (established, used) = loop {
        read_more(&mut stream, &mut buf)?;
        if let Parsed::Complete(done) = handshake.parse_response(&buf)? {
            break done;
        }
    };
    #[allow(unused_mut)]
    let mut conn = Connection::new(Role::Client, config);
    #[cfg(feature = "deflate")]
    if let Some(params) = established.deflate() {
        conn.set_deflate(params);
    }
    let _ = established;
    let _ = conn.receive_data(&buf[used..]);
    Ok((stream, conn))
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0; 4096];
    match stream.read(&mut chunk)? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// Runs the connection to its end, handing each event to `on_event`, which
/// may issue commands (`send_text`, `close`, ...).
pub fn run(
    stream: &mut TcpStream,
    conn: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Message),
) -> io::Result<()> {
    let mut buf = vec![0; 64 << 10];
    loop {
        conn.handle_timeout(Instant::now());
        while let Some(event) = conn.poll_event() {
            on_event(conn, event);
            if conn.buffered_amount() >= 64 << 10 {
                flush(stream, conn)?; // keep big echoes under the write cap
            }
        }
        conn.handle_timeout(Instant::now()); // commands may have armed a timer
        flush(stream, conn)?;
        if conn.is_finished() {
            return Ok(());
        }
        let wait = conn.poll_timeout().map(|at| {
            let left = at.saturating_duration_since(Instant::now());
            left.max(Duration::from_millis(1)) // zero means "block forever"
        });
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            Ok(0) => conn.receive_eof(),
            // A reset is an end of stream too, an abrupt one: the core
            // decides whether the closing handshake had completed.
            Err(e) if is_reset(&e) => conn.receive_eof(),
            // A violation is sticky and its Close is queued: keep looping
            // so that it is sent and the connection winds down.
            Ok(n) => drop(conn.receive_data(&buf[..n])),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes everything the connection has to send (vectored, so a frame
/// header and its payload leave in one call, and borrowed from the core:
/// nothing is copied or reference-counted), then the shutdown if owed.
fn flush(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<()> {
    loop {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = conn.transmit_slices(&mut slices);
        if n == 0 {
            break;
        }
        let written = stream.write_vectored(&slices[..n])?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        conn.advance_transmit(written);
    }
    // Nothing waits now, so this yields only the shutdown, once owed.
    while let Some(transmit) = conn.poll_transmit() {
        match transmit {
            Transmit::Data(bytes) => stream.write_all(&bytes)?,
            // The peer may have gone already; nothing is lost then.
            Transmit::Shutdown => drop(stream.shutdown(Shutdown::Write)),
        }
    }
    Ok(())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Echoes data messages; pings, pongs and closes are the core's business.
pub fn echo(conn: &mut Connection, event: Message) {
    let sent = match event {
        Message::Text(text) => conn.send_text(text),
        Message::Binary(data) => conn.send_binary(data),
        _ => Ok(()),
    };
    if let Err(e) = sent {
        eprintln!("echo: {e}");
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}
