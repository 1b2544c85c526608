//! A read the caller can bound: `read_timeout` returns `Ok(None)` when
//! nothing arrived in time and loses nothing of a message that was half
//! there; on a non-blocking socket `read` returns `WouldBlock` (not fatal)
//! instead of spinning. Unsplit and split.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::blocking::*;
use support::wire::{TEXT, frame};
use wsproto::blocking::{ClientBuilder, Error, Message, accept};

/// The masked client frame for a text message.
fn masked_text(text: &str) -> Vec<u8> {
    frame(TEXT, text.as_bytes(), Some([1, 2, 3, 4]))
}

/// A server connection and the raw client socket under an upgraded
/// client connection, so the test can write frame bytes one at a time.
fn server_and_raw_client() -> (wsproto::blocking::WebSocket<TcpStream>, TcpStream) {
    let (addr, server) = serve_one(|tcp| accept(tcp).unwrap());
    let (client, _) = ClientBuilder::new(url(addr)).connect().unwrap();
    let server = server.join().unwrap();
    let raw = match client.into_inner() {
        wsproto::blocking::MaybeTlsStream::Plain(tcp) => tcp,
        _ => unreachable!("ws:// is plain"),
    };
    (server, raw)
}

const WAIT: Duration = Duration::from_millis(100);

#[test]
fn read_timeout_returns_none_in_time_and_loses_no_partial_message() {
    for split in [false, true] {
        let (server, mut raw) = server_and_raw_client();
        let mut read: Box<dyn FnMut(Duration) -> Result<Option<Message>, Error>> = if split {
            let (mut reader, writer) = server.into_split().unwrap();
            Box::new(move |t| {
                let _ = &writer;
                reader.read_timeout(t)
            })
        } else {
            let mut server = server;
            Box::new(move |t| server.read_timeout(t))
        };
        // Nothing sent: None after the bound, not much later.
        let started = Instant::now();
        assert_eq!(read(WAIT).unwrap(), None, "split {split}");
        let elapsed = started.elapsed();
        assert!(elapsed >= WAIT, "split {split}: early {elapsed:?}");
        assert!(elapsed < WAIT * 20, "split {split}: late {elapsed:?}");
        // A message arriving a byte at a time, with timeouts in between:
        // it arrives whole, once.
        let frame = masked_text("hello, bounded reads");
        let mut got = Vec::new();
        for byte in &frame {
            raw.write_all(std::slice::from_ref(byte)).unwrap();
            if let Some(message) = read(Duration::from_millis(5)).unwrap() {
                got.push(message);
            }
        }
        while got.is_empty() {
            got.extend(read(WAIT).unwrap());
        }
        assert_eq!(
            got,
            [Message::text("hello, bounded reads")],
            "split {split}"
        );
        assert_eq!(read(Duration::from_millis(10)).unwrap(), None);
    }
}

#[test]
fn a_non_blocking_socket_gives_would_block_instead_of_spinning() {
    let (mut server, mut raw) = server_and_raw_client();
    server.get_mut().set_nonblocking(true).unwrap();
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let first = server.read();
        let _ = done.send(first);
        // Now poll until the message comes.
        loop {
            match server.read() {
                Ok(message) => {
                    let _ = done.send(Ok(message));
                    return;
                }
                Err(e) if !e.is_fatal() => thread::sleep(Duration::from_millis(1)),
                Err(e) => {
                    let _ = done.send(Err(e));
                    return;
                }
            }
        }
    });
    let first = result
        .recv_timeout(Duration::from_secs(5))
        .expect("read() spun on a non-blocking socket");
    match first {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        other => panic!("expected WouldBlock, got {other:?}"),
    }
    raw.write_all(&masked_text("later")).unwrap();
    let message = result
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(message, Message::text("later"));
}
