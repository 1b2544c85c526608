//! Broadcast over the tokio adapter: one room, each message prepared once
//! and sent to every member as the same shared frame; a member that stops
//! reading is dropped with 1013 while the others get everything.
#![cfg(feature = "tokio")]

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use wsproto::tokio::{Error, Message, WebSocket};
use wsproto::{CloseCode, Config, Delivery, PreparedMessage, Role};

/// `n` connected pairs over loopback TCP, handshake skipped: (client, server).
async fn pairs(n: usize, config: Config) -> Vec<(WebSocket<TcpStream>, WebSocket<TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        out.push((
            WebSocket::from_stream(client.unwrap(), Role::Client, Config::default(), &[]),
            WebSocket::from_stream(server.unwrap().0, Role::Server, config.clone(), &[]),
        ));
    }
    out
}

/// A member's server side, as a chat server writes it: one task that
/// waits for the member's input and the room's messages at once, queues
/// each prepared message without waiting (`recv` writes it), and ends when
/// the room does or the member is dropped. Returns how it ended.
async fn member(
    mut ws: WebSocket<TcpStream>,
    mut feed: broadcast::Receiver<PreparedMessage>,
) -> Result<Delivery, Error> {
    let delivery = loop {
        tokio::select! {
            message = ws.recv() => match message {
                Some(message) => {
                    message?;
                }
                None => return Ok(Delivery::Queued),
            },
            prepared = feed.recv() => match prepared {
                Ok(prepared) => {
                    if ws.feed_prepared(&prepared)? == Delivery::Dropped {
                        break Delivery::Dropped;
                    }
                }
                Err(_) => {
                    ws.close(1000, "").await?;
                    break Delivery::Queued;
                }
            },
        }
    };
    // Finish the closing handshake (bounded by the close timeout).
    while let Some(message) = ws.recv().await {
        message?;
    }
    Ok(delivery)
}

#[tokio::test]
async fn every_member_receives_every_message_in_order() {
    let (room, _) = broadcast::channel(1024);
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for (client, server) in pairs(20, Config::default()).await {
        clients.push(client);
        servers.push(tokio::spawn(member(server, room.subscribe())));
    }
    let messages: Vec<Message> = (0..200)
        .map(|i| match i % 3 {
            0 => Message::text(format!("message {i}")),
            1 => Message::binary(vec![i as u8; i * 50]),
            _ => Message::binary(&[][..]),
        })
        .collect();
    for message in &messages {
        let prepared = match message {
            Message::Text(text) => PreparedMessage::text(text.clone()),
            Message::Binary(data) => PreparedMessage::binary(data.clone()),
            _ => unreachable!(),
        };
        room.send(prepared).unwrap();
    }
    drop(room);
    for mut client in clients {
        for expected in &messages {
            assert_eq!(&client.recv().await.unwrap().unwrap(), expected);
        }
        assert!(matches!(client.recv().await, Some(Ok(Message::Close(_)))));
        assert!(client.recv().await.is_none());
    }
    for server in servers {
        assert_eq!(server.await.unwrap().unwrap(), Delivery::Queued);
    }
}

#[tokio::test]
async fn a_member_that_stops_reading_is_dropped_with_1013() {
    const COUNT: usize = 400;
    let config = Config::default().max_write_buffer(64 << 10);
    let (room, _) = broadcast::channel(COUNT);
    let mut pairs = pairs(3, config).await;
    let (mut slow, slow_server) = pairs.pop().unwrap();
    let slow_task = tokio::spawn(member(slow_server, room.subscribe()));
    let mut readers = Vec::new();
    for (mut client, server) in pairs {
        tokio::spawn(member(server, room.subscribe()));
        readers.push(tokio::spawn(async move {
            let mut n = 0;
            while let Some(message) = client.recv().await {
                if message.unwrap().is_data() {
                    n += 1;
                }
            }
            n
        }));
    }
    // 400 × 64 KiB: far more than loopback's socket buffers hold.
    let payload = wsproto::Bytes::from(vec![1u8; 64 << 10]);
    for _ in 0..COUNT {
        room.send(PreparedMessage::binary(payload.clone())).unwrap();
        tokio::task::yield_now().await;
    }
    drop(room);
    // The slow one reads only now: some messages, then the 1013.
    let mut received = 0;
    let close = loop {
        match slow.recv().await.unwrap().unwrap() {
            Message::Binary(_) => received += 1,
            Message::Close(frame) => break frame,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::TRY_AGAIN_LATER);
    assert!(received < COUNT, "{received}");
    assert_eq!(slow_task.await.unwrap().unwrap(), Delivery::Dropped);
    for reader in readers {
        assert_eq!(reader.await.unwrap(), COUNT);
    }
}

#[tokio::test]
async fn a_client_cannot_send_prepared() {
    let (mut client, _server) = pairs(1, Config::default()).await.pop().unwrap();
    let refused = client.send_prepared(&PreparedMessage::text("x")).await;
    assert!(matches!(
        refused,
        Err(Error::Usage(wsproto::UsageError::PreparedByClient))
    ));
}

/// The split writer shares the bound with what it took out of the core.
#[tokio::test]
async fn the_split_writer_sends_prepared_messages() {
    let (mut client, server) = pairs(1, Config::default()).await.pop().unwrap();
    let (_reader, writer) = server.into_split();
    let prepared = PreparedMessage::text("to everyone");
    for _ in 0..3 {
        assert_eq!(
            writer.send_prepared(&prepared).await.unwrap(),
            Delivery::Queued
        );
    }
    for _ in 0..3 {
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text("to everyone")
        );
    }
}
