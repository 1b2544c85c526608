//! Heap held by the tokio adapter, counted by a global allocator: nothing
//! is allocated while a connection waits in `recv`, the buffers a large
//! message needed are released after it (but for one spare receive buffer
//! per thread, of at most 64 KiB), and receiving small messages in steady
//! state allocates nothing. Figures printed with `--nocapture`.
//!
//! One test in this binary, on a current-thread runtime, so nothing else
//! allocates meanwhile.
#![cfg(feature = "tokio")]

mod support;

use std::task::{Context, Poll, Waker};

use support::alloc::{allocs, live};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use wsproto::tokio::{Message, WebSocket, accept, connect};

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

/// Polls `recv` once with a waker that does nothing: it must be pending.
fn poll_idle<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(ws.poll_recv(&mut cx), Poll::Pending));
}

const PAIRS: usize = 50;

#[tokio::test]
async fn heap_per_connection_idle_after_large_messages_and_per_message() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut clients = Vec::with_capacity(PAIRS);
    let mut servers = Vec::with_capacity(PAIRS);
    for _ in 0..PAIRS {
        let (client, server) = tokio::join!(connect(&url), async {
            accept(listener.accept().await.unwrap().0).await
        });
        clients.push(client.unwrap().0);
        servers.push(server.unwrap());
    }
    let struct_size = std::mem::size_of::<WebSocket<TcpStream>>();

    // Waiting in recv allocates nothing.
    let before = live();
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        poll_idle(client);
        poll_idle(server);
    }
    assert_eq!(live() - before, 0, "waiting in recv allocated");

    // A small echo, then idle again: the stack took the reads; only the
    // small buffers `release_buffers` leaves stay (the event queue, a send
    // arena and receive buffer of a few bytes).
    let before = live();
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        client.send("ping").await.unwrap();
        let message = server.recv().await.unwrap().unwrap();
        server.send(message).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("ping"));
        poll_idle(client);
        poll_idle(server);
    }
    let small = (live() - before) / (2 * PAIRS as isize);

    // One 1 MiB message each way, dropped after reading: its large buffers
    // go.
    let before = live();
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        let (sent, got) = tokio::join!(client.send(vec![7u8; 1 << 20]), server.recv());
        sent.unwrap();
        let message = got.unwrap().unwrap();
        let (sent, got) = tokio::join!(server.send(message), client.recv());
        sent.unwrap();
        assert_eq!(got.unwrap().unwrap().as_bytes().len(), 1 << 20);
        poll_idle(client);
        poll_idle(server);
    }
    let large = (live() - before) / (2 * PAIRS as isize);

    // Steady state: 1,000 small messages, already in the socket, received.
    let (client, server) = (&mut clients[0], &mut servers[0]);
    for i in 0..1_000u32 {
        client
            .feed(Message::binary(&i.to_be_bytes()[..]))
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    tokio::task::yield_now().await;
    let _ = server.recv().await.unwrap().unwrap(); // warm up
    let counted = allocs();
    for i in 1..1_000u32 {
        let message = server.recv().await.unwrap().unwrap();
        assert_eq!(message.as_bytes(), i.to_be_bytes());
    }
    let per_message = (allocs() - counted) as f64 / 999.0;

    // Ping-pong: every message finds the connection idle; its small
    // buffers were kept, so the round trip allocates little.
    let counted = allocs();
    for i in 0..100u32 {
        client
            .send(Message::binary(&i.to_be_bytes()[..]))
            .await
            .unwrap();
        let message = server.recv().await.unwrap().unwrap();
        server.send(message).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap().as_bytes(),
            i.to_be_bytes()
        );
    }
    let per_round_trip = (allocs() - counted) as f64 / 100.0;

    println!(
        "tokio WebSocket<TcpStream>: {struct_size} B struct; heap kept per connection after a small echo {small} B, \
         after 1 MiB each way {large} B; allocations per received small message {per_message:.3} in a stream, \
         {per_round_trip:.1} per ping-pong round trip (both ends)"
    );
    assert!(small <= 512, "a small echo kept {small} B per connection");
    // Beside what each connection keeps, the thread keeps one spare
    // receive buffer of at most 64 KiB (the largest read) for the next
    // connection that reads (src/driver/spare.rs): spread over the
    // connections here, its share.
    let spare_share = (64 << 10) / (2 * PAIRS as isize);
    assert!(
        large <= 512 + spare_share,
        "a 1 MiB message kept {large} B per connection"
    );
    assert!(per_message < 0.01, "{per_message} allocations per message");
    assert!(
        per_round_trip <= 2.0,
        "{per_round_trip} allocations per round trip"
    );
}
