//! The blocking adapter's side of the tests: echo and drain loops,
//! payloads that catch misordered or mixed-up messages, and a load on
//! split halves from four threads.

use std::thread;

use wsproto::blocking::{Error, Message, Stream, WebSocket};

pub use super::net::{serve_one, url};

/// Echoes data messages until the connection ends (or a send fails);
/// returns how it ended and how many messages were echoed.
pub fn echo<S: Stream>(ws: &mut WebSocket<S>) -> (Error, usize) {
    let mut count = 0;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => {
                if let Err(e) = ws.send(message) {
                    return (e, count);
                }
                count += 1;
            }
            Ok(_) => {}
            Err(e) => return (e, count),
        }
    }
}

/// Reads until the end of the connection, returning the data messages
/// seen on the way and the final error.
pub fn drain<S: Stream>(ws: &mut WebSocket<S>) -> (Vec<Message>, Error) {
    let mut seen = Vec::new();
    loop {
        match ws.read() {
            Ok(message) => seen.push(message),
            Err(e) => return (seen, e),
        }
    }
}

/// A payload whose bytes depend on its size and a seed, so misordered or
/// mixed-up messages are caught.
pub fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(len as u32) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Text of `len` bytes with multi-byte characters in it.
pub fn text(len: usize, seed: u32) -> String {
    let mut s = String::with_capacity(len);
    let mut i = seed as usize;
    while s.len() < len {
        let c = ['a', 'é', '€', '𝄞', 'z'][i % 5];
        if s.len() + c.len_utf8() > len {
            s.push('x');
        } else {
            s.push(c);
        }
        i += 1;
    }
    s
}

/// Sizes of the concurrent-load messages: mostly small, every 7th 2 KB,
/// every 50th over 64 KiB (so both directions hit TCP back-pressure).
pub fn load_size(i: u32) -> usize {
    if i % 50 == 0 {
        65_536 + i as usize
    } else if i % 7 == 0 {
        2000
    } else {
        10 + (i % 100) as usize
    }
}

/// What one side of [`concurrent_load`] saw.
#[derive(Debug)]
pub struct LoadReport {
    pub received: u32,
    pub pongs: u32,
    pub last_pong: Option<bytes::Bytes>,
    pub end: Error,
}

/// Reads `expect` data messages checking order and content (seed
/// `seed_base + i`), then the rest until the connection ends.
pub fn read_load<S: wsproto::blocking::SplitStream>(
    reader: &mut wsproto::blocking::WebSocketReader<S>,
    expect: u32,
    seed_base: u32,
) -> LoadReport {
    let mut report = LoadReport {
        received: 0,
        pongs: 0,
        last_pong: None,
        end: Error::ConnectionClosed,
    };
    loop {
        match reader.read() {
            Ok(Message::Binary(data)) => {
                let i = report.received;
                assert!(i < expect, "more messages than sent");
                assert_eq!(
                    data.len(),
                    load_size(i),
                    "message {i}: wrong size (lost or reordered)"
                );
                assert_eq!(data, payload(load_size(i), seed_base + i), "message {i}");
                report.received += 1;
            }
            Ok(Message::Pong(p)) => {
                report.pongs += 1;
                report.last_pong = Some(p);
            }
            Ok(_) => {}
            Err(e) => {
                report.end = e;
                return report;
            }
        }
    }
}

/// Both directions at once, from four threads: each side's writer sends
/// `n` messages (the server's interleaved with Pings) while its reader,
/// another thread, receives the peer's `n`. The client closes once it has
/// everything. Returns (client's report, server's report, pings sent).
pub fn concurrent_load<C, S>(
    client: WebSocket<C>,
    server: WebSocket<S>,
    n: u32,
) -> (LoadReport, LoadReport, u32)
where
    C: wsproto::blocking::SplitStream + Send + 'static,
    C::Reader: Send + 'static,
    C::Writer: Send + 'static,
    S: wsproto::blocking::SplitStream + Send + 'static,
    S::Reader: Send + 'static,
    S::Writer: Send + 'static,
{
    const CLIENT_SEED: u32 = 1_000_000;
    let server_side = thread::spawn(move || {
        let (mut reader, writer) = server.into_split().unwrap();
        let reading = thread::spawn(move || read_load::<S>(&mut reader, n, CLIENT_SEED));
        let mut pings = 0;
        for i in 0..n {
            writer
                .send(Message::binary(payload(load_size(i), i)))
                .unwrap();
            if i % 100 == 0 {
                writer
                    .send(Message::Ping(bytes::Bytes::from(i.to_be_bytes().to_vec())))
                    .unwrap();
                pings += 1;
            }
        }
        (reading.join().unwrap(), pings)
    });
    let (mut reader, writer) = client.into_split().unwrap();
    let writer_for_thread = writer.clone();
    let writing = thread::spawn(move || {
        for i in 0..n {
            writer_for_thread
                .send_binary(payload(load_size(i), CLIENT_SEED + i))
                .unwrap();
        }
    });
    // Read the server's n messages, then close once our own are out.
    let mut received = 0;
    while received < n {
        match reader.read().unwrap() {
            Message::Binary(data) => {
                assert_eq!(
                    data,
                    payload(load_size(received), received),
                    "message {received}"
                );
                received += 1;
            }
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    }
    writing.join().unwrap();
    writer.close(1000, "done").unwrap();
    let rest = read_load::<C>(&mut reader, 0, 0);
    let client_report = LoadReport { received, ..rest };
    let (server_report, pings) = server_side.join().unwrap();
    (client_report, server_report, pings)
}
