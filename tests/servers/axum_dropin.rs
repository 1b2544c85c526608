//! axum's own documented WebSocket patterns (the `axum::extract::ws`
//! module docs and its `websockets` example), with only the import
//! changed from `axum::extract::ws` to `wsproto::axum`: they compile and
//! behave the same. Served by a real `axum::serve` on loopback and driven
//! by tokio-tungstenite, a foreign client.

#![cfg(feature = "axum")]

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as TMessage;
// The one line that changes: `use axum::extract::ws::{…}` becomes:
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};

// ---- axum's module docs, "Example" -----------------------------------

async fn handler(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(handle_socket)
}

async fn handle_socket(mut socket: WebSocket) {
    while let Some(msg) = socket.recv().await {
        let msg = if let Ok(msg) = msg {
            msg
        } else {
            // client disconnected
            return;
        };

        if socket.send(msg).await.is_err() {
            // client disconnected
            return;
        }
    }
}

// ---- "Passing data and/or state to an on_upgrade callback" -----------

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

async fn state_handler(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(|socket| greet_socket(socket, state))
}

async fn greet_socket(mut socket: WebSocket, state: AppState) {
    let _ = socket.send(Message::Text(state.greeting.into())).await;
}

// ---- "Read and write concurrently": StreamExt::split ------------------

async fn split_handler(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(split_socket)
}

async fn split_socket(socket: WebSocket) {
    let (sender, receiver) = socket.split();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let writing = tokio::spawn(write(sender, rx));
    read(receiver, tx).await;
    let _ = writing.await;
}

/// Reads the client's messages and hands the texts to the writer.
async fn read(mut receiver: SplitStream<WebSocket>, tx: tokio::sync::mpsc::Sender<String>) {
    while let Some(Ok(msg)) = receiver.next().await {
        if let Message::Text(text) = msg {
            if tx.send(text.to_string()).await.is_err() {
                return;
            }
        }
    }
}

/// Answers each text as axum's `websockets` example does: a
/// `Message::Text(format!(..).into())`, a Ping with bytes, and at the end
/// the sink's own close.
async fn write(
    mut sender: SplitSink<WebSocket, Message>,
    mut rx: tokio::sync::mpsc::Receiver<String>,
) {
    while let Some(text) = rx.recv().await {
        let reply = Message::Text(format!("you said {text}").into());
        if sender.send(reply).await.is_err() {
            return;
        }
        if text == "bye" {
            let _ = sender
                .send(Message::Ping(axum::body::Bytes::from_static(&[1, 2, 3])))
                .await;
            // `SinkExt::close`: a Close (1000), then the peer's answer.
            let _ = sender.close().await;
            return;
        }
    }
}

async fn serve() -> std::net::SocketAddr {
    let app = Router::new()
        .route("/ws", any(handler))
        .route("/state", any(state_handler))
        .route("/split", any(split_handler))
        .with_state(AppState { greeting: "hello" });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// tokio-tungstenite's client on a TCP connection to `path`.
type Client = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn client(addr: std::net::SocketAddr, path: &str) -> Client {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}{path}");
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// The next message within 5 s.
async fn next(ws: &mut Client) -> Option<TMessage> {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an answer in time")
        .map(Result::unwrap)
}

#[tokio::test]
async fn the_documented_echo_echoes_text_and_binary_and_ends_on_close() {
    let addr = serve().await;
    let mut ws = client(addr, "/ws").await;
    ws.send(TMessage::text("hello")).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(TMessage::text("hello")));
    ws.send(TMessage::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Some(TMessage::binary(vec![0u8, 1, 2, 255]))
    );
    ws.close(None).await.unwrap();
    // The echo loop hands the Close to `send`, which is what closes
    // (axum's socket does the same); the client sees the closing
    // handshake complete.
    let mut rest = Vec::new();
    while let Some(message) = next(&mut ws).await {
        rest.push(message);
    }
    assert!(rest.iter().all(TMessage::is_close), "{rest:?}");
}

#[tokio::test]
async fn state_passed_to_the_callback_reaches_the_socket() {
    let addr = serve().await;
    let mut ws = client(addr, "/state").await;
    assert_eq!(next(&mut ws).await, Some(TMessage::text("hello")));
}

#[tokio::test]
async fn split_sink_and_stream_read_and_write_concurrently() {
    let addr = serve().await;
    let mut ws = client(addr, "/split").await;
    for word in ["one", "two", "bye"] {
        ws.send(TMessage::text(word)).await.unwrap();
        assert_eq!(
            next(&mut ws).await,
            Some(TMessage::text(format!("you said {word}")))
        );
    }
    assert_eq!(
        next(&mut ws).await,
        Some(TMessage::Ping(vec![1u8, 2, 3].into()))
    );
    match next(&mut ws).await {
        Some(TMessage::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the sink's Close, got {other:?}"),
    }
}
