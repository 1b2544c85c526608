//! The tokio client through real proxies started by the tests: tinyproxy
//! (HTTP CONNECT) and microsocks (SOCKS5), with and without credentials,
//! `ws://` and `wss://`; refusals, a stalled proxy against the handshake
//! timeout, and `NO_PROXY` from an environment snapshot. The proxy leg is
//! the same sans-IO exchange as the blocking client's
//! (`blocking_proxy.rs` covers every error); this checks the async
//! adapter moves its bytes.

// The echo server behind the proxies is the blocking one.
#![cfg(all(feature = "tokio", feature = "blocking"))]

mod proxy_support;

use std::time::Duration;

use proxy_support::*;
use tokio::time::Instant;
use wsproto::proxy::{ProxyEnv, ProxyError, Socks5Reply};
use wsproto::tokio::{ClientBuilder, Error, Message};

/// Sends a few messages through `builder`'s connection, checks the echoes
/// and closes; returns whether the stream was TLS.
async fn round_trip(builder: ClientBuilder) -> bool {
    let (mut ws, _) = builder.connect().await.unwrap();
    for size in [0usize, 5, 70_000] {
        let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
        ws.send(Message::binary(data.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap().as_bytes(), data);
    }
    ws.send("through the proxy").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("through the proxy")
    );
    ws.close(1000, "").await.unwrap();
    while let Some(message) = ws.recv().await {
        if let Err(e) = message {
            assert!(e.is_closed(), "{e:?}");
            break;
        }
    }
    ws.get_ref().is_tls()
}

/// The error of connecting with `builder`, whose text and `Debug` must
/// not hold the password.
async fn failure(builder: ClientBuilder) -> Error {
    assert!(!format!("{builder:?}").contains(AUTH.1), "{builder:?}");
    let Err(e) = builder.connect().await else {
        panic!("connect should fail")
    };
    assert!(!e.to_string().contains(AUTH.1), "{e}");
    assert!(!format!("{e:?}").contains(AUTH.1), "{e:?}");
    e
}

