//! The tokio adapter over real loopback sockets and in-memory pipes: echo
//! of every size, split halves from several tasks, cancel safety.
#![cfg(feature = "tokio")]

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::tokio::{Error, Message, WebSocket};
use wsproto::{Config, Connection, Event, Role, Transmit};

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
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
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
