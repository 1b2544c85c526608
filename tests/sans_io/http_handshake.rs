//! The handshake in `http` crate types (feature `http`), both request
//! shapes, in memory: the client's `http::Request` read by the server,
//! the server's `http::Response` checked by the client, and the refusals
//! with the same statuses as the byte parser gives.

#![cfg(all(feature = "http", feature = "deflate"))]

use http::{Method, Request, StatusCode, Version};

/// A change to a request under construction.
type Edit = fn(http::request::Builder) -> http::request::Builder;
use wsproto::HandshakeLimits;
use wsproto::deflate::DeflateConfig;
use wsproto::handshake::{
    AcceptOptions, ClientRequest, HandshakeError, HandshakeUsageError, OriginPolicy, RequestParser,
    ResponseError,
};

fn parse(
    request: &Request<()>,
    protocol: Option<&str>,
) -> Result<wsproto::handshake::UpgradeRequest, HandshakeError> {
    RequestParser::default().parse_http_request(request, protocol)
}

/// RFC 6455 §1.3's request as `http` types.
fn rfc_request() -> http::request::Builder {
    Request::get("/chat?room=1")
        .header("host", "server.example.com")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
}

/// An RFC 8441 §5 request: CONNECT, `:protocol` outside the headers.
fn h2_request() -> http::request::Builder {
    Request::connect("https://server.example.com/chat?room=1")
        .version(Version::HTTP_2)
        .header("sec-websocket-version", "13")
}

#[test]
fn http1_request_is_answered_101_with_the_rfc_accept() {
    let request = rfc_request().body(()).unwrap();
    let upgrade = parse(&request, None).unwrap();
    assert!(!upgrade.is_extended_connect());
    assert_eq!(upgrade.path(), "/chat");
    assert_eq!(upgrade.query_param("room").as_deref(), Some("1"));
    let (response, negotiated) = upgrade
        .accept_http(AcceptOptions::new().header("Set-Cookie", "a=b"))
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let h = response.headers();
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "Upgrade");
    assert_eq!(h["set-cookie"], "a=b");
    assert!(negotiated.response().is_empty());
}

