//! The reconnecting client against a server that goes away and comes back
//! on the same port: backoff, the hook resending "auth" on every connect,
//! and giving up after the configured attempts.

#![cfg(feature = "blocking")]

use crate::support;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::blocking::*;
use wsproto::CloseCode;
use wsproto::blocking::{Backoff, ClientBuilder, Error, Message, ReconnectingClient, accept};

fn fast_backoff() -> Backoff {
    let mut backoff = Backoff::default();
    backoff.initial = Duration::from_millis(5);
    backoff.max = Duration::from_millis(50);
    backoff
}

/// Serves one connection on `listener`: expects the auth message, sends
/// `greeting`, then goes away per `how`.
fn serve_session(listener: &TcpListener, greeting: &str, go_away: bool) -> Message {
    let (tcp, _) = listener.accept().unwrap();
    let mut ws = accept(tcp).unwrap();
    let auth = ws.read().unwrap();
    ws.send(greeting).unwrap();
    if go_away {
        // A restart: Going Away, then the socket and the listener are gone.
        ws.close(CloseCode::GOING_AWAY, "restart").unwrap();
        let _ = drain(&mut ws);
    } else {
        let _ = drain(&mut ws);
    }
    auth
}

#[test]
fn reconnects_after_the_server_restarts_and_resends_auth() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (retried_tx, retried) = mpsc::channel();
    let server = thread::spawn(move || {
        let first = serve_session(&listener, "hello 1", true);
        drop(listener);
        // Come back only after the client has seen the server gone (a
        // refused attempt), on the same port.
        let _: u32 = retried.recv().unwrap();
        let listener = TcpListener::bind(addr).unwrap();
        let second = serve_session(&listener, "hello 2", false);
        (first, second)
    });
    let mut hook_calls = 0;
    let mut client = ReconnectingClient::new(ClientBuilder::new(url(addr)), |ws, _| {
        hook_calls += 1;
        ws.send("auth token")
    })
    .backoff(fast_backoff())
    .on_retry(move |attempt, error, delay| {
        // Refused, or reset by the listener on its way out.
        assert!(error.is_fatal(), "{error:?}");
        assert!(delay <= Duration::from_millis(50));
        let _ = retried_tx.send(attempt);
    });
    assert_eq!(client.read().unwrap(), Message::text("hello 1"));
    assert!(matches!(client.read().unwrap(), Message::Close(f) if f.code == CloseCode::GOING_AWAY));
    // The next read finds the connection over, retries until the server is
    // back, runs the hook again and reads on.
    assert_eq!(client.read().unwrap(), Message::text("hello 2"));
    assert_eq!(client.connects(), 2);
    client.close(1000, "bye").unwrap();
    loop {
        match client.read() {
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_closed(), "{e:?}");
                break;
            }
        }
    }
    drop(client);
    assert_eq!(hook_calls, 2);
    let (first, second) = server.join().unwrap();
    assert_eq!(first, Message::text("auth token"));
    assert_eq!(second, Message::text("auth token"));
}

#[test]
fn gives_up_after_max_attempts() {
    let refusing = support::net::RefusedPort::new();
    let addr = refusing.addr();
    let mut backoff = fast_backoff();
    backoff.max_attempts = Some(3);
    let mut attempts = Vec::new();
    let (tx, rx) = mpsc::channel();
    let mut client = ReconnectingClient::new(ClientBuilder::new(url(addr)), |_, _| Ok(()))
        .backoff(backoff)
        .on_retry(move |attempt, _, _| tx.send(attempt).unwrap());
    let started = Instant::now();
    let error = client.read().unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
    attempts.extend(rx.try_iter());
    // Three attempts, so two waits between them.
    assert_eq!(attempts, [1, 2]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(client.connects(), 0);
}

#[test]
fn a_4xx_refusal_is_not_retried() {
    let (addr, server) = serve_one(|tcp| {
        wsproto::blocking::accept_with(tcp, |_| wsproto::blocking::Decision::reject(401))
            .map(|_| ())
    });
    let mut client = ReconnectingClient::new(ClientBuilder::new(url(addr)), |_, _| Ok(()))
        .backoff(fast_backoff())
        .on_retry(|_, e, _| panic!("retried after {e:?}"));
    let error = client.read().unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    assert!(server.join().unwrap().is_err());
}

#[test]
fn backoff_grows_exponentially_within_its_cap() {
    let mut backoff = Backoff::default();
    backoff.initial = Duration::from_millis(100);
    backoff.max = Duration::from_secs(1);
    backoff.jitter = 0.0;
    let delays: Vec<_> = (0..6).map(|n| backoff.delay(n).as_millis()).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    backoff.jitter = 0.5;
    for n in 0..40 {
        let d = backoff.delay(n);
        let base = Duration::from_millis(100)
            .saturating_mul(1 << n.min(30))
            .min(backoff.max);
        assert!(d <= base && d >= base / 2, "{n}: {d:?}");
    }
}
