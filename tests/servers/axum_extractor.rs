//! The axum extractor behind a real `axum::serve` on loopback, both
//! request shapes: HTTP/1.1 (our tokio client, tokio-tungstenite, hyper's
//! HTTP/1.1 client with the handshake in `http` types) and HTTP/2
//! extended CONNECT (RFC 8441, hyper's HTTP/2 client; `axum::serve`
//! advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL`). Refusals come back
//! with the core's statuses through axum, in both shapes.

#![cfg(all(feature = "axum", feature = "deflate"))]

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use http::{StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};
use wsproto::deflate::DeflateConfig;
use wsproto::handshake::{ClientRequest, Established, OriginPolicy};
use wsproto::{Config, Role};

/// Echoes data messages until the end.
async fn echo(mut socket: WebSocket) {
    let _ = support::tokio_ws::echo(&mut socket).await;
}

/// `/echo`: echo, subprotocols `chat` then `superchat`, deflate;
/// `/same-origin`: the same behind a same-origin policy; `/info`: sends
/// one text message saying how the socket came (version, shape), then
/// echoes.
fn app() -> Router {
    async fn echo_handler(ws: WebSocketUpgrade) -> Response {
        ws.protocols(["chat", "superchat"])
            .deflate(DeflateConfig::default())
            .on_upgrade(echo)
    }
    async fn same_origin(ws: WebSocketUpgrade) -> Response {
        ws.origin_policy(OriginPolicy::new().same_origin(true))
            .on_upgrade(echo)
    }
    async fn info(ws: WebSocketUpgrade) -> Response {
        let summary = format!(
            "{:?} connect={}",
            ws.version(),
            ws.request().is_extended_connect()
        );
        ws.on_upgrade(move |mut socket| async move {
            if socket.send(summary).await.is_ok() {
                echo(socket).await
            }
        })
    }
    async fn small_heads(ws: WebSocketUpgrade) -> Response {
        ws.handshake_limits(wsproto::HandshakeLimits::default().max_headers(8))
            .on_upgrade(echo)
    }
    async fn page_or_socket(ws: Option<WebSocketUpgrade>) -> Response {
        match ws {
            Some(ws) => ws.on_upgrade(echo),
            None => Response::new("a page".into()),
        }
    }
    Router::new()
        .route("/both", any(page_or_socket))
        .route("/small-heads", any(small_heads))
        .route("/echo", any(echo_handler))
        .route("/same-origin", any(same_origin))
        .route("/info", any(info))
}

async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
    addr
}

/// One round trip, then a clean close from the client.
async fn round_trip<S>(ws: &mut wsproto::tokio::WebSocket<S>, text: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(text).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
}

async fn close<S>(mut ws: wsproto::tokio::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.close(1000, "bye").await.unwrap();
    while let Some(message) = ws.recv().await {
        message.unwrap();
    }
}

#[tokio::test]
async fn http1_our_tokio_client_echoes() {
    let addr = serve().await;
    let (mut ws, _) = wsproto::tokio::connect(&format!("ws://{addr}/info"))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("HTTP/1.1 connect=false")
    );
    round_trip(&mut ws, "hello").await;
    // Big enough to take several reads and writes.
    let big = "x".repeat(1 << 20);
    round_trip(&mut ws, &big).await;
    close(ws).await;
}

#[tokio::test]
async fn http1_subprotocol_and_deflate_are_negotiated() {
    let addr = serve().await;
    let (mut ws, established) = wsproto::tokio::ClientBuilder::new(format!("ws://{addr}/echo"))
        .protocol("superchat")
        .protocol("chat")
        .deflate(DeflateConfig::default())
        .connect()
        .await
        .unwrap();
    // The server's preference wins, as with axum's `protocols`.
    assert_eq!(established.protocol(), Some("chat"));
    assert!(established.deflate().is_some());
    round_trip(&mut ws, &"compressible ".repeat(1000)).await;
    close(ws).await;
}