#[test]
fn extended_connect_is_answered_200_without_key_or_upgrade() {
    let request = h2_request()
        .header("sec-websocket-protocol", "chat, superchat")
        .body(())
        .unwrap();
    let upgrade = parse(&request, Some("websocket")).unwrap();
    assert!(upgrade.is_extended_connect());
    assert_eq!(upgrade.key(), "");
    // `:authority` stands in for Host.
    assert_eq!(upgrade.host(), Some("server.example.com"));
    assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
    let (response, negotiated) = upgrade
        .accept_http(AcceptOptions::new().protocol("superchat"))
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
    for name in ["upgrade", "connection", "sec-websocket-accept"] {
        assert!(response.headers().get(name).is_none(), "{name}");
    }
    assert_eq!(negotiated.protocol(), Some("superchat"));
    // The byte form of the same answer, for completeness.
    let bytes = upgrade.accept(AcceptOptions::new()).unwrap();
    assert!(bytes.response().starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn a_connect_that_is_not_websocket_is_plain_http() {
    let request = h2_request().body(()).unwrap();
    for protocol in [None, Some("connect-udp")] {
        assert!(matches!(
            parse(&request, protocol),
            Err(HandshakeError::NotWebSocket(_))
        ));
    }
    // A GET over HTTP/2 cannot carry Upgrade: plain HTTP too.
    let get = Request::get("https://h/")
        .version(Version::HTTP_2)
        .body(())
        .unwrap();
    assert!(matches!(
        parse(&get, None),
        Err(HandshakeError::NotWebSocket(_))
    ));
    // HTTP/1.1 CONNECT asking for an upgrade: 405, as over the wire.
    let connect = rfc_request().method(Method::CONNECT).body(()).unwrap();
    let error = parse(&connect, None).unwrap_err();
    assert_eq!(error.http_status(), 405);
    assert_eq!(
        error.to_http_response(Version::HTTP_11).headers()["allow"],
        "GET"
    );
}

#[test]
fn both_shapes_get_the_same_refusals() {
    let h1 = |f: Edit| parse(&f(rfc_request()).body(()).unwrap(), None).unwrap_err();
    let h2 = |f: Edit| parse(&f(h2_request()).body(()).unwrap(), Some("websocket")).unwrap_err();
    let cases: [(Edit, u16); 4] = [
        (|b| b.header("sec-websocket-version", "8"), 400), // two versions
        (|b| b.header("sec-websocket-protocol", "a, a"), 400),
        (|b| b.header("sec-websocket-extensions", "x; =1"), 400),
        (|b| b.header("sec-websocket-protocol", "a b"), 400),
    ];
    for (f, status) in cases {
        assert_eq!(h1(f).http_status(), status);
        assert_eq!(h2(f).http_status(), status);
        assert_eq!(h1(f), h2(f));
    }
    // Version 8 alone: 426 with ours, in both; over HTTP/2 without the
    // connection-specific fields.
    let v8 = |b: http::request::Builder| {
        let mut request = b.body(()).unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        request
    };
    let e1 = parse(&v8(rfc_request()), None).unwrap_err();
    let e2 = parse(&v8(h2_request()), Some("websocket")).unwrap_err();
    assert_eq!(e1, HandshakeError::UnsupportedVersion);
    assert_eq!(e2, HandshakeError::UnsupportedVersion);
    let r1 = e1.to_http_response(Version::HTTP_11);
    let r2 = e2.to_http_response(Version::HTTP_2);
    assert_eq!(
        (r1.status(), r2.status()),
        (StatusCode::UPGRADE_REQUIRED, StatusCode::UPGRADE_REQUIRED)
    );
    assert_eq!(r1.headers()["sec-websocket-version"], "13");
    assert_eq!(r2.headers()["sec-websocket-version"], "13");
    assert_eq!(r1.headers()["connection"], "Upgrade, close");
    assert!(r2.headers().get("connection").is_none() && r2.headers().get("upgrade").is_none());
    assert_eq!(r1.body(), r2.body());
    assert_eq!(
        r1.body(),
        &e1.response()[e1.response().len() - r1.body().len()..]
    );
    // No key: only the HTTP/1.1 shape needs one.
    let mut no_key = rfc_request().body(()).unwrap();
    no_key.headers_mut().remove("sec-websocket-key");
    assert_eq!(
        parse(&no_key, None).unwrap_err(),
        HandshakeError::MissingKey
    );
    // No authority and no Host over HTTP/2: 400.
    let no_host = Request::connect("/chat")
        .version(Version::HTTP_2)
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    assert_eq!(
        parse(&no_host, Some("websocket")).unwrap_err(),
        HandshakeError::MissingHost
    );
}

#[test]
fn handshake_limits_apply_to_the_headers() {
    let mut limits = HandshakeLimits::default();
    limits.max_headers = 6;
    let request = rfc_request()
        .header("x-a", "1")
        .header("x-b", "2")
        .body(())
        .unwrap();
    let error = RequestParser::new(limits)
        .parse_http_request(&request, None)
        .unwrap_err();
    assert_eq!(error.http_status(), 431);
    let long = rfc_request()
        .header("cookie", "x".repeat(9000))
        .body(())
        .unwrap();
    assert_eq!(parse(&long, None).unwrap_err().http_status(), 431);
    let mut big = rfc_request();
    for i in 0..4 {
        big = big.header(format!("x-{i}"), "y".repeat(5000));
    }
    assert!(matches!(
        parse(&big.body(()).unwrap(), None),
        Err(HandshakeError::HeadTooLarge { .. })
    ));
}

#[test]
fn origin_policy_sees_the_authority_over_http2() {
    let policy = OriginPolicy::new().same_origin(true);
    let own = h2_request()
        .header("origin", "https://server.example.com")
        .body(())
        .unwrap();
    policy
        .check(&parse(&own, Some("websocket")).unwrap())
        .unwrap();
    let foreign = h2_request()
        .header("origin", "https://evil.example")
        .body(())
        .unwrap();
    let error = policy
        .check(&parse(&foreign, Some("websocket")).unwrap())
        .unwrap_err();
    assert_eq!(error.http_status(), 403);
    let refusal = policy.refusal_http_response(Version::HTTP_2);
    assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
    assert_eq!(refusal.body(), b"origin refused\n");
}

#[test]
fn accept_http_refuses_what_cannot_be_sent() {
    let upgrade = parse(&rfc_request().body(()).unwrap(), None).unwrap();
    assert_eq!(
        upgrade
            .accept_http(AcceptOptions::new().protocol("chat"))
            .unwrap_err(),
        HandshakeUsageError::ProtocolNotOffered("chat".into())
    );
    assert!(matches!(
        upgrade.accept_http(AcceptOptions::new().header("Upgrade", "x")),
        Err(HandshakeUsageError::ReservedHeader(_))
    ));
    let refusal = upgrade
        .reject_http(401, &[("WWW-Authenticate", "Bearer")], b"no\n")
        .unwrap();
    assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refusal.headers()["www-authenticate"], "Bearer");
    assert_eq!(refusal.body(), b"no\n");
    // Many headers of the caller's survive the conversion.
    let names: Vec<String> = (0..40).map(|i| format!("x-{i}")).collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let refusal = upgrade.reject_http(404, &headers, b"gone\n").unwrap();
    assert_eq!(refusal.status(), StatusCode::NOT_FOUND);
    assert_eq!(refusal.headers()["x-39"], "v");
    assert_eq!(refusal.body(), b"gone\n");
}

/// Client and server in memory through `http` types, both shapes, with
/// subprotocol and permessage-deflate negotiated.
#[test]
fn client_and_server_agree_in_both_shapes() {
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let (request, handshake) = ClientRequest::from_url("wss://example.com/chat?x=1")
            .unwrap()
            .protocol("chat")
            .deflate(DeflateConfig::default())
            .build_http(version)
            .unwrap();
        assert_eq!(request.version(), version);
        let protocol = match version {
            Version::HTTP_2 => {
                assert_eq!(request.method(), Method::CONNECT);
                assert_eq!(request.uri(), "https://example.com/chat?x=1");
                assert!(request.headers().get("sec-websocket-key").is_none());
                Some("websocket")
            }
            _ => {
                assert_eq!(request.method(), Method::GET);
                assert_eq!(request.uri(), "/chat?x=1");
                assert_eq!(request.headers()["host"], "example.com");
                None
            }
        };
        let upgrade = parse(&request, protocol).unwrap();
        let (response, negotiated) = upgrade
            .accept_http(
                AcceptOptions::new()
                    .protocol("chat")
                    .deflate(DeflateConfig::default()),
            )
            .unwrap();
        let established = handshake.check_http_response(&response).unwrap();
        assert_eq!(established.protocol(), Some("chat"));
        assert_eq!(
            established.deflate().is_some(),
            negotiated.deflate().is_some()
        );
        assert!(established.deflate().is_some());
    }
}

