//! The opening handshake through the public API (RFC 6455 §1.3, §4, §9, §10).
//!
//! Every request and response goes through helpers that feed it whole and one
//! byte at a time and insist the results are identical.

use proptest::prelude::*;
use wsproto::__private::{request_bytes_scanned, response_bytes_scanned};
use wsproto::handshake::{
    AcceptOptions, ClientHandshake, ClientRequest, Established, Extension, HandshakeError,
    HandshakeUsageError, OriginPolicy, QueryPairs, RequestParser, ResponseError, UpgradeRequest,
    WsUrl, accept_key, http_response,
};
use wsproto::{HandshakeLimits, Parsed};

// RFC 6455 §1.3, with the CRLF line endings of the wire.
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";

const NONCE: [u8; 16] = *b"the sample nonce";

type ServerResult = Result<(UpgradeRequest, usize), HandshakeError>;

/// Feeds `bytes` to a fresh parser one byte per call: every proper prefix that
/// does not fail must be Partial.
fn server_bytewise(limits: HandshakeLimits, bytes: &[u8]) -> (Option<ServerResult>, u64) {
    let mut parser = RequestParser::new(limits);
    for end in 0..=bytes.len() {
        match parser.parse(&bytes[..end]) {
            Ok(Parsed::Partial) => {}
            Ok(Parsed::Complete(done)) => return (Some(Ok(done)), request_bytes_scanned(&parser)),
            Err(e) => return (Some(Err(e)), request_bytes_scanned(&parser)),
        }
    }
    (None, request_bytes_scanned(&parser))
}

/// Parses `bytes` whole and byte by byte; the two must agree.
fn server_with(limits: HandshakeLimits, bytes: &[u8]) -> ServerResult {
    let whole = RequestParser::new(limits).parse(bytes);
    let (bytewise, _) = server_bytewise(limits, bytes);
    let whole = match whole {
        Ok(Parsed::Complete(done)) => Ok(done),
        Ok(Parsed::Partial) => panic!("complete input parsed as Partial"),
        Err(e) => Err(e),
    };
    assert_eq!(Some(&whole), bytewise.as_ref(), "whole and bytewise differ");
    whole
}

fn server(bytes: &[u8]) -> ServerResult {
    server_with(HandshakeLimits::default(), bytes)
}

fn refusal(bytes: &[u8]) -> HandshakeError {
    server(bytes).expect_err("request should be refused")
}

fn rfc_client() -> (Vec<u8>, ClientHandshake) {
    ClientRequest::from_url("ws://server.example.com/chat")
        .unwrap()
        .origin("http://example.com")
        .protocol("chat")
        .protocol("superchat")
        .build_with_nonce(NONCE)
        .unwrap()
}

type ClientResult = Result<(Established, usize), ResponseError>;

/// Validates `bytes` whole and byte by byte with clones of `handshake`.
fn client_with(handshake: &ClientHandshake, bytes: &[u8]) -> ClientResult {
    let whole = match handshake.clone().parse_response(bytes) {
        Ok(Parsed::Complete(done)) => Ok(done),
        Ok(Parsed::Partial) => panic!("complete input parsed as Partial"),
        Err(e) => Err(e),
    };
    let mut h = handshake.clone();
    let mut bytewise = None;
    for end in 0..=bytes.len() {
        match h.parse_response(&bytes[..end]) {
            Ok(Parsed::Partial) => {}
            Ok(Parsed::Complete(done)) => {
                bytewise = Some(Ok(done));
                break;
            }
            Err(e) => {
                bytewise = Some(Err(e));
                break;
            }
        }
    }
    // A refusal's body is whatever had arrived with the head: none, fed
    // byte by byte. Everything else must match.
    let strip = |r: &ClientResult| match r {
        Err(ResponseError::NotSwitching(resp)) => Err(resp.status()),
        Ok(ok) => Ok(Ok(ok.clone())),
        Err(e) => Ok(Err(e.clone())),
    };
    assert_eq!(
        Some(strip(&whole)),
        bytewise.as_ref().map(strip),
        "whole and bytewise differ"
    );
    if let Some(Err(ResponseError::NotSwitching(resp))) = &bytewise {
        assert_eq!(resp.body(), b"");
    }
    whole
}

fn client(bytes: &[u8]) -> ClientResult {
    client_with(&rfc_client().1, bytes)
}

