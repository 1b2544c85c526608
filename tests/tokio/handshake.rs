//! What only the tokio adapter's opening handshake has: time paused (the
//! default timeout exactly), a slowloris against a task per connection,
//! in-memory pipes (early frames after either head, a caller's stream),
//! the async reconnecting client, futures that are `Send` and small. What
//! both adapters share is tested once against each in
//! `tests/adapters/handshake.rs` and `tests/adapters/tls.rs`.

#![cfg(feature = "tokio")]

use crate::support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use support::net::{RefusedPort, url};
use support::tokio_ws::{drain, echo};
use support::wire::upgrade_request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wsproto::CloseCode;
use wsproto::handshake::ClientRequest;
use wsproto::tokio::{
    Backoff, ClientBuilder, Decision, Error, Message, ReconnectingClient, ServerBuilder, WebSocket,
    accept, accept_with, client_handshake, connect,
};

/// A server on 127.0.0.1:0 running `run` on its first connection.
async fn serve_one<T, F, Fut>(run: F) -> (SocketAddr, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        run(tcp).await
    });
    (addr, server)
}

/// On tokio's paused clock the deadline is exact: a client that never
/// sends is given up on at the default 10 s, not a moment before or after.
#[tokio::test(start_paused = true)]
async fn the_default_handshake_timeout_is_ten_seconds_of_tokio_time() {
    let (_client, server) = tokio::io::duplex(1024);
    let started = Instant::now();
    let error = accept(server).await.map(drop).unwrap_err();
    assert_eq!(started.elapsed(), wsproto::tokio::DEFAULT_TIMEOUT);
    assert_eq!(wsproto::tokio::DEFAULT_TIMEOUT, Duration::from_secs(10));
    assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
}

/// A server that spawns a task per connection is not held up by a
/// slowloris: 1,000 connections that each send half a head and stall do
/// not delay a normal client's handshake and echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_of_a_thousand_stalled_handshakes_does_not_delay_a_normal_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                if let Ok(mut ws) = accept(tcp).await {
                    let _ = echo(&mut ws).await;
                }
            });
        }
    });
    let mut stalled = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stalled.push(tcp);
    }
    let started = Instant::now();
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.send("not delayed").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("not delayed")
    );
    // Far below the 10 s the stalled handshakes may still hold on.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    ws.close(1000, "").await.unwrap();
    drain(&mut ws).await.unwrap();
    // Every stalled connection is still open, waiting for its timeout.
    let mut probe = [0u8; 1];
    for tcp in &stalled[..10] {
        assert!(matches!(
            tcp.try_read(&mut probe),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        ));
    }
    drop(stalled);
    server.abort();
}

#[tokio::test]
async fn client_handshake_runs_over_a_callers_stream() {
    let (client, server) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(async move {
        let mut ws = accept(server).await.unwrap();
        echo(&mut ws).await
    });
    let request = ClientRequest::new("example.com", "/");
    let (mut ws, _) = client_handshake(client, request).await.unwrap();
    ws.send("over my stream").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("over my stream")
    );
    ws.close(1000, "").await.unwrap();
    drain(&mut ws).await.unwrap();
    server.await.unwrap().unwrap();
}

/// A masked client text frame (RFC 6455 §5.7: "Hello", masked).
const MASKED_HELLO: &[u8] = &[
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// Frames a client sends in the same write as its head are not lost: the
/// server's connection processes them first.
#[tokio::test]
async fn early_frames_after_the_request_head_are_processed() {
    let (mut client, server) = tokio::io::duplex(64 << 10);
    let mut request = upgrade_request("/", "").into_bytes();
    request.extend_from_slice(MASKED_HELLO);
    client.write_all(&request).await.unwrap();
    let mut ws = accept(server).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("Hello"));
}

/// Frames a server sends in the same write as its `101` reach the client.
#[tokio::test]
async fn early_frames_after_the_101_are_processed() {
    let (client, mut server) = tokio::io::duplex(64 << 10);
    let raw = tokio::spawn(async move {
        let mut buf = vec![0; 4096];
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 0);
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .trim()
            .to_owned();
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            wsproto::handshake::accept_key(&key)
        )
        .into_bytes();
        // An unmasked server text frame, "Hello".
        response.extend_from_slice(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
        server.write_all(&response).await.unwrap();
        server
    });
    let (mut ws, _) = client_handshake(client, ClientRequest::new("h", "/"))
        .await
        .unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("Hello"));
    drop(raw.await.unwrap());
}

// --- The reconnecting client -------------------------------------------

fn fast_backoff() -> Backoff {
    let mut backoff = Backoff::default();
    backoff.initial = Duration::from_millis(5);
    backoff.max = Duration::from_millis(50);
    backoff
}

/// Serves one connection on `listener`: receives the auth message, sends
/// `greeting`, then either goes away (Going Away) or waits for the client
/// to close.
async fn serve_session(listener: &TcpListener, greeting: &str, go_away: bool) -> Message {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = accept(tcp).await.unwrap();
    let auth = ws.recv().await.unwrap().unwrap();
    ws.send(greeting).await.unwrap();
    if go_away {
        ws.close(CloseCode::GOING_AWAY, "restart").await.unwrap();
    }
    let _ = drain(&mut ws).await;
    auth
}

