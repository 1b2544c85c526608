//! Building and sending messages from borrowed data with the blocking API:
//! `send_ping`, `Message::ping`/`pong`, `Message::binary`/`text` from
//! slices and borrowed strings, byte for byte on an in-memory stream (a
//! server, so frames are unmasked), and Pings from a split writer over a
//! socket.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{self, Read, Write};

use support::blocking::*;
use wsproto::blocking::{Error, Message, Stream, WebSocket, accept, connect};
use wsproto::{Bytes, Config, Role, UsageError};

/// A stream with nothing to read that keeps what is written.
#[derive(Default)]
struct Recorder {
    written: Vec<u8>,
}

impl Read for Recorder {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Recorder {}

fn server() -> WebSocket<Recorder> {
    WebSocket::from_stream(Recorder::default(), Role::Server, Config::default(), &[])
}

/// Takes what the server wrote so far.
fn written(ws: &mut WebSocket<Recorder>) -> Vec<u8> {
    std::mem::take(&mut ws.get_mut().written)
}

// RFC 6455 §5.5.2: "The Ping frame contains an opcode of 0x9." §5.5.3:
// "The Pong frame contains an opcode of 0xA."
#[test]
fn pings_and_pongs_from_borrowed_data() {
    let mut ws = server();
    let label = String::from("hello");
    ws.send_ping(&label).unwrap();
    assert_eq!(written(&mut ws), [0x89, 5, b'h', b'e', b'l', b'l', b'o']);
    ws.send(Message::ping(&label[..3])).unwrap();
    assert_eq!(written(&mut ws), [0x89, 3, b'h', b'e', b'l']);
    ws.send_ping([]).unwrap();
    assert_eq!(written(&mut ws), [0x89, 0]);
    ws.send(Message::pong(b"ok")).unwrap();
    assert_eq!(written(&mut ws), [0x8a, 2, b'o', b'k']);
}

// RFC 6455 §5.5: "All control frames MUST have a payload length of 125
// bytes or less".
#[test]
fn an_oversized_ping_is_refused_when_sent() {
    let mut ws = server();
    let long = vec![7u8; 126];
    for result in [
        ws.send_ping(&long),
        ws.send(Message::ping(&long)),
        ws.send(Message::pong(&long)),
    ] {
        match result {
            Err(Error::Usage(UsageError::ControlPayloadTooLong(126))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(written(&mut ws), []);
    // Refused, not fatal: the largest legal one goes out.
    ws.send_ping(&long[..125]).unwrap();
    let out = written(&mut ws);
    assert_eq!(out[..2], [0x89, 125]);
    assert_eq!(out[2..], long[..125]);
}

#[test]
fn data_messages_from_borrowed_data() {
    let mut ws = server();
    let buf = vec![1u8, 2, 3, 4];
    ws.send(Message::binary(&buf[1..3])).unwrap();
    assert_eq!(written(&mut ws), [0x82, 2, 2, 3]);
    ws.send(Message::binary([9u8, 8])).unwrap();
    assert_eq!(written(&mut ws), [0x82, 2, 9, 8]);
    ws.send(Message::binary(Bytes::from(buf))).unwrap();
    assert_eq!(written(&mut ws), [0x82, 4, 1, 2, 3, 4]);
    let name = String::from("ada");
    ws.send(Message::text(&name)).unwrap();
    assert_eq!(written(&mut ws), [0x81, 3, b'a', b'd', b'a']);
    ws.send(Message::text(&name[1..])).unwrap();
    assert_eq!(written(&mut ws), [0x81, 2, b'd', b'a']);
}

#[test]
fn a_split_writer_pings_and_the_reader_gets_the_pong() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        drain(&mut ws)
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    let (mut reader, writer) = ws.into_split().unwrap();
    let label = format!("ping {}", 1);
    writer.send_ping(&label).unwrap();
    assert_eq!(reader.read().unwrap(), Message::pong("ping 1"));
    assert!(matches!(
        writer.send_ping([0u8; 126]),
        Err(Error::Usage(UsageError::ControlPayloadTooLong(126)))
    ));
    writer.close(1000, "").unwrap();
    while reader.read().is_ok() {}
    let (seen, end) = server.join().unwrap();
    assert_eq!(seen[0], Message::ping(&label));
    assert!(end.is_closed());
}
