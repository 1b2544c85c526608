//! The opening handshake over real sockets, each test against the
//! blocking adapter and the tokio one (`against_both_adapters!`; the
//! decisions are shared, so the wire bytes expected are the same):
//! subprotocols, refusals seen by the client (status, headers, body),
//! invalid requests, Origin policy, handshake timeouts against a peer
//! that stalls, a refusal that survives a client still sending.

#![cfg(feature = "blocking")]

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::adapter::{
    ClientBuilder, Decision, Error, Message, Refusal, ServerBuilder, accept, accept_with,
    client_handshake, connect, serve_one,
};
use support::net::{RefusedPort, url};
use support::timing::assert_timed;
use support::wire::upgrade_request;
use wsproto::handshake::{AcceptOptions, OriginPolicy};

fn subprotocol_and_headers_are_negotiated() {
    let (addr, server) = serve_one(|tcp| {
        let mut ws = accept_with(tcp, |request| {
            let up = request.upgrade().expect("an upgrade");
            assert_eq!(up.protocols(), ["v2.chat", "v1.chat"]);
            assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
            assert_eq!(request.path(), "/room");
            assert_eq!(request.query(), Some("id=7"));
            AcceptOptions::new()
                .protocol("v1.chat")
                .header("Set-Cookie", "session=1")
                .into()
        })
        .unwrap();
        assert_eq!(ws.protocol(), Some("v1.chat"));
        ws.echo()
    });
    let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/room?id=7"))
        .protocol("v2.chat")
        .protocol("v1.chat")
        .header("Authorization", "Bearer t0k3n")
        .connect()
        .unwrap();
    assert_eq!(response.protocol(), Some("v1.chat"));
    assert_eq!(ws.protocol(), Some("v1.chat"));
    assert_eq!(response.headers().get_str("set-cookie"), Some("session=1"));
    assert!(!ws.is_tls());
    ws.send("hi").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hi"));
    ws.close(1000, "").unwrap();
    assert!(ws.drain().1.is_closed());
    assert!(server.join().unwrap().0.is_closed());
}

fn a_refusal_reaches_the_client_with_status_headers_and_body() {
    let (addr, server) = serve_one(|tcp| {
        accept_with(tcp, |request| {
            assert_eq!(request.header("authorization"), None);
            Decision::respond(
                401,
                &[
                    ("WWW-Authenticate", "Bearer"),
                    ("Content-Type", "text/plain"),
                ],
                "token required\n",
            )
        })
        .map(|_| ())
    });
    let error = connect(&url(addr)).map(|_| ()).unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    let response = error.response().expect("the refusal");
    assert_eq!(
        response.headers().get_str("www-authenticate"),
        Some("Bearer")
    );
    assert_eq!(response.body(), b"token required\n");
    let server_error = server.join().unwrap().unwrap_err();
    assert!(
        matches!(
            server_error,
            Error::Refused(Refusal::Decided { status: 401 })
        ),
        "{server_error:?}"
    );
}

/// Sends `request` raw to a server running `run` and returns every byte it
/// answered (to its end of stream) and what the server's call returned.
fn exchange<T, F>(request: impl AsRef<[u8]>, run: F) -> (Vec<u8>, Result<T, Error>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> Result<T, Error> + Send + 'static,
{
    let (addr, server) = serve_one(run);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(request.as_ref()).unwrap();
    let mut wire = Vec::new();
    tcp.read_to_end(&mut wire).unwrap();
    drop(tcp);
    (wire, server.join().unwrap())
}

fn a_decided_refusal_is_refused_with_its_headers_not_a_handshake_failure() {
    let (wire, result) = exchange(upgrade_request("/?token=wrong", ""), |tcp| {
        accept_with(tcp, |request| {
            assert_eq!(request.query_param("token").as_deref(), Some("wrong"));
            Decision::reject(401).header("WWW-Authenticate", "Bearer")
        })
        .map(|_| ())
    });
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 401 Unauthorized\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         WWW-Authenticate: Bearer\r\n\
         Content-Length: 17\r\n\
         \r\n\
         401 Unauthorized\n"
    );
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::Refused(Refusal::Decided { status: 401 })),
        "{error:?}"
    );
    assert_eq!(error.http_status(), Some(401));
    assert_eq!(
        error.to_string(),
        "refused: answered with HTTP status 401, as decided"
    );
}

fn a_page_for_plain_http_is_refused_as_decided() {
    let request = b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n";
    let (wire, result) = exchange(request, |tcp| {
        accept_with(tcp, |request| {
            assert!(request.upgrade().is_none());
            Decision::respond(200, &[], "ok").header("Cache-Control", "no-store")
        })
        .map(|_| ())
    });
    assert_eq!(
        wire,
        b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok"
    );
    assert!(matches!(
        result.unwrap_err(),
        Error::Refused(Refusal::Decided { status: 200 })
    ));
}

