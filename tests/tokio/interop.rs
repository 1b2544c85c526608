//! Interoperability of the tokio adapter with tokio-tungstenite, in one
//! process over loopback TCP: a wsproto server with a tokio-tungstenite
//! client and a tokio-tungstenite server with a wsproto client; in each
//! pairing both sides take a turn at sending (the other echoes), text and
//! binary from 0 B to 1 MiB, Pings answered by either side, and Close codes
//! with their reasons in both directions.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TtCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TtCloseCode;
use tokio_tungstenite::tungstenite::{self, Message as TtMessage};
use wsproto::handshake::ClientRequest;
use wsproto::tokio::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;
type Tt = WebSocketStream<TcpStream>;

/// Every test is bounded: a stuck exchange fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(30);

const SIZES: [usize; 8] = [0, 1, 125, 126, 65_535, 65_536, 100_000, 1 << 20];

/// Runs `test` on a fresh current-thread runtime, within [`LIMIT`].
fn run<F: Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(LIMIT, test)
                .await
                .expect("the exchange took too long")
        });
}

/// A wsproto server (`wsproto::tokio::accept`) and a tokio-tungstenite
/// client connected to it.
async fn wsproto_server() -> (Ws, Tt) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/interop", listener.local_addr().unwrap());
    let server = async {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        wsproto::tokio::accept(tcp).await.unwrap()
    };
    let client = async {
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        tokio_tungstenite::client_async(url.as_str(), tcp)
            .await
            .unwrap()
            .0
    };
    tokio::join!(server, client)
}

/// A tokio-tungstenite server and a wsproto client
/// (`wsproto::tokio::client_handshake`) connected to it.
async fn tungstenite_server() -> (Tt, Ws) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        tokio_tungstenite::accept_async(tcp).await.unwrap()
    };
    let client = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let url = format!("ws://{addr}/interop");
        wsproto::tokio::client_handshake(tcp, ClientRequest::from_url(&url).unwrap())
            .await
            .unwrap()
            .0
    };
    tokio::join!(server, client)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn text(len: usize) -> String {
    // Multi-byte characters cross the frame and read boundaries.
    "aé€😀".chars().cycle().take(len / 2).collect()
}

/// wsproto echoes data messages until the closing handshake is over.
async fn wsproto_echo(mut ws: Ws) -> Option<u16> {
    let mut close = None;
    while let Some(message) = ws.recv().await {
        match message.unwrap() {
            Message::Close(frame) => close = Some(frame.code.as_u16()),
            message if message.is_data() => ws.send(message).await.unwrap(),
            _ => {}
        }
    }
    close
}

/// tokio-tungstenite echoes data messages until the closing handshake is
/// over (it answers Pings and the Close itself).
async fn tungstenite_echo(mut ws: Tt) -> Option<u16> {
    let mut close = None;
    while let Some(message) = ws.next().await {
        match message.unwrap() {
            TtMessage::Close(frame) => close = frame.map(|f| u16::from(f.code)),
            message @ (TtMessage::Text(_) | TtMessage::Binary(_)) => {
                ws.send(message).await.unwrap()
            }
            _ => {}
        }
    }
    close
}

/// wsproto sends every size as text and binary, and gets each echo back.
async fn wsproto_sends(ws: &mut Ws) {
    for len in SIZES {
        let data = payload(len, len as u8);
        ws.send(Message::binary(&data[..])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(&data[..])
        );
        let text = text(len);
        ws.send(Message::text(text.as_str())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text(text.as_str()),
            "{len}"
        );
    }
}

/// tokio-tungstenite sends every size as text and binary, and gets each
/// echo back.
async fn tungstenite_sends(ws: &mut Tt) {
    for len in SIZES {
        let data = payload(len, len as u8);
        ws.send(TtMessage::binary(data.clone())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TtMessage::binary(data),
            "{len}"
        );
        let text = text(len);
        ws.send(TtMessage::text(text.clone())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TtMessage::text(text),
            "{len}"
        );
    }
}

/// wsproto closes with `code` and reads to the end: the echo of its Close,
/// then the end of the connection.
async fn wsproto_closes(mut ws: Ws, code: u16, reason: &str) {
    ws.close(code, reason).await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Close(frame))) => assert_eq!(frame.code.as_u16(), code),
        other => panic!("expected the Close echo, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
}

/// tokio-tungstenite closes with `code` and reads to the end.
async fn tungstenite_closes(mut ws: Tt, code: u16, reason: &str) {
    ws.close(Some(TtCloseFrame {
        code: TtCloseCode::from(code),
        reason: reason.into(),
    }))
    .await
    .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(TtMessage::Close(frame))) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(code));
            }
            Some(Ok(_)) => {}
            None | Some(Err(tungstenite::Error::ConnectionClosed)) => return,
            Some(Err(e)) => panic!("closing: {e}"),
        }
    }
}

#[test]
fn wsproto_server_tungstenite_client_sends_and_wsproto_echoes() {
    run(async {
        let (server, mut client) = wsproto_server().await;
        let echo = tokio::spawn(wsproto_echo(server));
        tungstenite_sends(&mut client).await;
        tungstenite_closes(client, 1000, "done").await;
        assert_eq!(echo.await.unwrap(), Some(1000));
    });
}

