//! The blocking adapter over TLS with a self-signed certificate made in
//! the test: split halves under concurrent load, and a write timeout that
//! ends the connection. The round trips both adapters share are in
//! `tests/adapters/tls.rs`.

#![cfg(feature = "tls")]

use crate::support;

use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use support::blocking::*;
use support::tls::pki;
use wsproto::blocking::accept_tls;
use wsproto::blocking::{ClientBuilder, Error, Message, accept};

/// A TLS WebSocket server on 127.0.0.1 running `f` on one connection.
fn tls_server<R: Send + 'static>(
    config: Arc<wsproto::tls::rustls::ServerConfig>,
    f: impl FnOnce(
        wsproto::blocking::WebSocket<wsproto::blocking::MaybeTlsStream<std::net::TcpStream>>,
    ) -> R
    + Send
    + 'static,
) -> (u16, thread::JoinHandle<R>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let tls = accept_tls(tcp, config, Duration::from_secs(10)).unwrap();
        f(accept(tls).unwrap())
    });
    (port, handle)
}

#[test]
fn split_halves_over_tls_under_concurrent_load() {
    let (server_config, client_config) = pki(&["localhost"]);
    let (hand_over, take) = std::sync::mpsc::channel();
    let (port, server) = tls_server(server_config, move |ws| hand_over.send(ws).unwrap());
    let (client, _) = ClientBuilder::new(format!("wss://localhost:{port}/"))
        .tls_config(client_config)
        .connect()
        .unwrap();
    server.join().unwrap();
    let server_ws = take.recv().unwrap();
    let n = 2000;
    let (client_report, server_report, pings) = concurrent_load(client, server_ws, n);
    assert_eq!((client_report.received, server_report.received), (n, n));
    assert_eq!(server_report.pongs, pings);
    assert!(client_report.end.is_closed(), "{:?}", client_report.end);
    assert!(server_report.end.is_closed(), "{:?}", server_report.end);
}

/// A write timeout over TLS ends the connection: rustls has already
/// encrypted the plaintext it took, so no retry could continue the frame.
/// Unsplit and split, against a client that does not read.
#[test]
fn a_write_timeout_over_tls_is_fatal() {
    for split in [false, true] {
        let (server_config, client_config) = pki(&["localhost"]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let tls = accept_tls(tcp, server_config, Duration::from_secs(10)).unwrap();
            let ws = wsproto::blocking::ServerBuilder::new()
                .write_timeout(Some(Duration::from_millis(100)))
                .accept(tls)
                .unwrap();
            let big = Message::binary(vec![1; 64 << 20]);
            if split {
                let (mut reader, writer) = ws.into_split().unwrap();
                let error = writer.send(big).unwrap_err();
                assert!(error.is_fatal(), "{error:?}");
                assert!(matches!(writer.send("after"), Err(Error::ConnectionLost)));
                assert!(matches!(reader.read(), Err(Error::ConnectionLost)));
            } else {
                let mut ws = ws;
                let error = ws.send(big).unwrap_err();
                assert!(error.is_fatal(), "{error:?}");
                assert!(matches!(ws.send("after"), Err(Error::ConnectionLost)));
                assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
            }
        });
        let (ws, _) = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .tls_config(client_config)
            .connect()
            .unwrap();
        server.join().unwrap();
        drop(ws);
    }
}
