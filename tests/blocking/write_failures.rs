//! A write that fails or times out ends the connection for good, in the
//! unsplit socket and in the split writer: a frame may be half on the
//! wire, so a retry would send it with bytes missing or doubled. Also: a
//! split writer closing to a peer that does not read gives up within the
//! close timeout even with no write timeout set.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::blocking::*;
use wsproto::blocking::{ClientBuilder, Error, Message, ServerBuilder, Stream, WebSocket};
use wsproto::{CloseCode, Config, Role};

/// A stream that takes `budget` bytes, then fails every write with `kind`,
/// and records what it took; reads give `input`, then the end of stream.
struct Faulty {
    input: std::io::Cursor<Vec<u8>>,
    budget: usize,
    kind: io::ErrorKind,
    written: Vec<u8>,
    writes_after_failure: usize,
    failed: bool,
}

impl Faulty {
    fn new(budget: usize, kind: io::ErrorKind) -> Faulty {
        Faulty {
            input: std::io::Cursor::new(Vec::new()),
            budget,
            kind,
            written: Vec::new(),
            writes_after_failure: 0,
            failed: false,
        }
    }
}

impl Read for Faulty {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Faulty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            self.writes_after_failure += 1;
        }
        let n = buf.len().min(self.budget - self.written.len());
        if n == 0 && !buf.is_empty() {
            self.failed = true;
            return Err(self.kind.into());
        }
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Faulty {}

/// The server frame for an unmasked binary message of `len` (< 64 KiB)
/// bytes.
fn binary_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x82, 126];
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn a_write_that_times_out_mid_frame_ends_the_connection() {
    for kind in [
        io::ErrorKind::TimedOut,
        io::ErrorKind::WouldBlock,
        io::ErrorKind::BrokenPipe,
    ] {
        let data = payload(1000, 7);
        let mut ws =
            WebSocket::from_stream(Faulty::new(300, kind), Role::Server, Config::default(), &[]);
        let error = ws.send(Message::binary(data.clone())).unwrap_err();
        assert!(matches!(error, Error::Io(_)), "{kind:?}: {error:?}");
        assert!(error.is_fatal(), "{kind:?}: {error:?}");
        // A retry does not resend the frame from the middle: nothing more
        // is written, and the connection reports that it is lost.
        let again = ws.send(Message::binary(data.clone())).unwrap_err();
        assert!(
            matches!(again, Error::ConnectionLost),
            "{kind:?}: {again:?}"
        );
        assert!(matches!(ws.flush(), Err(Error::ConnectionLost)));
        assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
        assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
        assert_eq!(ws.get_ref().writes_after_failure, 0, "{kind:?}");
        assert_eq!(ws.get_ref().written, binary_frame(&data)[..300], "{kind:?}");
    }
}

/// A server whose writes time out after `write_timeout`, with a client
/// that completes the handshake and then does not read until told.
fn server_against_a_client_that_does_not_read(
    server: ServerBuilder,
    run: impl FnOnce(WebSocket<std::net::TcpStream>) + Send + 'static,
) {
    let (addr, server) = serve_one(move |tcp| {
        let ws = server.accept(tcp).unwrap();
        run(ws);
    });
    let (ws, _) = ClientBuilder::new(url(addr)).connect().unwrap();
    server.join().unwrap();
    drop(ws);
}

fn write_timeout(timeout: Option<Duration>) -> ServerBuilder {
    let config = Config::default().close_timeout(Duration::from_millis(300));
    ServerBuilder::new().config(config).write_timeout(timeout)
}

const BIG: usize = 64 << 20;

#[test]
fn a_write_timeout_is_fatal_on_the_unsplit_socket() {
    server_against_a_client_that_does_not_read(
        write_timeout(Some(Duration::from_millis(100))),
        |mut ws| {
            let error = ws.send(Message::binary(vec![1; BIG])).unwrap_err();
            assert!(error.is_fatal(), "{error:?}");
            assert!(matches!(ws.send("after"), Err(Error::ConnectionLost)));
            assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
        },
    );
}

#[test]
fn a_write_timeout_is_fatal_for_the_split_writer_and_its_reader() {
    server_against_a_client_that_does_not_read(
        write_timeout(Some(Duration::from_millis(100))),
        |ws| {
            let (mut reader, writer) = ws.into_split().unwrap();
            let error = writer.send(Message::binary(vec![1; BIG])).unwrap_err();
            assert!(error.is_fatal(), "{error:?}");
            assert!(matches!(writer.send("after"), Err(Error::ConnectionLost)));
            assert!(matches!(writer.flush(), Err(Error::ConnectionLost)));
            // The reader learns of it at its next wake-up.
            assert!(matches!(reader.read(), Err(Error::ConnectionLost)));
        },
    );
}

/// Runs `f` in a thread and fails (instead of hanging) if it takes longer
/// than `limit`.
fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(limit)
        .expect("still blocked: the close timeout did not bound the write")
}

#[test]
fn closing_to_a_peer_that_does_not_read_is_bounded_by_the_close_timeout() {
    for split in [false, true] {
        // No write timeout: only the close timeout can end the write.
        server_against_a_client_that_does_not_read(write_timeout(None), move |ws| {
            within(Duration::from_secs(10), move || {
                let started = Instant::now();
                let result = if split {
                    let (_reader, writer) = ws.into_split().unwrap();
                    writer.feed(Message::binary(vec![1; BIG])).unwrap();
                    writer.close(CloseCode::NORMAL, "")
                } else {
                    let mut ws = ws;
                    ws.feed(Message::binary(vec![1; BIG])).unwrap();
                    ws.close(CloseCode::NORMAL, "")
                };
                let error = result.unwrap_err();
                assert!(error.is_fatal(), "split {split}: {error:?}");
                let elapsed = started.elapsed();
                assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
            });
        });
    }
}

/// Messages that arrived whole are returned even when writing the Pong
/// owed for one fails; the failure ends the connection, the read after
/// them reports the write error, and later ones `ConnectionLost`.
#[test]
fn a_failed_pong_write_loses_no_received_message() {
    let mut stream = Faulty::new(0, io::ErrorKind::BrokenPipe);
    // A masked client Ping "hi", then a masked text "yo".
    let mask = [9u8, 8, 7, 6];
    for (opcode, payload) in [(0x89u8, b"hi"), (0x81, b"yo")] {
        stream.input.get_mut().extend([opcode, 0x80 | 2]);
        stream.input.get_mut().extend(mask);
        stream
            .input
            .get_mut()
            .extend(payload.iter().zip(mask).map(|(b, m)| b ^ m));
    }
    let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default(), &[]);
    assert_eq!(
        ws.read().unwrap(),
        Message::Ping(bytes::Bytes::from_static(b"hi"))
    );
    assert_eq!(ws.read().unwrap(), Message::text("yo"));
    match ws.read() {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("expected the write error, got {other:?}"),
    }
    assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
    assert!(ws.get_ref().written.is_empty());
}