fn a_header_added_to_an_accept_goes_into_the_101() {
    let (wire, result) = exchange(upgrade_request("/", ""), |tcp| {
        accept_with(tcp, |_| Decision::accept().header("Set-Cookie", "s=1")).map(drop)
    });
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Set-Cookie: s=1\r\n\
         \r\n"
    );
    result.unwrap();
}

fn a_malformed_header_in_a_refusal_answers_500_and_is_our_error() {
    let (wire, result) = exchange(upgrade_request("/", ""), |tcp| {
        accept_with(tcp, |_| {
            Decision::reject(401).header("X-Bad", "a\r\nSet-Cookie: x")
        })
        .map(drop)
    });
    assert_eq!(
        wire,
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
    );
    let error = result.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
}

fn reject_writes_a_reason_body() {
    let (addr, server) = serve_one(|tcp| accept_with(tcp, |_| Decision::reject(404)).map(|_| ()));
    let error = connect(&url(addr)).map(|_| ()).unwrap_err();
    assert_eq!(error.http_status(), Some(404));
    assert_eq!(error.response().unwrap().body(), b"404 Not Found\n");
    assert_eq!(server.join().unwrap().unwrap_err().http_status(), Some(404));
}

fn origin_policy_refuses_with_403() {
    let (addr, server) = serve_one(|tcp| {
        let policy = OriginPolicy::new().allow("https://app.example").unwrap();
        ServerBuilder::new()
            .origin_policy(policy)
            .accept_with(tcp, |_| panic!("the decision is not asked"))
            .map(|_| ())
    });
    let error = ClientBuilder::new(url(addr))
        .origin("https://evil.example")
        .connect()
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.http_status(), Some(403));
    let server_error = server.join().unwrap().unwrap_err();
    assert_eq!(server_error.http_status(), Some(403));
    assert!(
        matches!(
            &server_error,
            Error::Refused(Refusal::Origin(Some(origin))) if origin == "https://evil.example"
        ),
        "{server_error:?}"
    );
}

/// The policy runs before the decision: a foreign `Origin` with a wrong
/// token gets the policy's 403 (byte for byte), not the decision's 401.
fn the_origin_policy_answers_before_the_decision() {
    let request = upgrade_request("/?token=wrong", "Origin: https://evil.example\r\n");
    let (wire, result) = exchange(request, |tcp| {
        let policy = OriginPolicy::new().allow("https://app.example").unwrap();
        ServerBuilder::new()
            .origin_policy(policy)
            .accept_with(tcp, |_| {
                Decision::reject(401).header("WWW-Authenticate", "Bearer")
            })
            .map(drop)
    });
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 403 Forbidden\r\n\
         Connection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 15\r\n\
         \r\n\
         origin refused\n"
    );
    let error = result.unwrap_err();
    assert!(
        matches!(&error, Error::Refused(Refusal::Origin(Some(_)))),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "refused: origin https://evil.example refused by the origin policy (403)"
    );
}

fn the_origin_refusal_body_can_be_chosen() {
    let request = upgrade_request("/", "Origin: https://evil.example\r\n");
    let (wire, result) = exchange(request, |tcp| {
        let policy = OriginPolicy::new()
            .same_origin(true)
            .refusal_body("text/html; charset=utf-8", "<h1>wrong site</h1>")
            .unwrap();
        ServerBuilder::new()
            .origin_policy(policy)
            .accept_with(tcp, |_| panic!("the decision is not asked"))
            .map(drop)
    });
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 403 Forbidden\r\n\
         Connection: close\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: 19\r\n\
         \r\n\
         <h1>wrong site</h1>"
    );
    assert!(matches!(
        result.unwrap_err(),
        Error::Refused(Refusal::Origin(Some(_)))
    ));
    // A content type that could inject a header line is refused up front.
    assert!(
        OriginPolicy::new()
            .refusal_body("text/html\r\nSet-Cookie: x", "")
            .is_err()
    );
}

fn an_invalid_request_is_answered_with_400() {
    let (addr, server) = serve_one(|tcp| accept(tcp).map(|_| ()));
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut wire = Vec::new();
    tcp.read_to_end(&mut wire).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "HTTP/1.1 400 Bad Request\r\n\
         Connection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 33\r\n\
         \r\n\
         missing Sec-WebSocket-Key header\n"
    );
    // The peer's fault: a handshake failure, not a refusal as decided.
    let error = server.join().unwrap().unwrap_err();
    assert_eq!(error.http_status(), Some(400));
    assert!(matches!(error, Error::Handshake(_)), "{error:?}");
}

fn a_wrong_accept_key_fails_the_client() {
    let (addr, server) = serve_one(|mut tcp| {
        let mut buf = [0; 1024];
        let _ = tcp.read(&mut buf).unwrap();
        tcp.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .unwrap();
        tcp
    });
    let error = connect(&url(addr)).map(|_| ()).unwrap_err();
    assert!(matches!(error, Error::Response(_)), "{error:?}");
    drop(server.join().unwrap());
}

