//! The tokio adapter's deadlines on tokio's paused clock: keepalive, the
//! pong timeout, the close timeout and the write timeout fire at exactly
//! the instants the config gives, with nothing but `recv`/`send` polled
//! (no extra task), unsplit and split.
#![cfg(feature = "tokio")]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::Instant;
use wsproto::tokio::{Error, Message, WebSocket};
use wsproto::{Config, Role};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A server WebSocket over an in-memory pipe; the other end is raw bytes.
fn server(config: Config, pipe: usize) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (a, b) = duplex(pipe);
    (WebSocket::from_stream(a, Role::Server, config, &[]), b)
}

/// Everything the raw end can read without waiting.
async fn drain(peer: &mut DuplexStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::ZERO, peer.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_at_the_interval_and_fails_a_silent_peer_at_the_pong_timeout() {
    let config = Config::default()
        .ping_interval(Some(SECS(10)))
        .pong_timeout(SECS(5));
    let (mut ws, mut peer) = server(config, 1 << 16);
    let start = Instant::now();
    let recv = tokio::spawn(async move {
        let result = ws.recv().await;
        (result, Instant::now())
    });
    tokio::time::sleep(SECS(10) - Duration::from_millis(1)).await;
    assert!(
        drain(&mut peer).await.is_empty(),
        "nothing before the interval"
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    // An unmasked Ping with an empty payload, exactly at 10 s.
    assert_eq!(drain(&mut peer).await, [0x89, 0x00]);
    let (result, at) = recv.await.unwrap();
    assert!(
        matches!(result, Some(Err(Error::KeepaliveTimeout))),
        "{result:?}"
    );
    assert_eq!(at - start, SECS(15));
    // Our Close with 1011 (and a reason), then the end of stream.
    let close = drain(&mut peer).await;
    assert_eq!(close[..4], [0x88, close.len() as u8 - 2, 0x03, 0xf3]);
}

#[tokio::test(start_paused = true)]
async fn traffic_from_the_peer_moves_the_keepalive() {
    let config = Config::default()
        .ping_interval(Some(SECS(10)))
        .pong_timeout(SECS(5));
    let (mut ws, mut peer) = server(config, 1 << 16);
    let start = Instant::now();
    let recv = tokio::spawn(async move {
        let mut got = Vec::new();
        loop {
            match ws.recv().await {
                Some(Ok(message)) => got.push(message),
                other => return (got, other, Instant::now()),
            }
        }
    });
    // A masked empty Pong at 8 s: the next Ping is due at 18 s, the
    // failure at 23 s.
    tokio::time::sleep(SECS(8)).await;
    peer.write_all(&[0x8a, 0x80, 1, 2, 3, 4]).await.unwrap();
    let (got, end, at) = recv.await.unwrap();
    assert_eq!(got, [Message::pong(b"")]);
    assert!(matches!(end, Some(Err(Error::KeepaliveTimeout))), "{end:?}");
    assert_eq!(at - start, SECS(23));
}

#[tokio::test(start_paused = true)]
async fn close_timeout_drops_a_peer_that_never_answers() {
    let config = Config::default().close_timeout(SECS(3));
    let (mut ws, mut peer) = server(config, 1 << 16);
    let start = Instant::now();
    ws.close(1000, "bye").await.unwrap();
    assert_eq!(
        drain(&mut peer).await,
        [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']
    );
    let result = ws.recv().await;
    assert!(
        matches!(result, Some(Err(Error::CloseTimeout))),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), SECS(3));
    assert!(ws.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn close_timeout_is_kept_by_the_split_reader_after_the_writer_closes() {
    let config = Config::default().close_timeout(SECS(3));
    let (ws, _peer) = server(config, 1 << 16);
    let (mut reader, writer) = ws.into_split();
    let start = Instant::now();
    let recv = tokio::spawn(async move { (reader.recv().await, Instant::now()) });
    tokio::time::sleep(SECS(1)).await;
    writer.close(1001, "").await.unwrap();
    let (result, at) = recv.await.unwrap();
    assert!(
        matches!(result, Some(Err(Error::CloseTimeout))),
        "{result:?}"
    );
    assert_eq!(at - start, SECS(4));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_dropped_at_the_write_timeout() {
    // 1 KiB of pipe: the 100 KiB message blocks.
    let (mut ws, _peer) = server(Config::default(), 1024);
    ws.set_write_timeout(Some(SECS(7)));
    let start = Instant::now();
    let result = ws.send(Message::binary(vec![7u8; 100_000])).await;
    match result {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("expected a write timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), SECS(7));
    // Fatal: the connection is lost.
    assert!(matches!(ws.send("x").await, Err(Error::ConnectionLost)));
}

#[tokio::test(start_paused = true)]
async fn send_waits_while_more_than_max_write_buffer_is_queued() {
    let config = Config::default().max_write_buffer(10_000);
    let (mut ws, mut peer) = server(config, 1024);
    ws.set_write_timeout(None);
    let (_reader, writer) = ws.into_split();
    // Queued without waiting until over the limit.
    for _ in 0..3 {
        writer
            .feed(Message::binary(vec![1u8; 4_000]))
            .await
            .unwrap();
    }
    let blocked = tokio::time::timeout(SECS(60), writer.feed(Message::binary(vec![2u8; 10])));
    assert!(blocked.await.is_err(), "feed went past a full buffer");
    // The peer reads: room again.
    let reading = tokio::spawn(async move {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while total < 12_000 {
            total += peer.read(&mut buf).await.unwrap();
        }
        peer
    });
    writer.feed(Message::binary(vec![2u8; 10])).await.unwrap();
    let (flushed, peer) = tokio::join!(writer.flush(), reading);
    flushed.unwrap();
    drop(peer.unwrap());
}
