//! Heap held per connection, counted by a global allocator: right after
//! the handshake, after a small echo (the receive buffer has been used),
//! and after one 64 KiB message each way. The figures are printed (run
//! with `--nocapture`) and the idle ones asserted against the 8 KiB target.
//!
//! One test in this binary, so nothing else allocates meanwhile.

#![cfg(feature = "blocking")]

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use support::alloc::live;
use support::blocking::*;
use wsproto::blocking::{Message, accept, connect};

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

const PAIRS: usize = 50;
/// Issue 9's target for an idle connection.
const IDLE_TARGET: isize = 8 << 10;

#[test]
fn heap_held_per_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let target = url(addr);
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        for _ in 0..PAIRS {
            let (tcp, _) = listener.accept().unwrap();
            tx.send(accept(tcp).unwrap()).unwrap();
        }
    });
    let before = live();
    let mut clients: Vec<_> = (0..PAIRS).map(|_| connect(&target).unwrap().0).collect();
    server.join().unwrap();
    let mut servers: Vec<_> = rx.iter().collect();
    drop(rx);
    let per_side = |now: isize| (now - before) / (2 * PAIRS as isize);
    let handshake = per_side(live());

    // A small echo: both ends have read once.
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        client.send("ping").unwrap();
        let message = server.read().unwrap();
        server.send(message).unwrap();
        assert_eq!(client.read().unwrap(), Message::text("ping"));
    }
    let small = per_side(live());

    // One 64 KiB message each way, dropped after reading.
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        client.send(payload(64 << 10, 1)).unwrap();
        let message = server.read().unwrap();
        server.send(message).unwrap();
        assert_eq!(client.read().unwrap().as_bytes().len(), 64 << 10);
    }
    let large = per_side(live());

    println!(
        "heap per WebSocket: after handshake {handshake} B, after a small echo {small} B, after 64 KiB each way {large} B"
    );
    assert!(handshake <= IDLE_TARGET, "{handshake}");
    assert!(small <= IDLE_TARGET, "{small}");
    drop((clients, servers));
}
