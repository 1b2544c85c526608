//! The core's deadlines over real sockets: close timeout and keepalive
//! against a peer that stalls, for a whole and a split connection.

#![cfg(feature = "blocking")]

use crate::support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::blocking::*;
use support::timing::{assert_between, assert_timed};
use wsproto::blocking::{ClientBuilder, Error, Message, ServerBuilder, accept};
use wsproto::{CloseCode, Config};

const SHORT: Duration = Duration::from_millis(200);

fn config_with_close_timeout(timeout: Duration) -> Config {
    let mut config = Config::default();
    config.close_timeout = timeout;
    config
}

/// A server that completes the handshake, then neither reads nor writes
/// until told to go.
fn stalling_server() -> (
    std::net::SocketAddr,
    mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (go, wait) = mpsc::channel::<()>();
    let (addr, server) = serve_one(move |tcp| {
        let ws = accept(tcp).unwrap();
        let _ = wait.recv();
        drop(ws);
    });
    (addr, go, server)
}

#[test]
fn close_timeout_drops_a_peer_that_never_answers() {
    let (addr, go, server) = stalling_server();
    let (mut ws, _) = ClientBuilder::new(url(addr))
        .config(config_with_close_timeout(SHORT))
        .connect()
        .unwrap();
    let started = Instant::now();
    ws.close(CloseCode::NORMAL, "").unwrap();
    let end = ws.read().unwrap_err();
    assert_timed(started.elapsed(), SHORT);
    assert!(matches!(end, Error::CloseTimeout), "{end:?}");
    assert_eq!(end.close_code(), Some(CloseCode::ABNORMAL));
    assert!(matches!(ws.read(), Err(Error::CloseTimeout)));
    go.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn close_timeout_through_split_halves() {
    let (addr, go, server) = stalling_server();
    let (ws, _) = ClientBuilder::new(url(addr))
        .config(config_with_close_timeout(SHORT))
        .connect()
        .unwrap();
    let (mut reader, writer) = ws.into_split().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let reading = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        reader.read()
    });
    // The reader is (about to be) blocked with no deadline when the Close
    // goes out; it must still notice the close timeout.
    started_rx.recv().unwrap();
    let started = Instant::now();
    writer.close(CloseCode::NORMAL, "").unwrap();
    let end = reading.join().unwrap().unwrap_err();
    // Documented bound: 1.5 × the close timeout, plus scheduling slack.
    assert_timed(started.elapsed(), SHORT);
    assert!(matches!(end, Error::CloseTimeout), "{end:?}");
    go.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn keepalive_fails_a_silent_peer_with_1011() {
    let (addr, go, server) = stalling_server();
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_millis(100));
    config.pong_timeout = SHORT;
    config.close_timeout = SHORT;
    let (mut ws, _) = ClientBuilder::new(url(addr))
        .config(config)
        .connect()
        .unwrap();
    let started = Instant::now();
    let end = ws.read().unwrap_err();
    assert_between(
        started.elapsed(),
        Duration::from_millis(100) + SHORT,
        Duration::from_secs(3),
    );
    assert!(matches!(end, Error::KeepaliveTimeout), "{end:?}");
    assert!(end.is_fatal());
    assert_eq!(end.close_code(), Some(CloseCode::INTERNAL_ERROR));
    // Every later read says the same, and the connection keeps the frame
    // it sent, reason included.
    assert!(matches!(ws.read(), Err(Error::KeepaliveTimeout)));
    let frame = ws.connection().close_frame().unwrap();
    assert_eq!(frame.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(
        frame.reason,
        "no traffic from the peer within the pong timeout"
    );
    go.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn keepalive_timeout_through_split_halves() {
    let (addr, go, server) = stalling_server();
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_millis(100));
    config.pong_timeout = SHORT;
    config.close_timeout = SHORT;
    let (ws, _) = ClientBuilder::new(url(addr))
        .config(config)
        .connect()
        .unwrap();
    let (mut reader, writer) = ws.into_split().unwrap();
    let end = reader.read().unwrap_err();
    assert!(matches!(end, Error::KeepaliveTimeout), "{end:?}");
    assert_eq!(end.close_code(), Some(CloseCode::INTERNAL_ERROR));
    assert!(matches!(writer.send("late"), Err(Error::KeepaliveTimeout)));
    go.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn keepalive_pings_are_answered_by_a_reading_peer() {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_millis(50));
    let (addr, server) = serve_one(move |tcp| {
        // No keepalive of its own: the first thing it reads is the
        // client's Ping.
        let mut ws = ServerBuilder::new().accept(tcp).unwrap();
        // The client's keepalive Ping arrives, and is answered, while the
        // server's application sends nothing.
        let first = ws.read().unwrap();
        ws.send("done").unwrap();
        (first, drain(&mut ws))
    });
    let (mut ws, _) = ClientBuilder::new(url(addr))
        .config(config)
        .connect()
        .unwrap();
    // The client reads through its own keepalive exchange.
    let mut pongs = 0;
    loop {
        match ws.read().unwrap() {
            Message::Pong(_) => pongs += 1,
            Message::Text(t) if t == "done" => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(pongs >= 1);
    ws.close(1000, "").unwrap();
    assert!(drain(&mut ws).1.is_closed());
    let (first, (_, end)) = server.join().unwrap();
    assert!(matches!(first, Message::Ping(_)), "{first:?}");
    assert!(end.is_closed());
}