const STALL: Duration = Duration::from_millis(200);

fn the_server_drops_a_client_that_stalls_in_its_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Half a head, then silence; the connection stays open.
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (tcp, _) = listener.accept().unwrap();
    let started = Instant::now();
    let error = ServerBuilder::new()
        .handshake_timeout(STALL)
        .accept(tcp)
        .map(|_| ())
        .unwrap_err();
    assert_timed(started.elapsed(), STALL);
    assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
    // The stream was dropped: the client sees its end.
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

fn the_client_gives_up_on_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (hold, held) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        // Keep the connection open, silent, until the client is done.
        let _: () = held.recv().unwrap();
        drop(tcp);
    });
    let started = Instant::now();
    let error = ClientBuilder::new(url(addr))
        .handshake_timeout(STALL)
        .connect()
        .map(|_| ())
        .unwrap_err();
    assert_timed(started.elapsed(), STALL);
    assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
    hold.send(()).unwrap();
    server.join().unwrap();
}

fn connection_refused_is_an_io_error() {
    let refusing = RefusedPort::new();
    let error = connect(&url(refusing.addr())).map(|_| ()).unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
}

fn invalid_urls_are_refused_before_connecting() {
    for bad in ["http://x/", "ws://", "ws://h/#frag"] {
        let error = connect(bad).map(|_| ()).unwrap_err();
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{bad}: {error:?}"
        );
    }
}

fn client_handshake_runs_over_a_callers_stream() {
    let (addr, server) = serve_one(|tcp| accept(tcp).unwrap().echo());
    let tcp = TcpStream::connect(addr).unwrap();
    let request = wsproto::handshake::ClientRequest::new(addr.to_string(), "/");
    let (mut ws, _) = client_handshake(tcp, request).unwrap();
    ws.send("over my stream").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("over my stream"));
    ws.close(1000, "").unwrap();
    assert!(ws.drain().1.is_closed());
    assert!(server.join().unwrap().0.is_closed());
}

/// A refusal is not lost to a reset: the server drains what the client
/// still sends (lingering close) instead of closing with unread input,
/// which would reset the connection. The client sends its head with 64 KiB
/// more, waits until the server's answer starts to arrive, sends more,
/// then reads the whole response and a clean end of stream.
fn a_refusal_survives_a_client_that_keeps_sending() {
    let (addr, server) = serve_one(|tcp| accept(tcp).map(|_| ()).unwrap_err());
    let mut tcp = TcpStream::connect(addr).unwrap();
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 12\r\n\r\n"
        .to_vec();
    request.extend(std::iter::repeat_n(b'x', 64 << 10));
    tcp.write_all(&request).unwrap();
    let mut first = [0u8; 1];
    tcp.read_exact(&mut first).unwrap();
    tcp.write_all(&[b'y'; 1024])
        .expect("the server reset the connection instead of draining it");
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = first.to_vec();
    tcp.read_to_end(&mut response)
        .expect("the response was lost to a reset");
    assert!(
        response.starts_with(b"HTTP/1.1 426 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(server.join().unwrap().http_status(), Some(426));
}

/// A body longer than what arrives with the head is read to its
/// `Content-Length`, so the client sees the server's explanation whole.
fn a_long_refusal_body_is_read_whole() {
    let body = "x".repeat(40_000);
    let expected = body.clone();
    let (addr, server) =
        serve_one(move |tcp| accept_with(tcp, |_| Decision::respond(403, &[], body)).map(drop));
    let error = connect(&url(addr)).map(drop).unwrap_err();
    assert_eq!(error.http_status(), Some(403));
    assert_eq!(error.response().unwrap().body(), expected.as_bytes());
    assert!(server.join().unwrap().is_err());
}

crate::against_both_adapters!(
    subprotocol_and_headers_are_negotiated,
    a_refusal_reaches_the_client_with_status_headers_and_body,
    a_long_refusal_body_is_read_whole,
    a_decided_refusal_is_refused_with_its_headers_not_a_handshake_failure,
    a_page_for_plain_http_is_refused_as_decided,
    a_header_added_to_an_accept_goes_into_the_101,
    a_malformed_header_in_a_refusal_answers_500_and_is_our_error,
    reject_writes_a_reason_body,
    origin_policy_refuses_with_403,
    the_origin_policy_answers_before_the_decision,
    the_origin_refusal_body_can_be_chosen,
    an_invalid_request_is_answered_with_400,
    a_wrong_accept_key_fails_the_client,
    the_server_drops_a_client_that_stalls_in_its_handshake,
    the_client_gives_up_on_a_server_that_never_answers,
    connection_refused_is_an_io_error,
    invalid_urls_are_refused_before_connecting,
    client_handshake_runs_over_a_callers_stream,
    a_refusal_survives_a_client_that_keeps_sending,
);