/// A valid request with `extra` header lines spliced in before the blank line
/// and any line starting with one of `drop` removed.
fn request_with(drop: &[&str], extra: &str) -> Vec<u8> {
    let text = std::str::from_utf8(RFC_REQUEST).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line == "\r\n" {
            out.push_str(extra);
        } else if drop.iter().any(|d| line.starts_with(d)) {
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// The RFC response with the same edits.
fn response_with(drop: &[&str], extra: &str) -> Vec<u8> {
    let text = std::str::from_utf8(RFC_RESPONSE).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line == "\r\n" {
            out.push_str(extra);
        } else if drop.iter().any(|d| line.starts_with(d)) {
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

// ---------------------------------------------------------------- §1.3 ----

#[test]
fn rfc_1_3_accept_key_vector() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc_1_3_client_writes_the_example_request() {
    let (bytes, handshake) = rfc_client();
    assert_eq!(bytes, RFC_REQUEST);
    assert_eq!(handshake.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn rfc_1_3_server_reads_the_example_request_and_writes_the_example_response() {
    let (request, used) = server(RFC_REQUEST).unwrap();
    assert_eq!(used, RFC_REQUEST.len());
    assert_eq!(request.path(), "/chat");
    assert_eq!(request.query(), None);
    assert_eq!(request.host(), Some("server.example.com"));
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(request.protocols(), ["chat", "superchat"]);
    assert!(request.extensions().is_empty());
    assert_eq!(request.http().method(), "GET");
    let accepted = request
        .accept(AcceptOptions::new().protocol("chat"))
        .unwrap();
    assert_eq!(accepted.response(), RFC_RESPONSE);
    assert_eq!(accepted.protocol(), Some("chat"));
}

#[test]
fn rfc_1_3_client_accepts_the_example_response() {
    let (established, used) = client(RFC_RESPONSE).unwrap();
    assert_eq!(used, RFC_RESPONSE.len());
    assert_eq!(established.protocol(), Some("chat"));
    assert!(established.extensions().is_empty());
    assert_eq!(established.headers().len(), 4);
}

#[test]
#[cfg(feature = "std")]
fn both_roles_in_memory_with_a_random_key() {
    let (request, mut handshake) = ClientRequest::from_url("wss://example.com:8443/a?b=c")
        .unwrap()
        .header("Authorization", "Bearer t0k3n")
        .extension(Extension::new("permessage-deflate").param("client_max_window_bits", None))
        .build()
        .unwrap();
    let (upgrade, _) = server(&request).unwrap();
    assert_eq!(upgrade.host(), Some("example.com:8443"));
    assert_eq!(upgrade.query(), Some("b=c"));
    assert_eq!(upgrade.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(upgrade.extensions()[0].name(), "permessage-deflate");
    assert_eq!(
        upgrade.extensions()[0].params()[0].name,
        "client_max_window_bits"
    );
    let deflate = Extension::new("permessage-deflate").param("client_max_window_bits", Some("15"));
    let accepted = upgrade
        .accept(AcceptOptions::new().extension(deflate.clone()))
        .unwrap();
    let Parsed::Complete((established, _)) = handshake.parse_response(accepted.response()).unwrap()
    else {
        panic!("incomplete")
    };
    assert_eq!(established.extensions(), [deflate]);
    assert_eq!(established.protocol(), None);
}

// ---------------------------------------------------------- leftovers ----

#[test]
fn bytes_after_the_request_head_stay_with_the_caller() {
    let mut buf = RFC_REQUEST.to_vec();
    buf.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    let (_, used) = server(&buf).unwrap();
    assert_eq!(used, RFC_REQUEST.len());
    assert_eq!(buf[used], 0x81);
}

#[test]
fn bytes_after_the_response_head_belong_to_the_connection() {
    let mut buf = RFC_RESPONSE.to_vec();
    buf.extend_from_slice(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    let (_, used) = client(&buf).unwrap();
    assert_eq!(&buf[used..], b"\x81\x05Hello");
}

// ------------------------------------------------- §4.2.1 refusals ----

#[test]
fn non_get_is_405_with_allow_get() {
    let mut req = b"POST".to_vec();
    req.extend_from_slice(&RFC_REQUEST[3..]);
    let e = refusal(&req);
    assert_eq!(e, HandshakeError::MethodNotAllowed("POST".into()));
    assert_eq!(e.http_status(), 405);
    assert_eq!(
        e.response(),
        b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n\r\nmethod POST not allowed\n"
    );
}

#[test]
fn http_1_0_is_400() {
    let req = std::str::from_utf8(RFC_REQUEST)
        .unwrap()
        .replace("HTTP/1.1", "HTTP/1.0");
    let e = refusal(req.as_bytes());
    assert_eq!(e, HandshakeError::UnsupportedHttpVersion);
    assert_eq!(e.http_status(), 400);
    assert_eq!(
        e.response(),
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 27\r\n\r\nHTTP/1.1 or later required\n"
    );
}

#[test]
fn wrong_or_missing_version_is_426_with_version_13() {
    let want =
        b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\
Sec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 44\r\n\r\n\
unsupported WebSocket version (13 required)\n";
    for req in [
        request_with(&["Sec-WebSocket-Version"], "Sec-WebSocket-Version: 8\r\n"),
        request_with(
            &["Sec-WebSocket-Version"],
            "Sec-WebSocket-Version: 13, 8\r\n",
        ),
        request_with(&["Sec-WebSocket-Version"], ""),
    ] {
        let e = refusal(&req);
        assert_eq!(e, HandshakeError::UnsupportedVersion);
        assert_eq!(e.http_status(), 426);
        assert_eq!(e.response(), want);
    }
    let e = refusal(&request_with(&[], "Sec-WebSocket-Version: 13\r\n"));
    assert_eq!(e, HandshakeError::DuplicateHeader("Sec-WebSocket-Version"));
    assert_eq!(e.http_status(), 400);
}

#[test]
fn each_missing_or_bad_header_is_400() {
    let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
        (request_with(&["Host"], ""), HandshakeError::MissingHost),
        (
            request_with(&[], "Host: other\r\n"),
            HandshakeError::DuplicateHeader("Host"),
        ),
        (
            request_with(&["Connection"], ""),
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            request_with(&["Connection"], "Connection: keep-alive\r\n"),
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            request_with(&["Connection"], "Connection: Upgraded\r\n"),
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            request_with(&["Sec-WebSocket-Key"], ""),
            HandshakeError::MissingKey,
        ),
        (
            request_with(&[], "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            HandshakeError::DuplicateHeader("Sec-WebSocket-Key"),
        ),
        (
            request_with(
                &["Sec-WebSocket-Key"],
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n",
            ),
            HandshakeError::InvalidKey,
        ),
        (
            request_with(
                &["Sec-WebSocket-Key"],
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXg=\r\n",
            ),
            HandshakeError::InvalidKey,
        ),
        (
            request_with(
                &["Sec-WebSocket-Key"],
                "Sec-WebSocket-Key: not base64 at all!!!!!!\r\n",
            ),
            HandshakeError::InvalidKey,
        ),
        (
            request_with(&[], "Sec-WebSocket-Protocol: a b\r\n"),
            HandshakeError::InvalidProtocols,
        ),
        (
            request_with(&[], "Sec-WebSocket-Extensions: deflate; =1\r\n"),
            HandshakeError::InvalidExtensions,
        ),
    ];
    for (req, want) in cases {
        let e = refusal(&req);
        assert_eq!(e, want);
        assert_eq!(e.http_status(), 400);
        let response = e.response();
        assert!(response.starts_with(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"));
        assert!(response.ends_with(format!("\r\n\r\n{e}\n").as_bytes()));
    }
}

/// RFC 6455 §4.1, item 10: the subprotocols offered "MUST all be unique
/// strings". A repeat, in one field or across several (§11.3.4: repeated
/// fields are "logically the same as a single |Sec-WebSocket-Protocol|
/// header field that contains all values"), is refused with 400 naming it.
/// Each request is fed whole and one byte at a time (`refusal`).
#[test]
fn a_subprotocol_offered_twice_is_400() {
    let one_field = request_with(
        &["Sec-WebSocket-Protocol"],
        "Sec-WebSocket-Protocol: chat, superchat, chat\r\n",
    );
    let two_fields = request_with(&[], "Sec-WebSocket-Protocol: superchat\r\n");
    for (req, repeated) in [(one_field, "chat"), (two_fields, "superchat")] {
        let e = refusal(&req);
        assert_eq!(e, HandshakeError::DuplicateProtocol(repeated.into()));
        let body = format!("subprotocol \"{repeated}\" offered more than once\n");
        let want = format!(
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8(e.response()).unwrap(), want);
    }
    // Values are compared as the strings they are: a different case is a
    // different subprotocol.
    let req = request_with(
        &["Sec-WebSocket-Protocol"],
        "Sec-WebSocket-Protocol: chat, Chat\r\n",
    );
    let (upgrade, _) = server(&req).unwrap();
    assert_eq!(upgrade.protocols(), ["chat", "Chat"]);
}

#[test]
fn malformed_http_is_400() {
    for req in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nA\rB: c\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
    ] {
        let e = refusal(req);
        assert!(matches!(e, HandshakeError::Malformed(_)), "{e:?}");
        assert_eq!(e.http_status(), 400);
    }
}

#[test]
fn oversized_heads_are_431() {
    let limits = HandshakeLimits::default();
    // Head over 16 KiB, every line short, under 128 fields.
    let big = request_with(&[], &format!("Cookie: {}\r\n", "c".repeat(150)).repeat(110));
    let e = refusal(&request_with(&[], &"X-Pad: 0123456789\r\n".repeat(122)));
    assert_eq!(e, HandshakeError::TooManyHeaders { limit: 128 });
    assert_eq!(e.http_status(), 431);
    assert!(
        e.response()
            .starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
    let line = request_with(
        &[],
        &format!("Cookie: {}\r\n", "c".repeat(limits.max_line_length)),
    );
    assert_eq!(
        refusal(&line),
        HandshakeError::LineTooLong { limit: 8 << 10 }
    );
    // A long line is refused before it ends.
    let open_line = format!("GET /{}", "a".repeat(9000));
    assert_eq!(
        refusal(open_line.as_bytes()),
        HandshakeError::LineTooLong { limit: 8 << 10 }
    );
    let mut two_lines = RFC_REQUEST[..RFC_REQUEST.len() - 2].to_vec();
    for _ in 0..3 {
        two_lines.extend_from_slice(format!("Cookie: {}\r\n", "c".repeat(6000)).as_bytes());
    }
    two_lines.extend_from_slice(b"\r\n");
    assert_eq!(
        refusal(&two_lines),
        HandshakeError::HeadTooLarge { limit: 16 << 10 }
    );
    assert!(matches!(refusal(&big), HandshakeError::HeadTooLarge { .. }));
    // Just under the caps passes.
    let at_cap = request_with(&[], &"X-Pad: 0123456789\r\n".repeat(120));
    assert!(server(&at_cap).is_ok());
}

#[test]
fn a_head_that_never_ends_is_refused_at_the_cap() {
    let endless = b"GET / HTTP/1.1\r\n"
        .iter()
        .copied()
        .chain((0..20000).flat_map(|_| *b"a: b\r\n"));
    let endless: Vec<u8> = endless.collect();
    let mut limits = HandshakeLimits::default();
    limits.max_headers = usize::MAX;
    let (result, scanned) = server_bytewise(limits, &endless);
    assert!(matches!(
        result,
        Some(Err(HandshakeError::HeadTooLarge { limit: 16384 }))
    ));
    assert_eq!(scanned, 16384);
}

// ------------------------------------------------ plain HTTP on the port ----

#[test]
fn a_plain_http_request_is_recognised_and_can_be_answered() {
    let req = b"GET /health?full=1 HTTP/1.1\r\nHost: example.com\r\n\r\nGET /next HTTP/1.1\r\n";
    let e = refusal(req);
    let HandshakeError::NotWebSocket(http) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(http.path(), "/health");
    assert_eq!(http.query(), Some("full=1"));
    assert_eq!(http.header("HOST"), Some("example.com"));
    assert!(!http.is_websocket_upgrade());
    assert_eq!(http.head_len(), 50);
    assert_eq!(e.request(), Some(&**http));
    assert_eq!(e.http_status(), 426);
    let page = http_response(200, &[("Content-Type", "text/plain")], b"ok").unwrap();
    assert_eq!(
        page,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    );
    // A POST without Upgrade is plain HTTP too, not a 405.
    assert!(matches!(
        refusal(b"POST /form HTTP/1.0\r\n\r\n"),
        HandshakeError::NotWebSocket(_)
    ));
    // An h2c upgrade is not ours either.
    let h2c = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n";
    assert!(matches!(refusal(h2c), HandshakeError::NotWebSocket(_)));
}

#[test]
fn the_parser_reads_the_next_request_after_a_complete_one() {
    let mut parser = RequestParser::default();
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    buf.extend_from_slice(RFC_REQUEST);
    let Err(HandshakeError::NotWebSocket(http)) = parser.parse(&buf) else {
        panic!()
    };
    let rest = &buf[http.head_len()..];
    let Parsed::Complete((upgrade, used)) = parser.parse(rest).unwrap() else {
        panic!()
    };
    assert_eq!((upgrade.path(), used), ("/chat", RFC_REQUEST.len()));
}

// ------------------------------------------- case and whitespace ----

#[test]
fn header_names_and_tokens_in_any_case() {
    let req = b"GET /chat HTTP/1.1\r\n\
HOST: server.example.com\r\n\
upgrade: WebSocket\r\n\
connection: keep-alive, UPGRADE\r\n\
sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
SEC-WEBSOCKET-VERSION: 13\r\n\
Sec-Websocket-Protocol: chat\r\n\r\n";
    let (upgrade, _) = server(req).unwrap();
    assert_eq!(upgrade.protocols(), ["chat"]);
    assert_eq!(
        upgrade.header("Sec-WebSocket-Key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    let response = b"HTTP/1.1 101 Switching Protocols\r\n\
upgrade: WEBSOCKET\r\n\
CONNECTION: upgrade\r\n\
sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
SEC-WEBSOCKET-PROTOCOL: chat\r\n\r\n";
    assert_eq!(client(response).unwrap().0.protocol(), Some("chat"));
}

#[test]
fn odd_but_legal_whitespace() {
    let req = b"GET /chat HTTP/1.1\r\n\
Host:server.example.com\r\n\
Upgrade:\t websocket \t\r\n\
Connection: keep-alive ,\tUpgrade,\r\n\
Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n\
Sec-WebSocket-Version:13 \r\n\
Sec-WebSocket-Protocol: , chat ,,\tsuperchat , \r\n\
Sec-WebSocket-Protocol: third\r\n\
Sec-WebSocket-Extensions: foo ;  a = 1\t; b=\"x\" ,, bar\r\n\r\n";
    let (upgrade, _) = server(req).unwrap();
    assert_eq!(upgrade.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(upgrade.protocols(), ["chat", "superchat", "third"]);
    let names: Vec<String> = upgrade.extensions().iter().map(|e| e.to_string()).collect();
    assert_eq!(names, ["foo; a=1; b=x", "bar"]);
    let accepted = upgrade
        .accept(AcceptOptions::new().protocol("third"))
        .unwrap();
    assert!(
        accepted
            .response()
            .windows(30)
            .any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")
    );
    // Bare LF line endings and whitespace around the accept value.
    let response = b"HTTP/1.1 101 Switching Protocols\n\
Upgrade:websocket\n\
Connection:  Upgrade  \n\
Sec-WebSocket-Accept: \t s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \n\n";
    assert!(client(response).is_ok());
}

// ----------------------------------------------------- linear work ----

#[test]
fn a_head_fed_one_byte_per_call_is_scanned_once() {
    // Close to the 16 KiB cap, fed one byte at a time: 16k calls. A parser
    // that re-parsed from the start would examine ~130 million bytes.
    let req = request_with(&[], &format!("Cookie: {}\r\n", "c".repeat(8000)).repeat(2));
    assert!(req.len() > 16_000);
    let (result, scanned) = server_bytewise(HandshakeLimits::default(), &req);
    assert_eq!(result.unwrap().unwrap().1, req.len());
    assert_eq!(scanned, req.len() as u64);

    let (_, handshake) = rfc_client();
    let resp = response_with(
        &[],
        &format!("Set-Cookie: {}\r\n", "c".repeat(8000)).repeat(2),
    );
    let mut h = handshake.clone();
    for end in 0..resp.len() {
        assert!(h.parse_response(&resp[..end]).unwrap().is_partial());
    }
    assert!(h.parse_response(&resp).unwrap().is_complete());
    assert_eq!(response_bytes_scanned(&h), resp.len() as u64);
}

#[test]
fn sixty_four_kib_of_spaces_and_commas_is_fine() {
    let mut limits = HandshakeLimits::default();
    limits.max_head_size = 512 << 10;
    limits.max_line_length = 256 << 10;
    let junk = " ,".repeat(32 << 10);
    let req = request_with(
        &["Sec-WebSocket-Protocol", "Connection"],
        &format!(
            "Sec-WebSocket-Protocol: {junk}\r\nSec-WebSocket-Extensions: {junk}\r\n\
Connection: {junk}Upgrade{junk}\r\n"
        ),
    );
    let (upgrade, _) = server_with(limits, &req).unwrap();
    assert!(upgrade.protocols().is_empty());
    assert!(upgrade.extensions().is_empty());
    assert!(upgrade.headers().contains_token("connection", "upgrade"));
}

// ---------------------------------------------------- accept / reject ----

#[test]
fn accept_refuses_what_the_client_did_not_offer() {
    let (upgrade, _) = server(RFC_REQUEST).unwrap();
    assert_eq!(
        upgrade.accept(AcceptOptions::new().protocol("mqtt")),
        Err(HandshakeUsageError::ProtocolNotOffered("mqtt".into()))
    );
    assert_eq!(
        upgrade.accept(AcceptOptions::new().protocol("")),
        Err(HandshakeUsageError::InvalidProtocol("".into()))
    );
    assert_eq!(
        upgrade.accept(AcceptOptions::new().extension(Extension::new("permessage-deflate"))),
        Err(HandshakeUsageError::ExtensionNotOffered(
            "permessage-deflate".into()
        ))
    );
    assert_eq!(
        upgrade.accept(AcceptOptions::new().header("Sec-WebSocket-Accept", "x")),
        Err(HandshakeUsageError::ReservedHeader(
            "Sec-WebSocket-Accept".into()
        ))
    );
    assert_eq!(
        upgrade.accept(AcceptOptions::new().header("Set-Cookie", "a\r\nX: y")),
        Err(HandshakeUsageError::InvalidHeader("Set-Cookie".into()))
    );
}

#[test]
fn accept_with_extra_headers_and_no_subprotocol() {
    let (upgrade, _) = server(RFC_REQUEST).unwrap();
    let accepted = upgrade
        .accept(AcceptOptions::new().header("Set-Cookie", "id=1"))
        .unwrap();
    assert_eq!(accepted.protocol(), None);
    assert_eq!(
        accepted.into_response(),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: id=1\r\n\r\n"
    );
}

#[test]
fn reject_with_any_status_headers_and_body() {
    let (upgrade, _) = server(RFC_REQUEST).unwrap();
    assert_eq!(
        upgrade
            .reject(401, &[("WWW-Authenticate", "Bearer")], b"who?")
            .unwrap(),
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 4\r\n\r\nwho?"
    );
    assert_eq!(
        upgrade
            .reject(302, &[("Location", "/elsewhere")], b"")
            .unwrap(),
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        upgrade.reject(101, &[], b""),
        Err(HandshakeUsageError::InvalidStatus(101))
    );
}

// ------------------------------------------------- query parameters ----

/// The RFC request with its target replaced by `target`, parsed.
fn with_target(target: &str) -> UpgradeRequest {
    let text = std::str::from_utf8(RFC_REQUEST).unwrap();
    let request = text.replacen("/chat", target, 1);
    server(request.as_bytes()).unwrap().0
}

/// The decoded pairs of a request whose target is `target`.
fn pairs(target: &str) -> Vec<(String, String)> {
    let request = with_target(target);
    let pairs: Vec<(String, String)> = request
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let direct: Vec<(String, String)> = QueryPairs::new(request.query().unwrap_or(""))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(pairs, direct, "{target}");
    pairs
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn query_plus_is_a_space_and_escapes_decode_as_utf8() {
    let r = with_target("/?name=Ann+Lee&city=caf%C3%A9&sum=1%2B1&amp=%26&Up=%c3%A9");
    assert_eq!(r.query_param("name").as_deref(), Some("Ann Lee"));
    assert_eq!(r.query_param("city").as_deref(), Some("café"));
    // An encoded `+` is a plus, an encoded `&` does not split.
    assert_eq!(r.query_param("sum").as_deref(), Some("1+1"));
    assert_eq!(r.query_param("amp").as_deref(), Some("&"));
    // Lowercase hex digits decode too.
    assert_eq!(r.query_param("Up").as_deref(), Some("é"));
    // Names are decoded before they are compared, and compared by case.
    let r = with_target("/?my+key=1&%74oken=t");
    assert_eq!(r.query_param("my key").as_deref(), Some("1"));
    assert_eq!(r.query_param("token").as_deref(), Some("t"));
    assert_eq!(r.query_param("Token"), None);
}

#[test]
fn query_invalid_escapes_are_kept_literally() {
    assert_eq!(
        pairs("/?a=%zz&b=%&c=%4&d=%4g&e=100%&f=%%41"),
        owned(&[
            ("a", "%zz"),
            ("b", "%"),
            ("c", "%4"),
            ("d", "%4g"),
            ("e", "100%"),
            ("f", "%A"),
        ])
    );
}

#[test]
fn query_bytes_that_are_not_utf8_become_replacement_characters() {
    let r = with_target("/?bad=%FF&cut=%C3&ok=%C3%A9%FE");
    assert_eq!(r.query_param("bad").as_deref(), Some("\u{FFFD}"));
    assert_eq!(r.query_param("cut").as_deref(), Some("\u{FFFD}"));
    assert_eq!(r.query_param("ok").as_deref(), Some("é\u{FFFD}"));
}

#[test]
fn query_repeated_keys_first_wins_and_pairs_keep_all() {
    let r = with_target("/?k=1&k=2&x=0&k=3");
    assert_eq!(r.query_param("k").as_deref(), Some("1"));
    assert_eq!(
        pairs("/?k=1&k=2&x=0&k=3"),
        owned(&[("k", "1"), ("k", "2"), ("x", "0"), ("k", "3")])
    );
}

#[test]
fn query_empty_values_names_without_equals_and_empty_pieces() {
    assert_eq!(
        pairs("/?a=&b&=c&&d=e=f&"),
        owned(&[("a", ""), ("b", ""), ("", "c"), ("d", "e=f")])
    );
    let r = with_target("/?a=&b");
    assert_eq!(r.query_param("a").as_deref(), Some(""));
    assert_eq!(r.query_param("b").as_deref(), Some(""));
    assert_eq!(r.query_param("c"), None);
}

#[test]
fn query_empty_or_absent() {
    for target in ["/chat", "/chat?", "/chat?&&"] {
        assert_eq!(pairs(target), owned(&[]), "{target}");
        assert_eq!(with_target(target).query_param(""), None, "{target}");
    }
    // The plain HTTP request type decodes the same way.
    let r = with_target("/?t=a%20b");
    assert_eq!(r.http().query_param("t").as_deref(), Some("a b"));
    assert_eq!(r.http().query_pairs().count(), 1);
}

// ------------------------------------------------------ §10.2 Origin ----

fn with_origins(origins: &[&str], host: &str) -> UpgradeRequest {
    let extra: String = origins.iter().map(|o| format!("Origin: {o}\r\n")).collect();
    let req = request_with(&["Origin", "Host"], &format!("Host: {host}\r\n{extra}"));
    server(&req).unwrap().0
}

#[test]
fn origin_allow_list() {
    let policy = OriginPolicy::new()
        .allow("https://app.example.com")
        .unwrap();
    for ok in [
        "https://app.example.com",
        "HTTPS://App.Example.COM",
        "https://app.example.com:443",
    ] {
        assert_eq!(policy.check(&with_origins(&[ok], "x")), Ok(()), "{ok}");
    }
    for bad in [
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://evil.example.com",
        "https://app.example.com.evil.com",
        "https://app.example.com/",
        "null",
    ] {
        let e = policy.check(&with_origins(&[bad], "x")).unwrap_err();
        assert_eq!(e, HandshakeError::OriginRefused(Some(bad.into())), "{bad}");
        assert_eq!(e.http_status(), 403);
        assert!(e.response().starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    }
    assert_eq!(
        OriginPolicy::new().allow("null"),
        Err(HandshakeUsageError::InvalidOrigin("null".into()))
    );
}

#[test]
fn origin_same_origin_against_host() {
    let policy = OriginPolicy::new().same_origin(true);
    let ok = [
        ("https://example.com", "example.com"),
        ("http://Example.com", "EXAMPLE.com"),
        ("http://example.com:8080", "example.com:8080"),
        ("https://example.com", "example.com:443"),
        ("http://[::1]:9001", "[::1]:9001"),
    ];
    for (origin, host) in ok {
        assert_eq!(
            policy.check(&with_origins(&[origin], host)),
            Ok(()),
            "{origin} {host}"
        );
    }
    let bad = [
        ("https://evil.com", "example.com"),
        ("http://example.com:8080", "example.com"),
        ("https://example.com", "example.com:8443"),
        ("null", "example.com"),
    ];
    for (origin, host) in bad {
        assert!(
            policy.check(&with_origins(&[origin], host)).is_err(),
            "{origin} {host}"
        );
    }
}

#[test]
fn origin_missing_or_repeated() {
    let policy = OriginPolicy::new().allow("http://example.com").unwrap();
    assert_eq!(policy.check(&with_origins(&[], "h")), Ok(()));
    let strict = policy.clone().require_origin(true);
    assert_eq!(
        strict.check(&with_origins(&[], "h")),
        Err(HandshakeError::OriginRefused(None))
    );
    let two = with_origins(&["http://example.com", "http://example.com"], "h");
    assert_eq!(two.origin(), None);
    assert_eq!(policy.check(&two), Err(HandshakeError::OriginRefused(None)));
}

// --------------------------------------------------------- §4.1 client ----

#[test]
fn client_request_from_parts_with_everything() {
    let (bytes, _) = ClientRequest::new("[::1]:9001", "/ws?room=a")
        .origin("https://app.example.com")
        .extension(Extension::new("permessage-deflate").param("client_max_window_bits", None))
        .extension(Extension::new("x-foo").param("level", Some("3")))
        .header("Authorization", "Bearer abc")
        .header("Cookie", "a=1")
        .build_with_nonce([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
        .unwrap();
    assert_eq!(
        bytes,
        b"GET /ws?room=a HTTP/1.1\r\nHost: [::1]:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nOrigin: https://app.example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; level=3\r\n\
Authorization: Bearer abc\r\nCookie: a=1\r\n\r\n"
    );
}

#[test]
fn client_host_header_carries_the_port_only_when_not_default() {
    for (url, host, resource) in [
        ("ws://example.com/", "example.com", "/"),
        ("ws://example.com:80", "example.com", "/"),
        ("ws://example.com:443", "example.com:443", "/"),
        ("wss://example.com:443/x?", "example.com", "/x"),
        ("wss://example.com:80/?q", "example.com:80", "/?q"),
        ("ws://[::1]:8080/p", "[::1]:8080", "/p"),
    ] {
        let (bytes, _) = ClientRequest::from_url(url)
            .unwrap()
            .build_with_nonce(NONCE)
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with(&format!("GET {resource} HTTP/1.1\r\nHost: {host}\r\n")),
            "{text}"
        );
    }
    let url = WsUrl::parse("wss://Example.com").unwrap();
    assert_eq!(
        (url.host(), url.port(), url.secure()),
        ("example.com", 443, true)
    );
}

#[test]
fn client_builder_misuse() {
    let base = || ClientRequest::new("example.com", "/");
    assert_eq!(
        base()
            .protocol("a b")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::InvalidProtocol("a b".into())
    );
    assert_eq!(
        base()
            .protocol("chat")
            .protocol("chat")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::DuplicateProtocol("chat".into())
    );
    assert_eq!(
        base()
            .header("Sec-WebSocket-Key", "x")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::ReservedHeader("Sec-WebSocket-Key".into())
    );
    assert_eq!(
        base()
            .header("X", "a\nb")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::InvalidHeader("X".into())
    );
    assert_eq!(
        ClientRequest::new("a b", "/")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::InvalidTarget("Host")
    );
    assert_eq!(
        ClientRequest::new("a", "chat")
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::InvalidTarget("resource name")
    );
    assert_eq!(
        base()
            .extension(Extension::new("x").param("p", Some("a b")))
            .build_with_nonce([7; 16])
            .unwrap_err(),
        HandshakeUsageError::InvalidExtension("x; p=a b".into())
    );
    assert!(matches!(
        ClientRequest::from_url("http://example.com/"),
        Err(HandshakeUsageError::InvalidUrl(_))
    ));
}

#[test]
fn a_non_101_response_is_kept_for_the_caller() {
    let resp =
        b"HTTP/1.1 302 Found\r\nLocation: wss://elsewhere/\r\nContent-Length: 10\r\n\r\nmoved";
    let Err(ResponseError::NotSwitching(r)) = client(resp) else {
        panic!()
    };
    assert_eq!((r.status(), r.reason()), (302, "Found"));
    assert_eq!(r.headers().get_str("location"), Some("wss://elsewhere/"));
    assert_eq!(r.body(), b"moved");
    let resp = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\n";
    let Err(ResponseError::NotSwitching(r)) = client(resp) else {
        panic!()
    };
    assert_eq!((r.status(), r.body()), (401, &b""[..]));
}

#[test]
fn each_bad_101_fails_the_connection() {
    let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    let cases: Vec<(Vec<u8>, ResponseError)> = vec![
        (
            response_with(&["Upgrade"], ""),
            ResponseError::MissingUpgrade,
        ),
        (
            response_with(&["Upgrade"], "Upgrade: h2c\r\n"),
            ResponseError::MissingUpgrade,
        ),
        (
            response_with(&["Connection"], ""),
            ResponseError::MissingConnectionUpgrade,
        ),
        (
            response_with(&["Connection"], "Connection: close\r\n"),
            ResponseError::MissingConnectionUpgrade,
        ),
        (
            response_with(&["Sec-WebSocket-Accept"], ""),
            ResponseError::MissingAccept,
        ),
        (
            response_with(
                &["Sec-WebSocket-Accept"],
                "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ),
            ResponseError::WrongAccept,
        ),
        (
            response_with(&[], accept),
            ResponseError::DuplicateHeader("Sec-WebSocket-Accept"),
        ),
        (
            response_with(
                &["Sec-WebSocket-Protocol"],
                "Sec-WebSocket-Protocol: mqtt\r\n",
            ),
            ResponseError::ProtocolNotOffered("mqtt".into()),
        ),
        (
            response_with(
                &["Sec-WebSocket-Protocol"],
                "Sec-WebSocket-Protocol: chat, superchat\r\n",
            ),
            ResponseError::ProtocolNotOffered("chat, superchat".into()),
        ),
        (
            response_with(&[], "Sec-WebSocket-Protocol: chat\r\n"),
            ResponseError::DuplicateHeader("Sec-WebSocket-Protocol"),
        ),
        (
            response_with(&[], "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            ResponseError::ExtensionNotOffered("permessage-deflate".into()),
        ),
        (
            response_with(&[], "Sec-WebSocket-Extensions: ;\r\n"),
            ResponseError::InvalidExtensions,
        ),
        (
            std::str::from_utf8(RFC_RESPONSE)
                .unwrap()
                .replace("HTTP/1.1", "HTTP/1.0")
                .into_bytes(),
            ResponseError::UnsupportedHttpVersion,
        ),
    ];
    for (resp, want) in cases {
        assert_eq!(client(&resp).map(|_| ()), Err(want));
    }
    // A subprotocol when none was offered.
    let (_, none_offered) = ClientRequest::new("h", "/")
        .build_with_nonce(NONCE)
        .unwrap();
    assert_eq!(
        client_with(&none_offered, RFC_RESPONSE).map(|_| ()),
        Err(ResponseError::ProtocolNotOffered("chat".into()))
    );
    assert!(matches!(
        client(b"HTTP/1.1 abc\r\n\r\n"),
        Err(ResponseError::Malformed(_))
    ));
    assert!(matches!(
        client(b"SSH-2.0-OpenSSH\r\n\r\n"),
        Err(ResponseError::Malformed(_))
    ));
}

#[test]
fn client_response_caps() {
    let mut limits = HandshakeLimits::default();
    limits.max_headers = 4;
    let (_, handshake) = ClientRequest::new("h", "/")
        .limits(limits)
        .build_with_nonce(NONCE)
        .unwrap();
    let resp = response_with(&[], "A: 1\r\n");
    assert_eq!(
        client_with(&handshake, &resp).map(|_| ()),
        Err(ResponseError::TooManyHeaders { limit: 4 })
    );
    let long = response_with(&[], &format!("X: {}\r\n", "y".repeat(9000)));
    assert_eq!(
        client(&long).map(|_| ()),
        Err(ResponseError::LineTooLong { limit: 8192 })
    );
}

// --------------------------------------------------------- proptest ----

/// Encodes as a browser's form would: unreserved bytes as they are, space
/// as `+`, every other byte as `%XX` (upper or lower case by `lower`).
fn form_encode(text: &str, lower: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ if lower => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

proptest! {
    /// Form-encoded pairs of any text decode back to themselves, in order.
    #[test]
    fn query_pairs_decode_what_a_form_encodes(
        pairs in proptest::collection::vec((".*", ".*"), 0..6),
        lower in any::<bool>(),
    ) {
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k, lower), form_encode(v, lower)))
            .collect();
        let query = query.join("&");
        let decoded: Vec<(String, String)> = QueryPairs::new(&query)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        // `=` alone is a pair too: the empty name with the empty value.
        prop_assert_eq!(decoded, pairs);
    }

    /// Any query decodes without panicking, one pair per non-empty piece.
    #[test]
    fn query_pairs_of_any_text(query in ".*") {
        let pieces = query.split('&').filter(|p| !p.is_empty()).count();
        prop_assert_eq!(QueryPairs::new(&query).count(), pieces);
    }

    /// Any split of a request into two calls gives the whole-buffer result.
    #[test]
    fn any_split_point_gives_the_same_request(cut in 0usize..RFC_REQUEST.len()) {
        let mut parser = RequestParser::default();
        prop_assert!(parser.parse(&RFC_REQUEST[..cut]).unwrap().is_partial());
        let Parsed::Complete((request, used)) = parser.parse(RFC_REQUEST).unwrap() else {
            panic!("incomplete")
        };
        prop_assert_eq!(used, RFC_REQUEST.len());
        prop_assert_eq!(Ok(Parsed::Complete((request, used))), RequestParser::default().parse(RFC_REQUEST));
        prop_assert_eq!(request_bytes_scanned(&parser), RFC_REQUEST.len() as u64);
    }

    /// Arbitrary bytes never panic, and chunked feeding agrees with whole.
    #[test]
    fn arbitrary_requests_agree_in_chunks(
        prefix in proptest::sample::select(vec![&b""[..], RFC_REQUEST, b"GET / HTTP/1.1\r\n"]),
        noise in proptest::collection::vec(any::<u8>(), 0..200),
        chunk in 1usize..17,
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&noise);
        bytes.extend_from_slice(b"\r\n\r\n");
        let whole = RequestParser::default().parse(&bytes);
        let mut parser = RequestParser::default();
        let mut end = 0;
        let chunked = loop {
            end = (end + chunk).min(bytes.len());
            match parser.parse(&bytes[..end]) {
                Ok(Parsed::Partial) if end < bytes.len() => continue,
                other => break other,
            }
        };
        prop_assert_eq!(whole, chunked);
    }

    /// The same for responses.
    #[test]
    fn arbitrary_responses_agree_in_chunks(
        prefix in proptest::sample::select(vec![&b""[..], RFC_RESPONSE, b"HTTP/1.1 101 OK\r\n"]),
        noise in proptest::collection::vec(any::<u8>(), 0..200),
        chunk in 1usize..17,
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&noise);
        let (_, handshake) = rfc_client();
        let whole = handshake.clone().parse_response(&bytes);
        let mut h = handshake;
        let mut end = 0;
        let chunked = loop {
            end = (end + chunk).min(bytes.len());
            match h.parse_response(&bytes[..end]) {
                Ok(Parsed::Partial) if end < bytes.len() => continue,
                other => break other,
            }
        };
        prop_assert_eq!(whole, chunked);
    }

    /// Token lists of any shape parse to the same protocols however spaced.
    #[test]
    fn protocol_lists_ignore_spacing(
        mut names in proptest::collection::vec("[a-z0-9.]{1,8}", 1..6),
        pad in "[ \t]{0,3}",
    ) {
        // Each offered once (RFC 6455 §4.1); repeats are refused, above.
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let list = names.join(&format!("{pad},{pad}"));
        let req = request_with(&["Sec-WebSocket-Protocol"], &format!("Sec-WebSocket-Protocol: {pad}{list}{pad}\r\n"));
        let (upgrade, _) = server(&req).unwrap();
        prop_assert_eq!(upgrade.protocols(), &names[..]);
    }
}

/// Bytes that cannot start an HTTP request (a TLS ClientHello sent to a
/// plain-text port, binary garbage) are refused with 400 at the first byte
/// that proves it, not after the 16 KiB head cap.
#[test]
fn non_http_bytes_get_400_at_once() {
    let client_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut parser = RequestParser::default();
    let error = parser.parse(&client_hello).unwrap_err();
    assert_eq!(error.http_status(), 400);
    assert!(error.response().starts_with(b"HTTP/1.1 400 "));
    assert_eq!(request_bytes_scanned(&parser), 1);

    let mut parser = RequestParser::default();
    let error = parser
        .parse(b"GET / HTTP/1.1 and then some\r\n")
        .unwrap_err();
    assert_eq!(error.http_status(), 400);
}
