//! Helpers shared by the blocking adapter tests: real sockets on
//! 127.0.0.1, port 0, one thread per peer.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};

use wsproto::blocking::{Error, Message, Stream, WebSocket};

/// Binds 127.0.0.1:0 and runs `f` on the first accepted connection in a
/// thread.
pub fn serve_one<R, F>(f: F) -> (SocketAddr, JoinHandle<R>)
where
    R: Send + 'static,
    F: FnOnce(TcpStream) -> R + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        f(stream)
    });
    (addr, handle)
}

pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// Echoes data messages until the connection ends; returns how it ended
/// and how many messages were echoed.
pub fn echo<S: Stream>(ws: &mut WebSocket<S>) -> (Error, usize) {
    let mut count = 0;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => {
                ws.send(message).unwrap();
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
