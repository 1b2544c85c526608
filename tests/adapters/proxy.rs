//! Both adapters' clients through real proxies started by the tests:
//! tinyproxy (HTTP CONNECT, with and without Basic authentication) and
//! microsocks (SOCKS5, with and without username/password), `ws://` and
//! `wss://`; every refusal and failure of the proxy leg with its error;
//! and `NO_PROXY` from an environment snapshot. Each test runs against the
//! blocking client and the tokio one (`against_both_adapters!`); the echo
//! servers behind the proxies are blocking.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::Write;
use std::time::Instant;

use support::adapter::{ClientBuilder, Error, Message};
use support::net::RefusedPort;
use support::proxy::*;
use support::timing::assert_timed;
use wsproto::proxy::{ProxyEnv, ProxyError, Socks5Reply};

/// Sends a few messages through `builder`'s connection, checks the
/// echoes, closes and reads to the end; returns whether the stream was
/// TLS.
fn round_trip(builder: ClientBuilder) -> bool {
    let (mut ws, _) = builder.connect().unwrap();
    for size in [0usize, 5, 70_000] {
        let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
        ws.send(Message::binary(data.clone())).unwrap();
        assert_eq!(ws.read().unwrap().as_bytes(), data);
    }
    ws.send("through the proxy").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("through the proxy"));
    ws.close(1000, "").unwrap();
    let (_, end) = ws.drain();
    assert!(end.is_closed(), "{end:?}");
    ws.is_tls()
}

/// The error of connecting with `builder`, whose text and `Debug` must
/// not hold the password.
fn failure(builder: ClientBuilder) -> Error {
    assert!(!format!("{builder:?}").contains(AUTH.1), "{builder:?}");
    let Err(e) = builder.connect() else {
        panic!("connect should fail")
    };
    assert!(!e.to_string().contains(AUTH.1), "{e}");
    assert!(!format!("{e:?}").contains(AUTH.1), "{e:?}");
    e
}

fn ws_through_tinyproxy_with_and_without_basic_auth() {
    let server = EchoServer::start(None);
    for auth in [None, Some(AUTH)] {
        let Some(proxy) = ProxyProcess::tinyproxy(auth) else {
            return;
        };
        assert!(!round_trip(
            ClientBuilder::new(format!("ws://localhost:{}/", server.port))
                .proxy(proxy.url("http", auth)),
        ));
        let log = proxy.output();
        assert!(
            log.contains(&format!("CONNECT localhost:{}", server.port)),
            "{log}"
        );
    }
    assert_eq!(server.peers(), [TINYPROXY_OUT; 2]);
}

fn ws_through_microsocks_socks5_and_socks5h_with_and_without_auth() {
    let server = EchoServer::start(None);
    for auth in [None, Some(AUTH)] {
        let Some(proxy) = ProxyProcess::microsocks(auth) else {
            return;
        };
        for scheme in ["socks5", "socks5h"] {
            assert!(!round_trip(
                ClientBuilder::new(format!("ws://localhost:{}/", server.port))
                    .proxy(proxy.url(scheme, auth)),
            ));
        }
    }
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        4
    );
    assert_eq!(server.peers(), [MICROSOCKS_OUT; 4]);
}

#[cfg(feature = "tls")]
fn wss_through_each_proxy_is_tls_inside_the_tunnel_for_the_target() {
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
        assert!(round_trip(
            ClientBuilder::new(format!("wss://localhost:{}/", server.port))
                .tls_config(client_config.clone())
                .proxy(proxy),
        ));
    }
    // SNI named the target, never the proxy (127.0.0.1, which has none).
    let names = server.server_names.lock().unwrap().clone();
    assert_eq!(names, vec![Some("localhost".to_owned()); 3]);
    assert_eq!(
        server.peers(),
        [TINYPROXY_OUT, MICROSOCKS_OUT, MICROSOCKS_OUT]
    );
}

#[cfg(feature = "tls")]
fn wss_through_a_proxy_checks_the_certificate_against_the_target() {
    let (server_config, client_config) = pki(&["other.example"]);
    let server = EchoServer::start(Some(server_config));
    let Some(proxy) = ProxyProcess::tinyproxy(None) else {
        return;
    };
    let e = failure(
        ClientBuilder::new(format!("wss://localhost:{}/", server.port))
            .tls_config(client_config)
            .proxy(proxy.url("http", None)),
    );
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
}