#[tokio::test]
async fn ws_through_tinyproxy_and_microsocks_with_and_without_auth() {
    let server = EchoServer::start(None);
    let url = format!("ws://localhost:{}/", server.port);
    for auth in [None, Some(AUTH)] {
        let (Some(http), Some(socks)) = (
            ProxyProcess::tinyproxy(auth),
            ProxyProcess::microsocks(auth),
        ) else {
            return;
        };
        for proxy in [
            http.url("http", auth),
            socks.url("socks5", auth),
            socks.url("socks5h", auth),
        ] {
            assert!(!round_trip(ClientBuilder::new(&url).proxy(proxy)).await);
        }
        let log = http.output();
        assert!(
            log.contains(&format!("CONNECT localhost:{}", server.port)),
            "{log}"
        );
    }
    let from_proxies = [TINYPROXY_OUT, MICROSOCKS_OUT, MICROSOCKS_OUT];
    assert_eq!(server.peers(), [from_proxies, from_proxies].concat());
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn wss_through_each_proxy_is_tls_inside_the_tunnel_for_the_target() {
    let (server_config, client_config) = pki(&["localhost"]);
    let server = EchoServer::start(Some(server_config));
    let (Some(http), Some(socks)) = (
        ProxyProcess::tinyproxy(Some(AUTH)),
        ProxyProcess::microsocks(Some(AUTH)),
    ) else {
        return;
    };
    for proxy in [
        http.url("http", Some(AUTH)),
        socks.url("socks5h", Some(AUTH)),
        socks.url("socks5", Some(AUTH)),
    ] {
        let builder = ClientBuilder::new(format!("wss://localhost:{}/", server.port))
            .tls_config(client_config.clone())
            .proxy(proxy);
        assert!(round_trip(builder).await);
    }
    let names = server.server_names.lock().unwrap().clone();
    assert_eq!(names, vec![Some("localhost".to_owned()); 3]);
    assert_eq!(
        server.peers(),
        [TINYPROXY_OUT, MICROSOCKS_OUT, MICROSOCKS_OUT]
    );
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn wss_through_a_proxy_checks_the_certificate_against_the_target() {
    let (server_config, client_config) = pki(&["other.example"]);
    let server = EchoServer::start(Some(server_config));
    let Some(proxy) = ProxyProcess::tinyproxy(None) else {
        return;
    };
    let e = failure(
        ClientBuilder::new(format!("wss://localhost:{}/", server.port))
            .tls_config(client_config)
            .proxy(proxy.url("http", None)),
    )
    .await;
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
}

#[tokio::test]
async fn refusals_407_403_and_socks5_reply_codes() {
    let (Some(http), Some(denying), Some(socks)) = (
        ProxyProcess::tinyproxy(Some(AUTH)),
        ProxyProcess::tinyproxy_denying_all(),
        ProxyProcess::microsocks(Some(AUTH)),
    ) else {
        return;
    };
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{dead}/");
    let e = proxy_error(failure(ClientBuilder::new(&url).proxy(http.url("http", None))).await);
    assert_eq!(
        e,
        ProxyError::HttpRefused {
            status: 407,
            authenticate: vec!["Basic".into()],
            sent_credentials: false
        }
    );
    let e = failure(ClientBuilder::new(&url).proxy(denying.url("http", None))).await;
    assert_eq!(e.http_status(), Some(403));
    let e = proxy_error(
        failure(ClientBuilder::new(&url).proxy(socks.url("socks5h", Some(AUTH)))).await,
    );
    assert_eq!(e, ProxyError::Socks5Refused(Socks5Reply::ConnectionRefused));
    let e = proxy_error(
        failure(ClientBuilder::new(&url).proxy(socks.url("socks5", Some(("alice", "nope"))))).await,
    );
    assert_eq!(e, ProxyError::Socks5AuthFailed);
}

#[tokio::test]
async fn a_stalled_proxy_runs_into_the_handshake_timeout() {
    let Some(proxy) = ProxyProcess::tinyproxy(None) else {
        return;
    };
    proxy.pause();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let e = proxy_error(
        failure(
            ClientBuilder::new("ws://localhost:9/")
                .proxy(proxy.url("http", None))
                .handshake_timeout(timeout),
        )
        .await,
    );
    assert_eq!(e, ProxyError::Timeout);
    let took = started.elapsed();
    assert!(took >= timeout && took < timeout * 10, "{took:?}");
}

#[tokio::test]
async fn a_proxy_that_closes_and_a_malformed_proxy_url() {
    let port = scripted_proxy(drop);
    let e = proxy_error(
        failure(ClientBuilder::new("ws://localhost:9/").proxy(format!("http://127.0.0.1:{port}")))
            .await,
    );
    assert_eq!(e, ProxyError::Closed);
    let e = proxy_error(
        failure(ClientBuilder::new("ws://localhost:9/").proxy("http://alice:pw-s3cret@p:0")).await,
    );
    assert!(matches!(e, ProxyError::InvalidUrl(_)), "{e:?}");
}

#[tokio::test]
async fn no_proxy_bypasses_a_proxy_that_refuses_everything() {
    let Some(denying) = ProxyProcess::tinyproxy_denying_all() else {
        return;
    };
    let server = EchoServer::start(None);
    let url = format!("ws://localhost:{}/", server.port);
    let proxy = denying.url("http", None);
    let env = ProxyEnv::from_pairs([("http_proxy", proxy.as_str())]);
    let e = failure(ClientBuilder::new(&url).proxy_env(env.clone())).await;
    assert_eq!(e.http_status(), Some(403));
    round_trip(ClientBuilder::new(&url).proxy_env(env).no_proxy()).await;
    let env = ProxyEnv::from_pairs([("http_proxy", proxy.as_str()), ("no_proxy", ".localhost")]);
    round_trip(ClientBuilder::new(&url).proxy_env(env)).await;
    assert_eq!(server.peers(), ["127.0.0.1"; 2]);
}

/// An `https://` proxy (a TLS front on tinyproxy): `ws://` rides the
/// proxy's TLS, `wss://` is TLS with the server inside it.
#[cfg(feature = "tls")]
#[tokio::test]
async fn through_an_https_proxy_ws_and_wss_with_tls_inside_tls() {
    let Some(tinyproxy) = ProxyProcess::tinyproxy(Some(AUTH)) else {
        return;
    };
    let (front_config, front_cert) = certified(&["127.0.0.1"]);
    let (server_config, server_cert) = certified(&["localhost"]);
    let front = TlsFront::start(front_config, tinyproxy.port());
    let client_config = trusting(vec![front_cert, server_cert]);
    let proxy = format!("https://alice:pw-s3cret@127.0.0.1:{}", front.port);
    let plain = EchoServer::start(None);
    let secure = EchoServer::start(Some(server_config));
    for (url, server) in [
        (format!("ws://localhost:{}/", plain.port), &plain),
        (format!("wss://localhost:{}/", secure.port), &secure),
    ] {
        let builder = ClientBuilder::new(url)
            .tls_config(client_config.clone())
            .proxy(&proxy);
        assert!(round_trip(builder).await);
        assert_eq!(server.peers(), [TINYPROXY_OUT]);
    }
    assert_eq!(*front.server_names.lock().unwrap(), [None, None]);
    assert_eq!(
        *secure.server_names.lock().unwrap(),
        [Some("localhost".to_owned())]
    );
}
