//! The tokio adapter over real loopback sockets and in-memory pipes: echo
//! of every size, split halves from several tasks, cancel safety.
#![cfg(feature = "tokio")]

use crate::support;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::tokio::{Error, Message, WebSocket};
use wsproto::{Config, Connection, Role, Transmit};

/// A connected pair of WebSockets over loopback TCP, handshake skipped.
async fn tcp_pair(config: Config) -> (WebSocket<TcpStream>, WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.unwrap();
    let server = server.unwrap().0;
    client.set_nodelay(true).unwrap();
    (
        WebSocket::from_stream(client, Role::Client, config.clone(), &[]),
        WebSocket::from_stream(server, Role::Server, config, &[]),
    )
}

/// Echoes data messages until the connection ends.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) -> Result<(), Error> {
    support::tokio_ws::echo(&mut ws).await
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn echoes_messages_from_0_bytes_to_16_mib_in_both_opcodes() {
    let config = Config::default().max_message_size(32 << 20);
    let (mut client, server) = tcp_pair(config).await;
    let server = tokio::spawn(echo(server));
    for len in [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        let data = payload(len, len as u8);
        client.send(Message::binary(&data[..])).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::binary(&data[..])
        );
        let text = "é".repeat(len / 2);
        client.send(Message::text(text.as_str())).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text(text.as_str())
        );
    }
    client.close(1000, "done").await.unwrap();
    match client.recv().await {
        Some(Ok(Message::Close(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert!(client.recv().await.is_none());
    assert!(client.recv().await.is_none());
    server.await.unwrap().unwrap();
}

/// Frames as a client would send them (masked), made by the core.
fn client_frames(messages: &[Message]) -> Vec<u8> {
    let mut conn = Connection::new(Role::Client, Config::default());
    let mut bytes = Vec::new();
    for message in messages {
        match message {
            Message::Text(text) => conn.send_text(text.as_str()).unwrap(),
            Message::Binary(data) => conn.send_binary(&data[..]).unwrap(),
            _ => unreachable!(),
        }
        while let Some(Transmit::Data(chunk)) = conn.poll_transmit() {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

#[tokio::test]
async fn recv_raced_against_a_1_ms_timer_loses_nothing_while_frames_dribble_in() {
    let sizes = [
        0,
        1,
        2,
        7,
        125,
        126,
        127,
        300,
        4_096,
        65_535,
        65_536,
        200_000,
        1 << 20,
    ];
    let mut messages = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        messages.push(Message::binary(&payload(len, i as u8)[..]));
        messages.push(Message::text("ü€".repeat(len / 5).as_str()));
    }
    let wire = client_frames(&messages);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut rest = &wire[..];
        while !rest.is_empty() {
            // One to a few bytes per write; the big frames in slightly
            // larger pieces, or the test takes minutes.
            let most = if rest.len() > 100_000 { 64 } else { 5 };
            let n = (1 + rng.below(most)).min(rest.len());
            tcp.write_all(&rest[..n]).await.unwrap();
            rest = &rest[n..];
            if rng.below(8) == 0 {
                tokio::task::yield_now().await;
            }
        }
        tcp
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let mut server = WebSocket::from_stream(tcp, Role::Server, Config::default(), &[]);
    let mut received = Vec::new();
    let mut cancelled = 0u64;
    while received.len() < messages.len() {
        tokio::select! {
            message = server.recv() => received.push(message.unwrap().unwrap()),
            () = tokio::time::sleep(Duration::from_millis(1)) => cancelled += 1,
        }
    }
    assert!(cancelled > 0, "the timer never won: nothing was tested");
    assert_eq!(received.len(), messages.len());
    for (i, (got, sent)) in received.iter().zip(&messages).enumerate() {
        assert!(got == sent, "message {i} differs");
    }
    drop(peer.await.unwrap());
    // The peer went away without a Close: reported once, then the end.
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::ConnectionLost))
    ));
    assert!(server.recv().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_carry_5000_messages_each_way_from_four_tasks_in_order() {
    let config = Config::default().max_message_size(1 << 20);
    let (client, server) = tcp_pair(config).await;
    let (a, b) = tokio::join!(exchange(client, 0x11), exchange(server, 0x22),);
    assert_eq!(a, 5_000);
    assert_eq!(b, 5_000);
}

const TASKS: usize = 4;
const PER_TASK: usize = 1_250;

/// The message `seq` of writer `task`: its id and number in the first
/// bytes, every 50th longer than 64 KiB.
fn tagged(seed: u8, task: usize, seq: usize) -> Vec<u8> {
    let len = if seq % 50 == 49 {
        70_000 + seq
    } else {
        8 + seq % 100
    };
    let mut data = payload(len, seed ^ task as u8);
    data[..4].copy_from_slice(&(task as u32).to_be_bytes());
    data[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
    data
}

/// Four writer tasks send `PER_TASK` tagged messages each while the reader
/// checks what the peer's writers send: every message once, each task's in
/// order, contents intact (the peer's seed is `seed ^ 0x33`). Returns how
/// many arrived.
async fn exchange<S>(ws: WebSocket<S>, seed: u8) -> usize
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer_seed = seed ^ 0x33;
    let (mut reader, writer) = ws.into_split();
    let writers: Vec<_> = (0..TASKS)
        .map(|task| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for seq in 0..PER_TASK {
                    writer
                        .send(Message::binary(tagged(seed, task, seq)))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut next = [0usize; TASKS];
    let mut count = 0;
    while count < TASKS * PER_TASK {
        let message = reader.recv().await.unwrap().unwrap();
        let Message::Binary(data) = message else {
            panic!("unexpected {message:?}")
        };
        let task = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let seq = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
        assert_eq!(seq, next[task], "task {task} out of order");
        assert!(
            data[..] == tagged(peer_seed, task, seq)[..],
            "task {task} #{seq} corrupted"
        );
        next[task] += 1;
        count += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    writer.close(1000, "").await.unwrap();
    // Both sides close: the peer's Close, then the end.
    loop {
        match reader.recv().await {
            Some(Ok(Message::Close(_))) => {}
            None => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    count
}

#[tokio::test]
async fn a_reader_alone_answers_pings_and_the_close() {
    let (mut client, server) = tcp_pair(Config::default()).await;
    // The server's writer is never polled.
    let (mut reader, _writer) = server.into_split();
    let reading = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = reader.recv().await {
            seen.push(message.unwrap());
        }
        seen
    });
    for label in ["a", "b", "c"] {
        client.send_ping(label).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::pong(label));
    }
    client.close(4000, "bye").await.unwrap();
    match client.recv().await {
        Some(Ok(Message::Close(frame))) => assert_eq!(u16::from(frame.code), 4000),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert!(client.recv().await.is_none());
    let seen = reading.await.unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(matches!(&seen[3], Message::Close(_)));
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;

    use wsproto::tokio::{accept_tls, connect_tls};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn split_halves_carry_5000_messages_each_way_over_tls() {
        let (server_tls, client_tls) = super::support::tls::pki(&["localhost"]);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let timeout = Duration::from_secs(10);
        let (client, server) = tokio::join!(
            async {
                let tcp = TcpStream::connect(addr).await.unwrap();
                connect_tls(tcp, "localhost", Arc::clone(&client_tls), timeout)
                    .await
                    .unwrap()
            },
            async {
                let tcp = listener.accept().await.unwrap().0;
                accept_tls(tcp, server_tls, timeout).await.unwrap()
            }
        );
        let config = Config::default().max_message_size(1 << 20);
        let client = WebSocket::from_stream(client, Role::Client, config.clone(), &[]);
        let server = WebSocket::from_stream(server, Role::Server, config, &[]);
        let (a, b) = tokio::join!(exchange(client, 0x44), exchange(server, 0x77));
        assert_eq!((a, b), (5_000, 5_000));
    }
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_is_negotiated_and_round_trips() {
    use wsproto::deflate::DeflateConfig;
    use wsproto::tokio::{ClientBuilder, ServerBuilder};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let tcp = listener.accept().await.unwrap().0;
        let ws = ServerBuilder::new()
            .deflate(DeflateConfig::default())
            .accept(tcp)
            .await
            .unwrap();
        echo(ws).await
    });
    let (mut ws, response) = ClientBuilder::new(url)
        .deflate(DeflateConfig::default())
        .connect()
        .await
        .unwrap();
    assert!(
        response.deflate().is_some(),
        "permessage-deflate not agreed"
    );
    let text = "compressible ".repeat(10_000);
    ws.send(text.as_str()).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text(text.as_str())
    );
    ws.close(1000, "").await.unwrap();
    while let Some(message) = ws.recv().await {
        message.unwrap();
    }
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn what_feed_queued_goes_out_when_recv_waits_for_input() {
    let (mut client, mut server) = tcp_pair(Config::default()).await;
    // Three messages arrive in one read; the server answers with `feed`
    // only, and its `recv` writes the answers before waiting again.
    for i in 0..3u8 {
        client.feed(Message::binary(&[i][..])).await.unwrap();
    }
    client.flush().await.unwrap();
    let serving = tokio::spawn(async move {
        while let Some(message) = server.recv().await {
            let message = message.unwrap();
            if message.is_data() {
                server.feed(message).await.unwrap();
            }
        }
    });
    for i in 0..3u8 {
        let got = tokio::time::timeout(Duration::from_secs(10), client.recv()).await;
        assert_eq!(got.unwrap().unwrap().unwrap(), Message::binary(&[i][..]));
    }
    client.close(1000, "").await.unwrap();
    while let Some(message) = client.recv().await {
        message.unwrap();
    }
    serving.await.unwrap();
}