fn tinyproxy_407_without_and_with_wrong_credentials_names_the_scheme() {
    let Some(proxy) = ProxyProcess::tinyproxy(Some(AUTH)) else {
        return;
    };
    let url = "ws://localhost:9/";
    let e = proxy_error(failure(
        ClientBuilder::new(url).proxy(proxy.url("http", None)),
    ));
    assert_eq!(
        e,
        ProxyError::HttpRefused {
            status: 407,
            authenticate: vec!["Basic".into()],
            sent_credentials: false
        }
    );
    let wrong = failure(
        ClientBuilder::new(url).proxy(proxy.url("http", Some(("alice", "wrong-pw-s3cret")))),
    );
    // tinyproxy 1.11 answers wrong credentials with 401 and
    // `WWW-Authenticate` (squid with 407): either is named.
    assert!(matches!(wrong.http_status(), Some(401 | 407)), "{wrong}");
    assert!(
        wrong.to_string().contains("-Authenticate: Basic"),
        "{wrong}"
    );
    assert!(
        wrong
            .to_string()
            .contains("credentials in the proxy URL were refused"),
        "{wrong}"
    );
    assert!(!wrong.to_string().contains("wrong-pw"), "{wrong}");
}

fn tinyproxy_403_for_a_client_it_denies_and_500_for_a_dead_target() {
    let Some(denying) = ProxyProcess::tinyproxy_denying_all() else {
        return;
    };
    let dead = RefusedPort::new();
    let dead_url = format!("ws://127.0.0.1:{}/", dead.port());
    for url in ["ws://localhost:9/", dead_url.as_str()] {
        let e = failure(ClientBuilder::new(url).proxy(denying.url("http", None)));
        assert_eq!(e.http_status(), Some(403), "{e}");
    }
    let Some(proxy) = ProxyProcess::tinyproxy(None) else {
        return;
    };
    let e = failure(ClientBuilder::new(dead_url).proxy(proxy.url("http", None)));
    assert_eq!(e.http_status(), Some(500), "{e}");
}

fn a_502_from_the_proxy_is_its_status() {
    let port = scripted_proxy(|mut tcp| {
        read_head(&mut tcp);
        let _ = tcp.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    });
    let e =
        failure(ClientBuilder::new("ws://localhost:9/").proxy(format!("http://127.0.0.1:{port}")));
    assert_eq!(e.http_status(), Some(502));
    assert_eq!(
        e.to_string(),
        "proxy: the HTTP proxy refused the tunnel: 502 Bad Gateway"
    );
}

fn socks5_refusals_are_named() {
    let Some(proxy) = ProxyProcess::microsocks(Some(AUTH)) else {
        return;
    };
    let dead = RefusedPort::new();
    let url = format!("ws://127.0.0.1:{}/", dead.port());
    for scheme in ["socks5", "socks5h"] {
        let e = proxy_error(failure(
            ClientBuilder::new(&url).proxy(proxy.url(scheme, Some(AUTH))),
        ));
        assert_eq!(e, ProxyError::Socks5Refused(Socks5Reply::ConnectionRefused));
        assert!(e.to_string().contains("connection refused (X'05')"), "{e}");
    }
    let e = proxy_error(failure(
        ClientBuilder::new(&url).proxy(proxy.url("socks5", Some(("alice", "nope")))),
    ));
    assert_eq!(e, ProxyError::Socks5AuthFailed);
    let e = proxy_error(failure(
        ClientBuilder::new(&url).proxy(proxy.url("socks5", None)),
    ));
    assert_eq!(
        e,
        ProxyError::Socks5NoAcceptableMethod {
            offered_password: false
        }
    );
}

fn an_endless_answer_from_the_proxy_is_capped_like_a_servers() {
    let port = scripted_proxy(|mut tcp| {
        read_head(&mut tcp);
        let _ = tcp.write_all(b"HTTP/1.1 200 Connection established\r\n");
        let filler = b"X-Filler: 0123456789abcdef0123456789abcdef\r\n".repeat(1000);
        while tcp.write_all(&filler).is_ok() {}
    });
    let limits = wsproto::HandshakeLimits::default().max_head_size(8 << 10);
    let e = proxy_error(failure(
        ClientBuilder::new("ws://localhost:9/")
            .handshake_limits(limits)
            .proxy(format!("http://127.0.0.1:{port}")),
    ));
    assert!(matches!(e, ProxyError::ResponseTooLarge(_)), "{e:?}");
}

fn the_reconnecting_client_gives_up_at_once_on_a_proxy_refusal() {
    let Some(proxy) = ProxyProcess::tinyproxy(Some(AUTH)) else {
        return;
    };
    let builder = ClientBuilder::new("ws://localhost:9/").proxy(proxy.url("http", None));
    let e = builder.reconnect_error_without_retry();
    assert_eq!(e.http_status(), Some(407), "{e}");
    let builder = ClientBuilder::new("ws://localhost:9/").proxy("http://alice:pw-s3cret@p:0");
    assert!(matches!(
        builder.reconnect_error_without_retry(),
        Error::Proxy(ProxyError::InvalidUrl(_))
    ));
}

