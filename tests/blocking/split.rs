//! Split halves under concurrent load: thousands of messages both ways at
//! once from separate threads, none lost or reordered, Pings answered by
//! the reader while the writer is busy.

#![cfg(feature = "blocking")]

use crate::support;

use std::sync::mpsc;

use support::blocking::*;
use wsproto::blocking::{Error, Message, accept, connect};
use wsproto::{CloseCode, State};

#[test]
fn thousands_of_messages_both_ways_at_once() {
    let (server_tx, server_rx) = mpsc::channel();
    let (addr, server) = serve_one(move |tcp| server_tx.send(accept(tcp).unwrap()).unwrap());
    let (client, _) = connect(&url(addr)).unwrap();
    server.join().unwrap();
    let server_ws = server_rx.recv().unwrap();
    let n = 5000;
    let (client_report, server_report, pings) = concurrent_load(client, server_ws, n);
    assert_eq!(client_report.received, n);
    assert_eq!(server_report.received, n);
    // Every Ping the server sent while the client's writer was busy got its
    // Pong, the last one included.
    assert_eq!(server_report.pongs, pings);
    assert_eq!(
        server_report.last_pong.as_deref(),
        Some(&(((pings - 1) * 100).to_be_bytes())[..])
    );
    assert!(client_report.end.is_closed(), "{:?}", client_report.end);
    assert!(server_report.end.is_closed(), "{:?}", server_report.end);
}

#[test]
fn the_writer_sends_while_the_reader_is_blocked() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        let first = ws.read().unwrap();
        ws.send("reply").unwrap();
        (first, drain(&mut ws))
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    let (mut reader, writer) = ws.into_split().unwrap();
    assert_eq!(reader.protocol(), None);
    let (got_reply, reply_seen) = mpsc::channel();
    let reading = std::thread::spawn(move || {
        // Blocks until the server answers the writer's message.
        got_reply.send(reader.read().unwrap()).unwrap();
        let close = reader.read().unwrap();
        (
            close,
            reader.read().unwrap_err(),
            reader.read().unwrap_err(),
        )
    });
    // The reader is blocked with nothing to read; the writer is not held up.
    writer.send("hello").unwrap();
    assert_eq!(reply_seen.recv().unwrap(), Message::text("reply"));
    writer.close(CloseCode::NORMAL, "").unwrap();
    let (close, end, again) = reading.join().unwrap();
    assert!(matches!(close, Message::Close(f) if f.code == CloseCode::NORMAL));
    assert!(end.is_closed() && again.is_closed());
    let (first, (seen, server_end)) = server.join().unwrap();
    assert_eq!(first, Message::text("hello"));
    assert!(matches!(&seen[..], [Message::Close(_)]));
    assert!(server_end.is_closed());
}

#[test]
fn a_server_close_reaches_both_halves() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        ws.close(CloseCode::GOING_AWAY, "shutdown").unwrap();
        drain(&mut ws).1
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    let (mut reader, writer) = ws.into_split().unwrap();
    match reader.read().unwrap() {
        Message::Close(frame) => assert_eq!(frame.code, CloseCode::GOING_AWAY),
        other => panic!("{other:?}"),
    }
    assert!(reader.read().unwrap_err().is_closed());
    assert_eq!(writer.state(), State::Closed);
    assert!(matches!(writer.send("late"), Err(Error::ConnectionClosed)));
    assert!(server.join().unwrap().is_closed());
}
