//! The tokio adapter's opening handshake over real sockets (and in-memory
//! pipes where time is paused): subprotocols, refusals seen by the client
//! (status, headers, body), invalid requests, Origin policy, handshake
//! timeouts, a slowloris that does not hold up other clients, early
//! frames, TLS, and the reconnecting client. The decisions are shared with
//! the blocking adapter, so the wire bytes expected are the same as in
//! `blocking_handshake.rs`.

#![cfg(feature = "tokio")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wsproto::CloseCode;
use wsproto::handshake::{AcceptOptions, ClientRequest, OriginPolicy};
use wsproto::tokio::{
    Backoff, ClientBuilder, Decision, Error, HandshakeFailure, Message, ReconnectingClient,
    Refusal, ServerBuilder, WebSocket, accept, accept_with, client_handshake, connect,
};

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

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

/// Echoes data messages until the connection ends; the end (Ok at a
/// normal close).
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Receives until the end; `Ok` after a normal close.
async fn drain<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await {
        message?;
    }
    Ok(())
}

/// A valid upgrade request (RFC 6455 §1.3) for `target`, with `extra`
/// header lines.
fn upgrade_request(target: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Sends `request` raw to a server running `run` and returns every byte it
/// answered (to its end of stream) and what the server's call returned.
async fn exchange<T, F, Fut>(request: &[u8], run: F) -> (Vec<u8>, T)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let (addr, server) = serve_one(run).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut wire = Vec::new();
    tcp.read_to_end(&mut wire).await.unwrap();
    drop(tcp);
    (wire, server.await.unwrap())
}

#[tokio::test]
async fn subprotocol_and_headers_are_negotiated() {
    let (addr, server) = serve_one(|tcp| async move {
        let mut ws = accept_with(tcp, |request| {
            let up = request.upgrade().expect("an upgrade");
            assert_eq!(up.protocols(), ["v2.chat", "v1.chat"]);
            assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
            assert_eq!(request.path(), "/room");
            assert_eq!(request.query(), Some("id=7"));
            AcceptOptions::new()
                .protocol("v1.chat")
                .header("Set-Cookie", "session=1")
                .into()
        })
        .await
        .unwrap();
        assert_eq!(ws.protocol(), Some("v1.chat"));
        echo(&mut ws).await
    })
    .await;
    let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/room?id=7"))
        .protocol("v2.chat")
        .protocol("v1.chat")
        .header("Authorization", "Bearer t0k3n")
        .connect()
        .await
        .unwrap();
    assert_eq!(response.protocol(), Some("v1.chat"));
    assert_eq!(ws.protocol(), Some("v1.chat"));
    assert_eq!(response.headers().get_str("set-cookie"), Some("session=1"));
    assert!(!ws.get_ref().is_tls());
    ws.send("hi").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.close(1000, "").await.unwrap();
    drain(&mut ws).await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_refusal_reaches_the_client_with_status_headers_and_body() {
    let (addr, server) = serve_one(|tcp| async move {
        accept_with(tcp, |request| {
            assert_eq!(request.header("authorization"), None);
            Decision::respond(
                401,
                &[
                    ("WWW-Authenticate", "Bearer"),
                    ("Content-Type", "text/plain"),
                ],
                "token required\n",
            )
        })
        .await
        .map(drop)
    })
    .await;
    let error = connect(&url(addr)).await.map(drop).unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    let response = error.response().expect("the refusal");
    assert_eq!(
        response.headers().get_str("www-authenticate"),
        Some("Bearer")
    );
    assert_eq!(response.body(), b"token required\n");
    let server_error = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            server_error,
            Error::Refused(Refusal::Decided { status: 401 })
        ),
        "{server_error:?}"
    );
}