#[tokio::test]
async fn http1_tokio_tungstenite_client() {
    let addr = serve().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(format!("ws://{addr}/echo"), tcp)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws.send(tokio_tungstenite::tungstenite::Message::text("hi"))
        .await
        .unwrap();
    let back = ws.next().await.unwrap().unwrap();
    assert_eq!(back.into_text().unwrap().as_str(), "hi");
    ws.close(None).await.unwrap();
}

/// The handshake in `http` types over hyper's HTTP/1.1 client; the
/// upgraded connection goes to `WebSocket::from_stream`.
#[tokio::test]
async fn http1_hyper_client_with_http_types() {
    let addr = serve().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let (request, handshake) = ClientRequest::from_url(&format!("ws://{addr}/echo"))
        .unwrap()
        .protocol("superchat")
        .build_http(Version::HTTP_11)
        .unwrap();
    let request = request.map(|()| Empty::<Bytes>::new());
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let established = handshake.check_http_response(&response).unwrap();
    assert_eq!(established.protocol(), Some("superchat"));
    let upgraded = hyper::upgrade::on(response).await.unwrap();
    let mut ws = wsproto::tokio::WebSocket::from_stream(
        TokioIo::new(upgraded),
        Role::Client,
        Config::default(),
        &[],
    );
    round_trip(&mut ws, "over hyper").await;
    close(ws).await;
}

/// An HTTP/2 connection (prior knowledge, no TLS) and an extended CONNECT
/// on it: the request sent, its response and what was agreed.
async fn h2_connect(
    addr: SocketAddr,
    request: ClientRequest,
) -> (
    http::Response<hyper::body::Incoming>,
    Result<Established, wsproto::handshake::ResponseError>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let (request, handshake) = request.build_http(Version::HTTP_2).unwrap();
    let mut request = request.map(|()| Empty::<Bytes>::new());
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = sender.send_request(request).await.unwrap();
    let checked = handshake.check_http_response(&response);
    (response, checked)
}

#[tokio::test]
async fn http2_extended_connect_with_hyper_client() {
    let addr = serve().await;
    let request = ClientRequest::from_url(&format!("ws://{addr}/info")).unwrap();
    let (response, established) = h2_connect(addr, request).await;
    // RFC 8441 §5: a 2xx, not 101.
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    established.unwrap();
    let upgraded = hyper::upgrade::on(response).await.unwrap();
    let mut ws = wsproto::tokio::WebSocket::from_stream(
        TokioIo::new(upgraded),
        Role::Client,
        Config::default(),
        &[],
    );
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("HTTP/2.0 connect=true")
    );
    round_trip(&mut ws, "over h2").await;
    round_trip(&mut ws, &"y".repeat(300_000)).await;
    close(ws).await;
}