#[test]
fn wsproto_server_sends_and_tungstenite_client_echoes() {
    run(async {
        let (mut server, client) = wsproto_server().await;
        let echo = tokio::spawn(tungstenite_echo(client));
        wsproto_sends(&mut server).await;
        wsproto_closes(server, 1000, "done").await;
        assert_eq!(echo.await.unwrap(), Some(1000));
    });
}

#[test]
fn tungstenite_server_wsproto_client_sends_and_tungstenite_echoes() {
    run(async {
        let (server, mut client) = tungstenite_server().await;
        let echo = tokio::spawn(tungstenite_echo(server));
        wsproto_sends(&mut client).await;
        wsproto_closes(client, 1000, "done").await;
        assert_eq!(echo.await.unwrap(), Some(1000));
    });
}

#[test]
fn tungstenite_server_sends_and_wsproto_client_echoes() {
    run(async {
        let (mut server, client) = tungstenite_server().await;
        let echo = tokio::spawn(wsproto_echo(client));
        tungstenite_sends(&mut server).await;
        tungstenite_closes(server, 1000, "done").await;
        assert_eq!(echo.await.unwrap(), Some(1000));
    });
}

/// wsproto's Pings are answered by tokio-tungstenite and the other way
/// round, in both pairings; a Pong carries its Ping's payload.
#[test]
fn pings_are_answered_both_ways_in_both_roles() {
    run(async {
        let (server, client) = wsproto_server().await;
        ping_pong(server, client).await;
        let (server, client) = tungstenite_server().await;
        ping_pong(client, server).await;
    });
}

async fn ping_pong(mut ours: Ws, mut theirs: Tt) {
    // Ours pings; theirs answers while it reads.
    ours.send_ping("from wsproto").await.unwrap();
    let theirs_reads = async {
        // It sees the Ping, then the text that follows it.
        let mut seen = Vec::new();
        while let Some(message) = theirs.next().await {
            let message = message.unwrap();
            let done = message.is_text();
            seen.push(message);
            if done {
                break;
            }
        }
        seen
    };
    let (seen, ()) = tokio::join!(theirs_reads, async {
        ours.send("after the ping").await.unwrap();
    });
    assert_eq!(
        seen,
        [
            TtMessage::Ping("from wsproto".into()),
            TtMessage::text("after the ping")
        ]
    );
    // Its Pong went out with its next write; flush it.
    theirs.flush().await.unwrap();
    assert_eq!(
        ours.recv().await.unwrap().unwrap(),
        Message::pong("from wsproto")
    );

    // Theirs pings; ours answers as it reads.
    theirs
        .send(TtMessage::Ping("from tungstenite".into()))
        .await
        .unwrap();
    theirs.send(TtMessage::text("then this")).await.unwrap();
    assert_eq!(
        ours.recv().await.unwrap().unwrap(),
        Message::ping("from tungstenite")
    );
    assert_eq!(
        ours.recv().await.unwrap().unwrap(),
        Message::text("then this")
    );
    ours.flush().await.unwrap();
    assert_eq!(
        theirs.next().await.unwrap().unwrap(),
        TtMessage::Pong("from tungstenite".into())
    );
    let (ours_end, ()) = tokio::join!(wsproto_echo(ours), tungstenite_closes(theirs, 1000, ""));
    assert_eq!(ours_end, Some(1000));
}

/// Close codes and reasons arrive intact both ways, whichever side is
/// the server.
#[test]
fn close_codes_and_reasons_cross_both_ways_in_both_roles() {
    run(async {
        for (code, reason) in [
            (1000, "normal"),
            (1001, "going away"),
            (1008, "policy"),
            (1011, "oops"),
            (3000, ""),
            (4999, "private é"),
        ] {
            let (server, client) = wsproto_server().await;
            let (theirs, ()) = tokio::join!(
                tungstenite_close_seen(client),
                wsproto_closes(server, code, reason)
            );
            assert_eq!(theirs, (code, reason.to_owned()));

            let (server, client) = wsproto_server().await;
            let (ours, ()) = tokio::join!(
                wsproto_close_seen(server),
                tungstenite_closes(client, code, reason)
            );
            assert_eq!(ours, (code, reason.to_owned()));

            let (server, client) = tungstenite_server().await;
            let (theirs, ()) = tokio::join!(
                tungstenite_close_seen(server),
                wsproto_closes(client, code, reason)
            );
            assert_eq!(theirs, (code, reason.to_owned()));

            let (server, client) = tungstenite_server().await;
            let (ours, ()) = tokio::join!(
                wsproto_close_seen(client),
                tungstenite_closes(server, code, reason)
            );
            assert_eq!(ours, (code, reason.to_owned()));
        }
    });
}

/// The Close frame wsproto receives, reading to the end of the connection.
async fn wsproto_close_seen(mut ws: Ws) -> (u16, String) {
    let mut seen = None;
    while let Some(message) = ws.recv().await {
        if let Message::Close(frame) = message.unwrap() {
            seen = Some((frame.code.as_u16(), frame.reason.to_string()));
        }
    }
    seen.expect("no Close received")
}

/// The Close frame tokio-tungstenite receives, reading to the end.
async fn tungstenite_close_seen(mut ws: Tt) -> (u16, String) {
    let mut seen = None;
    while let Some(message) = ws.next().await {
        match message {
            Ok(TtMessage::Close(Some(frame))) => {
                seen = Some((u16::from(frame.code), frame.reason.to_string()));
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("reading: {e}"),
        }
    }
    seen.expect("no Close received")
}