/// A body longer than what arrives with the head is read to its
/// `Content-Length`, so the client sees the server's explanation whole.
#[tokio::test]
async fn a_long_refusal_body_is_read_whole() {
    let body = "x".repeat(40_000);
    let expected = body.clone();
    let (addr, server) = serve_one(move |tcp| async move {
        accept_with(tcp, |_| Decision::respond(403, &[], body))
            .await
            .map(drop)
    })
    .await;
    let error = connect(&url(addr)).await.map(drop).unwrap_err();
    assert_eq!(error.http_status(), Some(403));
    assert_eq!(error.response().unwrap().body(), expected.as_bytes());
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn a_decided_refusal_is_refused_with_its_headers_not_a_handshake_failure() {
    let (wire, result) = exchange(&upgrade_request("/?token=wrong", ""), |tcp| async move {
        accept_with(tcp, |request| {
            assert_eq!(request.query_param("token").as_deref(), Some("wrong"));
            Decision::reject(401).header("WWW-Authenticate", "Bearer")
        })
        .await
        .map(drop)
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 401 Unauthorized\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         WWW-Authenticate: Bearer\r\n\
         Content-Length: 17\r\n\
         \r\n\
         401 Unauthorized\n"
    );
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::Refused(Refusal::Decided { status: 401 })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_page_for_plain_http_is_refused_as_decided() {
    let request = b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n";
    let (wire, result) = exchange(request, |tcp| async move {
        accept_with(tcp, |request| {
            assert!(request.upgrade().is_none());
            Decision::respond(200, &[], "ok").header("Cache-Control", "no-store")
        })
        .await
        .map(drop)
    })
    .await;
    assert_eq!(
        wire,
        b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok"
    );
    assert!(matches!(
        result.unwrap_err(),
        Error::Refused(Refusal::Decided { status: 200 })
    ));
}

#[tokio::test]
async fn a_header_added_to_an_accept_goes_into_the_101() {
    let (wire, result) = exchange(&upgrade_request("/", ""), |tcp| async move {
        accept_with(tcp, |_| Decision::accept().header("Set-Cookie", "s=1"))
            .await
            .map(drop)
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Set-Cookie: s=1\r\n\
         \r\n"
    );
    result.unwrap();
}

#[tokio::test]
async fn a_malformed_header_in_a_refusal_answers_500_and_is_our_error() {
    let (wire, result) = exchange(&upgrade_request("/", ""), |tcp| async move {
        accept_with(tcp, |_| {
            Decision::reject(401).header("X-Bad", "a\r\nSet-Cookie: x")
        })
        .await
        .map(drop)
    })
    .await;
    assert_eq!(
        wire,
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
    );
    let error = result.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
}

#[tokio::test]
async fn reject_writes_a_reason_body() {
    let (addr, server) =
        serve_one(|tcp| async move { accept_with(tcp, |_| Decision::reject(404)).await.map(drop) })
            .await;
    let error = connect(&url(addr)).await.map(drop).unwrap_err();
    assert_eq!(error.http_status(), Some(404));
    assert_eq!(error.response().unwrap().body(), b"404 Not Found\n");
    assert_eq!(server.await.unwrap().unwrap_err().http_status(), Some(404));
}

#[tokio::test]
async fn origin_policy_refuses_with_403() {
    let (addr, server) = serve_one(|tcp| async move {
        let policy = OriginPolicy::new().allow("https://app.example").unwrap();
        ServerBuilder::new()
            .origin_policy(policy)
            .accept_with(tcp, |_| panic!("the decision is not asked"))
            .await
            .map(drop)
    })
    .await;
    let error = ClientBuilder::new(url(addr))
        .origin("https://evil.example")
        .connect()
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(error.http_status(), Some(403));
    let server_error = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            &server_error,
            Error::Refused(Refusal::Origin(Some(origin))) if origin == "https://evil.example"
        ),
        "{server_error:?}"
    );
}

/// The policy runs before the decision: a foreign `Origin` with a wrong
/// token gets the policy's 403 (byte for byte), not the decision's 401.
#[tokio::test]
async fn the_origin_policy_answers_before_the_decision() {
    let request = upgrade_request("/?token=wrong", "Origin: https://evil.example\r\n");
    let (wire, result) = exchange(&request, |tcp| async move {
        let policy = OriginPolicy::new().allow("https://app.example").unwrap();
        ServerBuilder::new()
            .origin_policy(policy)
            .accept_with(tcp, |_| {
                Decision::reject(401).header("WWW-Authenticate", "Bearer")
            })
            .await
            .map(drop)
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 403 Forbidden\r\n\
         Connection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 15\r\n\
         \r\n\
         origin refused\n"
    );
    assert!(matches!(
        result.unwrap_err(),
        Error::Refused(Refusal::Origin(Some(_)))
    ));
}

#[tokio::test]
async fn an_invalid_request_is_answered_with_400() {
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n";
    let (wire, result) = exchange(request, |tcp| async move { accept(tcp).await.map(drop) }).await;
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 400 Bad Request\r\n\
         Connection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 33\r\n\
         \r\n\
         missing Sec-WebSocket-Key header\n"
    );
    // The peer's fault: a handshake failure, not a refusal as decided.
    let error = result.unwrap_err();
    assert_eq!(error.http_status(), Some(400));
    assert!(
        matches!(error, Error::Handshake(HandshakeFailure::Request(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_accept_key_fails_the_client() {
    let (addr, server) = serve_one(|mut tcp| async move {
        let mut buf = [0; 1024];
        let _ = tcp.read(&mut buf).await.unwrap();
        tcp.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .await
        .unwrap();
        tcp
    })
    .await;
    let error = connect(&url(addr)).await.map(drop).unwrap_err();
    assert!(
        matches!(error, Error::Handshake(HandshakeFailure::Response(_))),
        "{error:?}"
    );
    drop(server.await.unwrap());
}

const STALL: Duration = Duration::from_millis(200);

/// Asserts the elapsed time of a timeout: not early, and not much later
/// (generous, for a loaded 2-core machine).
fn assert_timed(started: Instant, timeout: Duration) {
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "fired early: {elapsed:?}");
    assert!(elapsed < timeout * 10, "fired late: {elapsed:?}");
}

#[tokio::test]
async fn the_server_drops_a_client_that_stalls_in_its_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Half a head, then silence; the connection stays open.
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let started = Instant::now();
    let error = ServerBuilder::new()
        .handshake_timeout(STALL)
        .accept(tcp)
        .await
        .map(drop)
        .unwrap_err();
    assert_timed(started, STALL);
    assert!(
        matches!(error, Error::Handshake(HandshakeFailure::Timeout)),
        "{error:?}"
    );
    // The stream was dropped: the client sees its end.
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
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
    assert!(
        matches!(error, Error::Handshake(HandshakeFailure::Timeout)),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_client_gives_up_on_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // Keep the connection open, silent, until the client is done.
        let _ = held.await;
        drop(tcp);
    });
    let started = Instant::now();
    let error = ClientBuilder::new(url(addr))
        .handshake_timeout(STALL)
        .connect()
        .await
        .map(drop)
        .unwrap_err();
    assert_timed(started, STALL);
    assert!(
        matches!(error, Error::Handshake(HandshakeFailure::Timeout)),
        "{error:?}"
    );
    hold.send(()).unwrap();
    server.await.unwrap();
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
async fn connection_refused_is_an_io_error() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let error = connect(&url(addr)).await.map(drop).unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
}

#[tokio::test]
async fn invalid_urls_are_refused_before_connecting() {
    for bad in ["http://x/", "ws://", "ws://h/#frag"] {
        let error = connect(bad).await.map(drop).unwrap_err();
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{bad}: {error:?}"
        );
    }
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn wss_needs_the_tls_feature() {
    let error = connect("wss://127.0.0.1:1/").await.map(drop).unwrap_err();
    assert!(matches!(error, Error::TlsUnavailable), "{error:?}");
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
    let mut request = upgrade_request("/", "");
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

/// A refusal is not lost to a reset: the server drains what the client
/// still sends (lingering close) instead of closing with unread input.
#[tokio::test]
async fn a_refusal_survives_a_client_that_keeps_sending() {
    let (addr, server) =
        serve_one(|tcp| async move { accept(tcp).await.map(drop).unwrap_err() }).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 12\r\n\r\n"
        .to_vec();
    request.extend(std::iter::repeat_n(b'x', 64 << 10));
    tcp.write_all(&request).await.unwrap();
    // Wait for the answer to start, then keep sending.
    let mut first = [0u8; 1];
    tcp.read_exact(&mut first).await.unwrap();
    tcp.write_all(&[b'y'; 1024])
        .await
        .expect("the server reset the connection instead of draining it");
    tcp.shutdown().await.unwrap();
    let mut response = first.to_vec();
    tcp.read_to_end(&mut response)
        .await
        .expect("the response was lost to a reset");
    assert!(
        response.starts_with(b"HTTP/1.1 426 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(server.await.unwrap().http_status(), Some(426));
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
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
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
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::net::TcpListener;
    use wsproto::tokio::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use wsproto::tokio::tls::rustls::{ClientConfig, RootCertStore, ServerConfig};
    use wsproto::tokio::tls::{accept_tls, client_config_with_roots, server_config};
    use wsproto::tokio::{ClientBuilder, Error, Message, accept};

    use super::{drain, echo};

    /// A certificate for `localhost` and a client config that trusts it.
    fn pki() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let server = server_config(vec![cert.clone()], key).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        (server, client_config_with_roots(roots).unwrap())
    }

    #[tokio::test]
    async fn wss_round_trip_with_a_self_signed_certificate() {
        let (server_config, client_config) = pki();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = accept_tls(tcp, server_config, Duration::from_secs(10))
                .await
                .unwrap();
            let mut ws = accept(tls).await.unwrap();
            assert!(ws.get_ref().is_tls());
            echo(&mut ws).await
        });
        let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .tls_config(client_config)
            .connect()
            .await
            .unwrap();
        assert!(ws.get_ref().is_tls());
        for size in [0usize, 5, 1000, 70_000, 1 << 20] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            ws.send(Message::binary(data.clone())).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap().as_bytes(), data);
        }
        ws.send("über TLS").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("über TLS"));
        ws.close(1000, "").await.unwrap();
        drain(&mut ws).await.unwrap();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_a_tls_error() {
        let (server_config, _) = pki();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            accept_tls(tcp, server_config, Duration::from_secs(10))
                .await
                .map(drop)
        });
        // The default roots (webpki-roots) do not know our certificate.
        let error = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .connect()
            .await
            .map(drop)
            .unwrap_err();
        assert!(matches!(error, Error::Tls(_)), "{error:?}");
        assert!(server.await.unwrap().is_err());
    }

    /// A TLS client that never sends its ClientHello is given up on at the
    /// timeout.
    #[tokio::test]
    async fn a_stalled_tls_handshake_times_out() {
        let (server_config, _) = pki();
        let (_client, server) = tokio::io::duplex(1024);
        let error = accept_tls(server, server_config, Duration::from_millis(100))
            .await
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Handshake(wsproto::tokio::HandshakeFailure::Timeout)
            ),
            "{error:?}"
        );
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