#[tokio::test]
async fn http2_subprotocol_and_deflate() {
    let addr = serve().await;
    let request = ClientRequest::from_url(&format!("ws://{addr}/echo"))
        .unwrap()
        .protocol("superchat")
        .deflate(DeflateConfig::default());
    let (response, established) = h2_connect(addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let established = established.unwrap();
    assert_eq!(established.protocol(), Some("superchat"));
    assert!(established.deflate().is_some(), "deflate agreed over h2");
    let upgraded = hyper::upgrade::on(response).await.unwrap();
    let mut ws = wsproto::tokio::WebSocket::from_established(
        TokioIo::new(upgraded),
        Config::default(),
        &established,
        &[],
    );
    round_trip(&mut ws, &"compressible over h2 ".repeat(1000)).await;
    close(ws).await;
}

#[tokio::test]
async fn http2_refusals_have_the_core_statuses() {
    let addr = serve().await;
    // A foreign Origin behind the same-origin policy: 403.
    let request = ClientRequest::from_url(&format!("ws://{addr}/same-origin"))
        .unwrap()
        .origin("https://evil.example");
    let (response, checked) = h2_connect(addr, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(checked.is_err());
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "origin refused\n"
    );
    // Its own origin passes (`:authority` stands in for Host).
    let request = ClientRequest::from_url(&format!("ws://{addr}/same-origin"))
        .unwrap()
        .origin(format!("http://{addr}"));
    let (response, checked) = h2_connect(addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    checked.unwrap();
}

/// Sends `request` with hyper's HTTP/1.1 client; status, headers, body.
async fn h1(addr: SocketAddr, request: http::Request<()>) -> (StatusCode, http::HeaderMap, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(request.map(|()| Empty::<Bytes>::new()))
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn upgrade_request(path: &str, addr: SocketAddr) -> http::request::Builder {
    http::Request::get(path)
        .header("host", addr.to_string())
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
}

#[tokio::test]
async fn http1_refusals_have_the_core_statuses_and_bodies() {
    let addr = serve().await;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    // No key: 400.
    let request = upgrade_request("/echo", addr)
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let (status, _, body) = h1(addr, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "missing Sec-WebSocket-Key header\n");
    // Version 8: 426 naming ours.
    let request = upgrade_request("/echo", addr)
        .header("sec-websocket-key", key)
        .header("sec-websocket-version", "8")
        .body(())
        .unwrap();
    let (status, headers, body) = h1(addr, request).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(headers["sec-websocket-version"], "13");
    assert_eq!(body, "unsupported WebSocket version (13 required)\n");
    // A foreign Origin: 403.
    let request = upgrade_request("/same-origin", addr)
        .header("sec-websocket-key", key)
        .header("sec-websocket-version", "13")
        .header("origin", "https://evil.example")
        .body(())
        .unwrap();
    let (status, _, body) = h1(addr, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "origin refused\n");
    // POST: 405 with `Allow: GET`.
    let request = upgrade_request("/echo", addr)
        .method("POST")
        .header("sec-websocket-key", key)
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let (status, headers, _) = h1(addr, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET");
    // Plain HTTP on the WebSocket route: 426.
    let request = http::Request::get("/echo")
        .header("host", addr.to_string())
        .body(())
        .unwrap();
    let (status, headers, _) = h1(addr, request).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(headers["upgrade"], "websocket");
}

#[tokio::test]
async fn http2_wrong_version_is_426_without_connection_headers() {
    let addr = serve().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut request = http::Request::connect(format!("http://{addr}/echo"))
        .version(Version::HTTP_2)
        .header("sec-websocket-version", "8")
        .body(Empty::<Bytes>::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(response.headers().get("connection").is_none());
}

/// The handler's config sets the header caps: 431 beyond them, checked in
/// `on_upgrade` (the extractor reads before the config is chosen).
#[tokio::test]
async fn config_header_caps_answer_431() {
    let addr = serve().await;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let request = |extra: usize| {
        let mut builder = upgrade_request("/small-heads", addr)
            .header("sec-websocket-key", key)
            .header("sec-websocket-version", "13");
        for i in 0..extra {
            builder = builder.header(format!("x-{i}"), "1");
        }
        builder.body(()).unwrap()
    };
    // Host, Upgrade, Connection, key, version: 5 fields, 3 more allowed.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let response = sender
        .send_request(request(3).map(|()| Empty::<Bytes>::new()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let (status, _, body) = h1(addr, request(4)).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body, "more than 8 header fields\n");
}

/// `Option<WebSocketUpgrade>`: a page and its socket on one route; an
/// invalid upgrade is still refused.
#[tokio::test]
async fn optional_extractor_serves_a_page_and_a_socket_on_one_route() {
    let addr = serve().await;
    let (status, _, body) = h1(
        addr,
        http::Request::get("/both")
            .header("host", addr.to_string())
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "a page"));
    let (mut ws, _) = wsproto::tokio::connect(&format!("ws://{addr}/both"))
        .await
        .unwrap();
    round_trip(&mut ws, "and a socket").await;
    close(ws).await;
    let (status, _, _) = h1(
        addr,
        upgrade_request("/both", addr)
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