fn a_proxy_that_closes_at_once_is_closed() {
    let port = scripted_proxy(drop);
    for scheme in ["http", "socks5h"] {
        let e = proxy_error(failure(
            ClientBuilder::new("ws://localhost:9/").proxy(format!("{scheme}://127.0.0.1:{port}")),
        ));
        assert_eq!(e, ProxyError::Closed, "{scheme}");
    }
}

fn a_stalled_proxy_runs_into_the_handshake_timeout() {
    let Some(proxy) = ProxyProcess::tinyproxy(None) else {
        return;
    };
    proxy.pause();
    let timeout = std::time::Duration::from_millis(300);
    let started = Instant::now();
    let e = proxy_error(failure(
        ClientBuilder::new("ws://localhost:9/")
            .proxy(proxy.url("http", None))
            .handshake_timeout(timeout),
    ));
    assert_eq!(e, ProxyError::Timeout);
    assert_timed(started.elapsed(), timeout);
}

fn a_malformed_proxy_url_fails_before_connecting_without_showing_it() {
    for bad in [
        "ftp://alice:pw-s3cret@p:1",
        "http://alice:pw-s3cret@p:99999",
        "http://alice:pw-s3cret@p:0",
        "http://alice:pw-s3cret@/",
    ] {
        let e = proxy_error(failure(ClientBuilder::new("ws://localhost:9/").proxy(bad)));
        assert!(matches!(e, ProxyError::InvalidUrl(_)), "{e:?}");
    }
    let env = ProxyEnv::from_pairs([("http_proxy", "socks4://alice:pw-s3cret@p")]);
    let e = proxy_error(failure(
        ClientBuilder::new("ws://localhost:9/").proxy_env(env),
    ));
    assert!(matches!(e, ProxyError::InvalidUrl(_)), "{e:?}");
}

fn no_proxy_bypasses_a_proxy_that_refuses_everything() {
    let Some(denying) = ProxyProcess::tinyproxy_denying_all() else {
        return;
    };
    let server = EchoServer::start(None);
    let url = format!("ws://localhost:{}/", server.port);
    let proxy = denying.url("http", None);
    // Through the proxy: refused, as for every client.
    let env = ProxyEnv::from_pairs([("HTTP_PROXY", proxy.as_str())]);
    let e = failure(ClientBuilder::new(&url).proxy_env(env));
    assert_eq!(e.http_status(), Some(403), "{e:?}");
    // NO_PROXY by name, by name and port, by domain suffix, by CIDR of
    // the address URL, `*`.
    let port_rule = format!("localhost:{}", server.port);
    for (no_proxy, target) in [
        ("example.com,localhost", url.clone()),
        (port_rule.as_str(), url.clone()),
        (".localhost", url.clone()),
        (
            "10.0.0.0/8, 127.0.0.0/8",
            format!("ws://127.0.0.1:{}/", server.port),
        ),
        ("*", url.clone()),
    ] {
        let env = ProxyEnv::from_pairs([("HTTP_PROXY", proxy.as_str()), ("NO_PROXY", no_proxy)]);
        round_trip(ClientBuilder::new(&target).proxy_env(env));
    }
    // Each bypass came straight from the client.
    assert_eq!(server.peers(), ["127.0.0.1"; 5]);
    // A rule for another port does not bypass.
    let env = ProxyEnv::from_pairs([("http_proxy", proxy.as_str()), ("no_proxy", "localhost:1")]);
    assert_eq!(
        failure(ClientBuilder::new(&url).proxy_env(env.clone())).http_status(),
        Some(403)
    );
    // no_proxy() ignores the environment altogether.
    round_trip(ClientBuilder::new(&url).proxy_env(env).no_proxy());
    assert_eq!(server.peers(), ["127.0.0.1"; 6]);
}