#[test]
fn client_refuses_wrong_answers() {
    let (_, h1) = ClientRequest::from_url("ws://h/")
        .unwrap()
        .build_http(Version::HTTP_11)
        .unwrap();
    let wrong_accept = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .body(())
        .unwrap();
    assert_eq!(
        h1.check_http_response(&wrong_accept).unwrap_err(),
        ResponseError::WrongAccept
    );
    // A 200 is not a switch for HTTP/1.1.
    let ok = http::Response::new(());
    assert!(matches!(
        h1.check_http_response(&ok),
        Err(ResponseError::NotSwitching(r)) if r.status() == 200
    ));
    let (_, h2) = ClientRequest::from_url("ws://h/")
        .unwrap()
        .build_http(Version::HTTP_2)
        .unwrap();
    h2.check_http_response(&ok).unwrap();
    let not_found = http::Response::builder().status(404).body(()).unwrap();
    assert!(matches!(
        h2.check_http_response(&not_found),
        Err(ResponseError::NotSwitching(r)) if r.status() == 404
    ));
    let unoffered = http::Response::builder()
        .header("sec-websocket-protocol", "chat")
        .body(())
        .unwrap();
    assert_eq!(
        h2.check_http_response(&unoffered).unwrap_err(),
        ResponseError::ProtocolNotOffered("chat".into())
    );
    assert!(
        ClientRequest::from_url("ws://h/")
            .unwrap()
            .build_http(Version::HTTP_10)
            .is_err()
    );
}
