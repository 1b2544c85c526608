//! TLS round trips with a self-signed certificate made in the test:
//! `wss://` through `ClientBuilder` with a custom root store, a server
//! that accepts TLS, and split halves over TLS under concurrent load.

#![cfg(feature = "tls")]

mod blocking_support;

use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use blocking_support::*;
use wsproto::blocking::tls::rustls::RootCertStore;
use wsproto::blocking::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use wsproto::blocking::tls::{accept_tls, client_config_with_roots, server_config};
use wsproto::blocking::{ClientBuilder, Error, Message, accept};

/// A certificate for `localhost` and a client config that trusts it.
fn pki() -> (
    Arc<wsproto::blocking::tls::rustls::ServerConfig>,
    Arc<wsproto::blocking::tls::rustls::ClientConfig>,
) {
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

/// A TLS WebSocket server on 127.0.0.1 running `f` on one connection.
fn tls_server<R: Send + 'static>(
    config: Arc<wsproto::blocking::tls::rustls::ServerConfig>,
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
fn wss_round_trip_with_a_self_signed_certificate() {
    let (server_config, client_config) = pki();
    let (port, server) = tls_server(server_config, |mut ws| {
        assert!(ws.get_ref().is_tls());
        echo(&mut ws)
    });
    let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{port}/"))
        .tls_config(client_config)
        .connect()
        .unwrap();
    assert!(ws.get_ref().is_tls());
    for (i, size) in [0usize, 5, 1000, 70_000, 1 << 20].into_iter().enumerate() {
        let data = payload(size, i as u32);
        ws.send(Message::binary(data.clone())).unwrap();
        assert_eq!(ws.read().unwrap().as_bytes(), data);
    }
    ws.send("über TLS").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("über TLS"));
    ws.close(1000, "").unwrap();
    let (_, end) = drain(&mut ws);
    assert!(end.is_closed(), "{end:?}");
    let (end, count) = server.join().unwrap();
    assert!(end.is_closed(), "{end:?}");
    assert_eq!(count, 6);
}

#[test]
fn an_untrusted_certificate_is_a_tls_error() {
    let (server_config, _) = pki();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        accept_tls(tcp, server_config, Duration::from_secs(10)).map(|_| ())
    });
    // The default roots (webpki-roots) do not know our certificate.
    let error = ClientBuilder::new(format!("wss://localhost:{port}/"))
        .connect()
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(server.join().unwrap().is_err());
}

#[test]
fn split_halves_over_tls_under_concurrent_load() {
    let (server_config, client_config) = pki();
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
        let (server_config, client_config) = pki();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let tls = accept_tls(tcp, server_config, Duration::from_secs(10)).unwrap();
            let mut config = wsproto::Config::default();
            config.write_timeout = Some(Duration::from_millis(100));
            let ws = wsproto::blocking::ServerBuilder::new()
                .config(config)
                .accept(tls)
                .unwrap();
            let big = Message::binary(vec![1; 64 << 20]);
            if split {
                let (mut reader, writer) = ws.split().unwrap();
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