fn the_environment_picks_socks_through_all_proxy() {
    let Some(proxy) = ProxyProcess::microsocks(Some(AUTH)) else {
        return;
    };
    let server = EchoServer::start(None);
    let env = ProxyEnv::from_pairs([("ALL_PROXY", proxy.url("socks5h", Some(AUTH)))]);
    let builder = ClientBuilder::new(format!("ws://localhost:{}/", server.port)).proxy_env(env);
    assert!(!format!("{builder:?}").contains(AUTH.1));
    round_trip(builder);
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// An `https://` proxy: a TLS front (certificate for 127.0.0.1) on a
/// tinyproxy with Basic authentication; its URL, the front, and a client
/// config trusting the front and `server_cert`.
#[cfg(feature = "tls")]
fn https_proxy(
    tinyproxy: &ProxyProcess,
    server_cert: wsproto::tls::rustls::pki_types::CertificateDer<'static>,
) -> (
    String,
    TlsFront,
    std::sync::Arc<wsproto::tls::rustls::ClientConfig>,
) {
    let (front_config, front_cert) = certified(&["127.0.0.1"]);
    let front = TlsFront::start(front_config, tinyproxy.port());
    let proxy = format!("https://alice:pw-s3cret@127.0.0.1:{}", front.port);
    (proxy, front, trusting(vec![front_cert, server_cert]))
}

/// An `https://` proxy: `ws://` rides the proxy's TLS; `wss://` is TLS
/// with the server inside it, each session checked against its own name
/// (the proxy's certificate is for 127.0.0.1, the server's for
/// localhost).
#[cfg(feature = "tls")]
fn through_an_https_proxy_ws_and_wss_with_tls_inside_tls() {
    let Some(tinyproxy) = ProxyProcess::tinyproxy(Some(AUTH)) else {
        return;
    };
    let (server_config, server_cert) = certified(&["localhost"]);
    let (proxy, front, client_config) = https_proxy(&tinyproxy, server_cert);
    let plain = EchoServer::start(None);
    let secure = EchoServer::start(Some(server_config));
    for (url, server) in [
        (format!("ws://localhost:{}/", plain.port), &plain),
        (format!("wss://localhost:{}/", secure.port), &secure),
    ] {
        assert!(round_trip(
            ClientBuilder::new(url)
                .tls_config(client_config.clone())
                .proxy(&proxy),
        ));
        assert_eq!(server.peers(), [TINYPROXY_OUT]);
    }
    // No SNI for an IP address; the server's session named the server.
    assert_eq!(*front.server_names.lock().unwrap(), [None, None]);
    assert_eq!(
        *secure.server_names.lock().unwrap(),
        [Some("localhost".to_owned())]
    );
    // A proxy certificate for another name is refused: the proxy's TLS is
    // checked against the proxy's name.
    let e = failure(
        ClientBuilder::new(format!("ws://localhost:{}/", plain.port))
            .tls_config(trusting(vec![certified(&["localhost"]).1]))
            .proxy(&proxy),
    );
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
}

crate::against_both_adapters!(
    ws_through_tinyproxy_with_and_without_basic_auth,
    ws_through_microsocks_socks5_and_socks5h_with_and_without_auth,
    tinyproxy_407_without_and_with_wrong_credentials_names_the_scheme,
    tinyproxy_403_for_a_client_it_denies_and_500_for_a_dead_target,
    a_502_from_the_proxy_is_its_status,
    socks5_refusals_are_named,
    an_endless_answer_from_the_proxy_is_capped_like_a_servers,
    the_reconnecting_client_gives_up_at_once_on_a_proxy_refusal,
    a_proxy_that_closes_at_once_is_closed,
    a_stalled_proxy_runs_into_the_handshake_timeout,
    a_malformed_proxy_url_fails_before_connecting_without_showing_it,
    no_proxy_bypasses_a_proxy_that_refuses_everything,
    the_environment_picks_socks_through_all_proxy,
    #[cfg(feature = "tls")]
    wss_through_each_proxy_is_tls_inside_the_tunnel_for_the_target,
    #[cfg(feature = "tls")]
    wss_through_a_proxy_checks_the_certificate_against_the_target,
    #[cfg(feature = "tls")]
    through_an_https_proxy_ws_and_wss_with_tls_inside_tls,
);

/// TLS inside TLS (`wss://` through an `https://` proxy) splits into a
/// reader and a writer on two threads like any blocking stream.
#[cfg(feature = "tls")]
#[test]
fn blocking_tls_inside_tls_splits_into_a_reader_and_a_writer() {
    use wsproto::blocking::{ClientBuilder, MaybeTlsStream};
    let Some(tinyproxy) = ProxyProcess::tinyproxy(Some(AUTH)) else {
        return;
    };
    let (server_config, server_cert) = certified(&["localhost"]);
    let (proxy, _front, client_config) = https_proxy(&tinyproxy, server_cert);
    let secure = EchoServer::start(Some(server_config));
    let (ws, _) = ClientBuilder::new(format!("wss://localhost:{}/", secure.port))
        .tls_config(client_config)
        .proxy(&proxy)
        .connect()
        .unwrap();
    assert!(matches!(ws.get_ref(), MaybeTlsStream::TlsInTls(_)));
    let (mut reader, writer) = ws.into_split().unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..100 {
            writer.send(format!("split {i}")).unwrap();
        }
        writer
    });
    for i in 0..100 {
        assert_eq!(reader.read().unwrap(), Message::text(format!("split {i}")));
    }
    sender.join().unwrap().close(1000, "").unwrap();
}