#[tokio::test]
async fn reconnects_after_the_server_restarts_and_resends_auth() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (retried_tx, mut retried) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let first = serve_session(&listener, "hello 1", true).await;
        drop(listener);
        // Come back only after the client has seen the server gone (a
        // refused attempt), on the same port.
        let _: u32 = retried.recv().await.unwrap();
        let listener = TcpListener::bind(addr).await.unwrap();
        let second = serve_session(&listener, "hello 2", false).await;
        (first, second)
    });
    let hook_calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let calls = hook_calls.clone();
    let mut client = ReconnectingClient::new(
        ClientBuilder::new(url(addr)),
        async move |ws: &mut WebSocket<_>, _: &_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ws.send("auth token").await
        },
    )
    .backoff(fast_backoff())
    .on_retry(move |attempt, error, delay| {
        // Refused, or reset by the listener on its way out.
        assert!(error.is_fatal(), "{error:?}");
        assert!(delay <= Duration::from_millis(50));
        let _ = retried_tx.send(attempt);
    });
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello 1")
    );
    assert!(matches!(
        client.recv().await.unwrap().unwrap(),
        Message::Close(f) if f.code == CloseCode::GOING_AWAY
    ));
    // The next receive finds the connection over, retries until the server
    // is back, runs the hook again and receives on.
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello 2")
    );
    assert_eq!(client.connects(), 2);
    client.close(1000, "bye").await.unwrap();
    while let Some(message) = client.recv().await {
        message.unwrap();
    }
    drop(client);
    assert_eq!(hook_calls.load(std::sync::atomic::Ordering::Relaxed), 2);
    let (first, second) = server.await.unwrap();
    assert_eq!(first, Message::text("auth token"));
    assert_eq!(second, Message::text("auth token"));
}

#[tokio::test]
async fn reconnect_gives_up_after_max_attempts() {
    let refusing = RefusedPort::new();
    let addr = refusing.addr();
    let mut backoff = fast_backoff();
    backoff.max_attempts = Some(3);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut client = ReconnectingClient::new(ClientBuilder::new(url(addr)), async |_, _| Ok(()))
        .backoff(backoff)
        .on_retry(move |attempt, _, _| tx.send(attempt).unwrap());
    let error = client.recv().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
    let mut attempts = Vec::new();
    while let Ok(attempt) = rx.try_recv() {
        attempts.push(attempt);
    }
    // Three attempts, so two waits between them.
    assert_eq!(attempts, [1, 2]);
    assert_eq!(client.connects(), 0);
}

#[tokio::test]
async fn reconnect_does_not_retry_a_4xx_refusal() {
    let (addr, server) =
        serve_one(|tcp| async move { accept_with(tcp, |_| Decision::reject(401)).await.map(drop) })
            .await;
    let mut client = ReconnectingClient::new(ClientBuilder::new(url(addr)), async |_, _| Ok(()))
        .backoff(fast_backoff())
        .on_retry(|_, e, _| panic!("retried after {e:?}"));
    let error = client.recv().await.unwrap().unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    assert!(server.await.unwrap().is_err());
}

// --- TLS ---------------------------------------------------------------

#[cfg(feature = "tls")]
mod tls {
    use std::time::Duration;

    use super::support::tls::pki;
    use wsproto::tokio::Error;
    use wsproto::tokio::accept_tls;

    /// A TLS client that never sends its ClientHello is given up on at the
    /// timeout.
    #[tokio::test]
    async fn a_stalled_tls_handshake_times_out() {
        let (server_config, _) = pki(&["localhost"]);
        let (_client, server) = tokio::io::duplex(1024);
        let error = accept_tls(server, server_config, Duration::from_millis(100))
            .await
            .map(drop)
            .unwrap_err();
        assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
    }
}

/// The handshakes and the reconnecting client can run in spawned tasks:
/// their futures are `Send` (checked at compile time).
#[allow(dead_code)]
fn the_futures_are_send(tcp: TcpStream) {
    fn send<T: Send>(_: T) {}
    send(accept(tcp));
    send(ServerBuilder::new().accept_with(tokio::io::empty(), |_| Decision::accept()));
    send(connect("ws://127.0.0.1:1/"));
    send(ClientBuilder::new("ws://127.0.0.1:1/").handshake(tokio::io::empty()));
    let mut client = ReconnectingClient::new(
        ClientBuilder::new("ws://127.0.0.1:1/"),
        async |ws: &mut WebSocket<_>, _: &_| ws.send("auth").await,
    );
    send(client.recv());
}

/// A server spawns a task per connection, and the task's future is as
/// large as its largest await: the accept future is part of every
/// connection's memory for as long as it lives. A 4 KiB array in the
/// lingering close once made it 5 KiB.
#[test]
fn the_accept_future_a_connection_task_holds_is_small() {
    let (stream, _peer) = tokio::io::duplex(64);
    let accept = wsproto::tokio::accept(stream);
    let size = std::mem::size_of_val(&accept);
    println!("accept future: {size} B");
    assert!(size <= 1536, "accept future {size} B");
    let (stream, _peer) = tokio::io::duplex(64);
    let decide = wsproto::tokio::accept_with(stream, |_| wsproto::tokio::Decision::accept());
    assert!(std::mem::size_of_val(&decide) <= 1536);
}
