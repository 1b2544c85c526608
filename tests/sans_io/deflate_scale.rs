//! permessage-deflate at scale (issue 33), through the public API: the
//! default server's negotiation in both roles through the handshake (fed
//! whole and one byte at a time), the size threshold, prepared messages
//! compressed once for a whole room, a pool shared by threads, and the
//! decompression-bomb limit on the pooled path.
#![cfg(feature = "deflate")]

use std::thread;

use wsproto::deflate::{DeflateConfig, DeflateParams, DeflatePool, ServerMode};
use wsproto::frame::apply_mask;
use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser, ResponseError};
use wsproto::{
    Bytes, Config, Connection, Message, Parsed, PreparedMessage, ProtocolError, Role, Transmit,
};

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = conn.poll_transmit() {
        if let Transmit::Data(bytes) = t {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// The frames queued, each as its own shared `Bytes`.
fn chunks(conn: &mut Connection) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some(t) = conn.poll_transmit() {
        if let Transmit::Data(bytes) = t {
            out.push(bytes);
        }
    }
    out
}

fn events(conn: &mut Connection) -> Vec<Message> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Delivers `wire` whole and one byte at a time to fresh connections made
/// by `make`: both must see the same events, which are returned.
fn deliver(make: impl Fn() -> Connection, wire: &[u8]) -> Vec<Message> {
    let mut whole = make();
    whole.receive_data(wire).unwrap();
    let expected = events(&mut whole);
    let mut bytewise = make();
    for b in wire {
        bytewise.receive_data(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(events(&mut bytewise), expected);
    expected
}

fn with_deflate(role: Role, params: DeflateParams) -> Connection {
    let mut conn = Connection::new(role, Config::default());
    conn.set_deflate(params);
    conn
}

fn stateless() -> DeflateParams {
    let mut p = DeflateParams::default();
    p.server_no_context_takeover = true;
    p.client_no_context_takeover = true;
    p
}

// ----- RFC 7692 §7.1: the default server through the handshake ---------------------

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(extensions: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
    .into_bytes()
}

/// The server's answer (its `Sec-WebSocket-Extensions` value, if any) and
/// agreement for a request offering `offer`, the request parsed whole and
/// one byte at a time (the same outcome both ways).
fn server_answer(config: DeflateConfig, offer: &str) -> (Option<String>, Option<DeflateParams>) {
    let head = request(offer);
    let outcome = |upgrade: wsproto::handshake::UpgradeRequest| {
        let negotiated = upgrade
            .accept(AcceptOptions::new().deflate(config))
            .unwrap();
        let response = String::from_utf8(negotiated.response().to_vec()).unwrap();
        let answer = response
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
            .map(str::to_owned);
        (answer, negotiated.deflate())
    };
    let Parsed::Complete((upgrade, used)) = RequestParser::default().parse(&head).unwrap() else {
        panic!("partial")
    };
    assert_eq!(used, head.len());
    let whole = outcome(upgrade);
    let mut parser = RequestParser::default();
    for end in 1..head.len() {
        assert!(matches!(parser.parse(&head[..end]), Ok(Parsed::Partial)));
    }
    let Parsed::Complete((upgrade, _)) = parser.parse(&head).unwrap() else {
        panic!("partial")
    };
    assert_eq!(outcome(upgrade), whole);
    whole
}

fn agreed(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    let mut p = DeflateParams::default();
    p.server_no_context_takeover = snct;
    p.client_no_context_takeover = cnct;
    p.server_max_window_bits = sbits;
    p.client_max_window_bits = cbits;
    p
}

#[test]
fn default_server_negotiation_table() {
    let d = DeflateConfig::default();
    let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let table: &[(&str, Option<String>, Option<DeflateParams>)] = &[
        // Chromium, and Firefox (no client_max_window_bits).
        (
            "permessage-deflate; client_max_window_bits",
            Some(both.into()),
            Some(agreed(true, true, 15, 15)),
        ),
        (
            "permessage-deflate",
            Some(both.into()),
            Some(agreed(true, true, 15, 15)),
        ),
        // No context takeover offered on either side: the same answer.
        (
            "permessage-deflate; client_no_context_takeover",
            Some(both.into()),
            Some(agreed(true, true, 15, 15)),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_max_window_bits",
            Some(both.into()),
            Some(agreed(true, true, 15, 15)),
        ),
        // Windows: granted as asked.
        (
            "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10",
            Some(format!(
                "{both}; server_max_window_bits=11; client_max_window_bits=10"
            )),
            Some(agreed(true, true, 11, 10)),
        ),
        // Malformed: declined, so no extension at all ...
        ("permessage-deflate; server_max_window_bits=16", None, None),
        (
            "permessage-deflate; client_no_context_takeover=1",
            None,
            None,
        ),
        ("permessage-deflate; x=1", None, None),
        // ... unless a later offer is acceptable.
        (
            "permessage-deflate; client_max_window_bits=7, permessage-deflate; client_max_window_bits",
            Some(both.into()),
            Some(agreed(true, true, 15, 15)),
        ),
        // Other extensions are not ours to agree to.
        ("x-webkit-deflate-frame", None, None),
    ];
    for (offer, answer, params) in table {
        assert_eq!(
            server_answer(d, offer),
            (answer.clone(), *params),
            "offer {offer}"
        );
    }
    // The context-takeover server answers with what was offered only.
    let mut takeover = DeflateConfig::default();
    takeover.server_mode = ServerMode::ContextTakeover;
    assert_eq!(
        server_answer(takeover, "permessage-deflate; client_max_window_bits"),
        (
            Some("permessage-deflate".into()),
            Some(agreed(false, false, 15, 15))
        )
    );
}

/// Our client (Chromium's offer) against the default server's answers and
/// others, the response fed whole and one byte at a time.
#[test]
fn client_negotiation_table() {
    let config = DeflateConfig::default();
    let (request, _) = ClientRequest::new("example.com", "/chat")
        .deflate(config)
        .build_with_nonce(*b"the sample nonce")
        .unwrap();
    let request = String::from_utf8(request).unwrap();
    assert!(
        request.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        ),
        "{request}"
    );
    let table: &[(&str, Result<Option<DeflateParams>, ()>)] = &[
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            Ok(Some(agreed(true, true, 15, 15))),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            Ok(Some(agreed(false, true, 15, 15))),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
            Ok(Some(agreed(true, false, 15, 9))),
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            Ok(Some(agreed(false, false, 12, 15))),
        ),
        // Unacceptable answers fail the handshake (RFC 7692 §5).
        ("permessage-deflate; client_max_window_bits", Err(())),
        ("permessage-deflate; server_no_context_takeover=1", Err(())),
        ("permessage-deflate; mux", Err(())),
    ];
    for (answer, expected) in table {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n"
        );
        let response = response.as_bytes();
        let outcome = |feed_bytewise: bool| {
            let (_, mut hs) = ClientRequest::new("example.com", "/chat")
                .deflate(config)
                .build_with_nonce(*b"the sample nonce")
                .unwrap();
            if feed_bytewise {
                for end in 1..response.len() {
                    assert!(matches!(
                        hs.parse_response(&response[..end]),
                        Ok(Parsed::Partial)
                    ));
                }
            }
            match hs.parse_response(response) {
                Ok(Parsed::Complete((established, _))) => Ok(established.deflate()),
                Err(ResponseError::DeflateRefused(_)) => Err(()),
                other => panic!("{answer}: {other:?}"),
            }
        };
        assert_eq!(outcome(false), *expected, "answer {answer}");
        assert_eq!(outcome(true), *expected, "answer {answer}, byte by byte");
    }
}

// ----- the threshold ----------------------------------------------------------------

/// 1024 bytes of a chat-like line, and what zlib-rs makes of them (level
/// 6, raw deflate, 15 bits, memLevel 5 or 8 alike, sync flush, tail
/// removed): pinned,
/// and checked outside this crate with Python's zlib, which inflates it
/// (`zlib.decompressobj(-15).decompress(bytes.fromhex(X) +
/// b"\0\0\xff\xff")`) to the message. (zlib 1.3 itself makes a 42-byte
/// variant: `aa56...c6b20000`; both are valid.)
fn kib_message() -> String {
    "{\"seq\":1,\"text\":\"hello, room\"}".repeat(40)[..1024].to_owned()
}
const KIB_COMPRESSED: &str =
    "aa562a4e2d54b232d4512a49ad2851b252ca48cdc9c9d75128cacfcf55aaad1e951d0d8dd1b4913f7cf30200";

/// Bytes that do not compress: xorshift output.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Below the threshold (default 1024 B) a message goes as it is, RSV1
/// clear; at it, compressed. Both roles send, both receive, in every mode.
#[test]
fn messages_below_the_threshold_go_uncompressed() {
    let at = kib_message();
    let below = &at[..1023];
    let compressed = hex(KIB_COMPRESSED);
    for params in [DeflateParams::default(), stateless()] {
        assert_eq!(params.threshold, 1024);
        // Server to client: byte-exact frames.
        let mut server = with_deflate(Role::Server, params);
        server.send_text(below).unwrap();
        let mut expected = vec![0x81, 0x7e, 0x03, 0xff];
        expected.extend_from_slice(below.as_bytes());
        assert_eq!(drain(&mut server), expected);
        server.send_text(at.as_str()).unwrap();
        let mut expected = vec![0xc1, compressed.len() as u8];
        expected.extend_from_slice(&compressed);
        let wire = drain(&mut server);
        assert_eq!(wire, expected);
        let got = deliver(|| with_deflate(Role::Client, params), &wire);
        assert_eq!(got, [Message::Text(at.as_str().into())]);

        // Client to server: the same payloads, masked.
        let mut client = with_deflate(Role::Client, params);
        client.set_mask_source(|| [0x37, 0xfa, 0x21, 0x3d]);
        client.send_text(below).unwrap();
        client.send_text(at.as_str()).unwrap();
        let wire = drain(&mut client);
        assert_eq!(wire[..2], [0x81, 0xfe]);
        let mut first = wire[8..8 + 1023].to_vec();
        apply_mask(&mut first, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(first, below.as_bytes());
        let second = &wire[8 + 1023..];
        assert_eq!(second[..2], [0xc1, 0x80 | compressed.len() as u8]);
        let mut payload = second[6..].to_vec();
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(payload, compressed);
        let got = deliver(|| with_deflate(Role::Server, params), &wire);
        assert_eq!(
            got,
            [
                Message::Text(below.into()),
                Message::Text(at.as_str().into())
            ]
        );
    }
}

/// A message that does not shrink is still sent compressed (stored
/// blocks, a few bytes more) above the threshold, in every mode, and
/// decodes.
#[test]
fn incompressible_messages_are_still_compressed() {
    let noise = noise(2000);
    for params in [stateless(), DeflateParams::default()] {
        let mut server = with_deflate(Role::Server, params);
        server.send_binary(noise.as_slice()).unwrap();
        let wire = drain(&mut server);
        assert_eq!(wire[0], 0xc2);
        assert!(wire.len() <= 4 + 2000 + 16, "{}", wire.len());
        let got = deliver(|| with_deflate(Role::Client, params), &wire);
        assert_eq!(got, [Message::Binary(noise.clone().into())]);
    }
}

// ----- prepared messages, compressed once ------------------------------------------

/// A chat-like text well above the threshold.
fn post() -> String {
    (0..40)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"user\":\"member{}\",\"text\":\"hello, room\"}}\n",
                i % 7
            )
        })
        .collect()
}

/// One room: stateless members at the default window (3), stateless
/// members that asked for a 10-bit server window (2), a member with
/// context takeover, and one without deflate. The stateless members of
/// each window share one compressed frame (the same memory); the others
/// get the plain frame; each member decodes the text byte for byte, fed
/// whole and one byte at a time; two compressions in all.
#[test]
fn a_prepared_message_is_compressed_once_per_window() {
    let text = post();
    let message = PreparedMessage::text(text.as_str());
    assert_eq!(message.compressions(), 0);
    let mut small_window = stateless();
    small_window.server_max_window_bits = 10;
    let members: Vec<Option<DeflateParams>> = vec![
        Some(stateless()),
        Some(stateless()),
        Some(stateless()),
        Some(small_window),
        Some(small_window),
        Some(DeflateParams::default()),
        None,
    ];
    let mut frames = Vec::new();
    for params in &members {
        let mut conn = Connection::new(Role::Server, Config::default());
        if let Some(params) = params {
            conn.set_deflate(*params);
        }
        conn.send_prepared(&message.clone()).unwrap();
        let sent = chunks(&mut conn);
        assert_eq!(sent.len(), 1);
        frames.push(sent.into_iter().next().unwrap());
    }
    assert_eq!(message.compressions(), 2);
    // Shared memory: the same bytes for each window, the plain frame for
    // the rest.
    assert_eq!(frames[0].as_ptr(), frames[1].as_ptr());
    assert_eq!(frames[0].as_ptr(), frames[2].as_ptr());
    assert_eq!(frames[3].as_ptr(), frames[4].as_ptr());
    assert_ne!(frames[0].as_ptr(), frames[3].as_ptr());
    assert_eq!(frames[5].as_ptr(), message.frame().as_ptr());
    assert_eq!(frames[6].as_ptr(), message.frame().as_ptr());
    for (i, frame) in frames.iter().enumerate() {
        let compressed = i < 5;
        assert_eq!(frame[0], if compressed { 0xc1 } else { 0x81 }, "member {i}");
        if compressed {
            assert!(frame.len() < text.len() / 3, "member {i}: {}", frame.len());
        }
    }
    // The 15-bit frame is what a fresh 15-bit compressor makes of the text
    // as a message of its own: the same as a stateless connection sends.
    let mut direct = with_deflate(Role::Server, stateless());
    direct.send_text(text.as_str()).unwrap();
    assert_eq!(drain(&mut direct), frames[0][..]);
    let mut direct = with_deflate(Role::Server, small_window);
    direct.send_text(text.as_str()).unwrap();
    assert_eq!(drain(&mut direct), frames[3][..]);
    // Every member decodes it, whole and byte by byte.
    for (params, frame) in members.iter().zip(&frames) {
        let make = || {
            let mut client = Connection::new(Role::Client, Config::default());
            if let Some(params) = params {
                client.set_deflate(*params);
            }
            client
        };
        assert_eq!(deliver(make, frame), [Message::Text(text.as_str().into())]);
    }
}

/// Prepared frames interleaved with a stateless connection's own messages,
/// and messages under the threshold or incompressible: plain frames, no
/// compression made for the former, one (that found no gain) for the
/// latter.
#[test]
fn prepared_frames_mix_with_other_sends() {
    let text = post();
    let mut server = with_deflate(Role::Server, stateless());
    let shared = PreparedMessage::text(text.as_str());
    let short = PreparedMessage::text("hi all");
    let noise = noise(3000);
    let binary = PreparedMessage::binary(noise.clone());
    server.send_text(text.as_str()).unwrap();
    server.send_prepared(&shared).unwrap();
    server.send_prepared(&short).unwrap();
    server.send_prepared(&binary).unwrap();
    server.send_text("bye").unwrap();
    server.send_prepared(&shared).unwrap();
    assert_eq!(shared.compressions(), 1);
    assert_eq!(short.compressions(), 0);
    assert_eq!(binary.compressions(), 1);
    let sent = chunks(&mut server);
    assert_eq!(sent.iter().filter(|c| c[0] == 0xc1).count(), 3);
    for plain in [&short, &binary] {
        assert!(sent.iter().any(|c| c.as_ptr() == plain.frame().as_ptr()));
    }
    let wire: Vec<u8> = sent.concat();
    let got = deliver(|| with_deflate(Role::Client, stateless()), &wire);
    assert_eq!(
        got,
        [
            Message::Text(text.as_str().into()),
            Message::Text(text.as_str().into()),
            Message::Text("hi all".into()),
            Message::Binary(noise.into()),
            Message::Text("bye".into()),
            Message::Text(text.as_str().into()),
        ]
    );
}

// ----- a pool shared by threads ----------------------------------------------------

/// Connections on four threads share one pool: every message arrives
/// intact, and the pool never keeps more than its limit.
#[test]
fn a_pool_serves_connections_on_many_threads() {
    static POOL: DeflatePool = DeflatePool::new(3);
    let mut params = stateless();
    params.pool = Some(&POOL);
    params.threshold = 0;
    let text = post();
    thread::scope(|scope| {
        for t in 0..4 {
            let text = &text;
            scope.spawn(move || {
                for round in 0..25 {
                    let mut server = with_deflate(Role::Server, params);
                    let mut client = with_deflate(Role::Client, params);
                    let line = format!("{t}/{round}: {text}");
                    client.send_text(line.as_str()).unwrap();
                    server.receive_data(&drain(&mut client)).unwrap();
                    assert_eq!(events(&mut server), [Message::Text(line.as_str().into())]);
                    server.send_text(line.as_str()).unwrap();
                    let wire = drain(&mut server);
                    assert_eq!(wire[0], 0xc1);
                    client.receive_data(&wire).unwrap();
                    assert_eq!(events(&mut client), [Message::Text(line.as_str().into())]);
                }
            });
        }
    });
    assert!((1..=3).contains(&POOL.idle_compressors()));
    assert!((1..=3).contains(&POOL.idle_decompressors()));
}

// ----- decompression bombs on the pooled path ----------------------------------------

/// 16 MiB of zeros in one compressed frame to a stateless, pooled server
/// whose limit is 1 MiB: 1009 after at most the limit, and the failed
/// decompressor is not given back; the pool serves the next connection.
#[test]
fn a_bomb_fails_with_1009_and_leaves_the_pool_sound() {
    static POOL: DeflatePool = DeflatePool::new(2);
    let mut params = stateless();
    params.pool = Some(&POOL);
    let mut sender = with_deflate(Role::Client, params);
    sender.send_binary(vec![0u8; 16 << 20]).unwrap();
    let bomb = drain(&mut sender);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let mut config = Config::default();
    config.max_message_size = 1 << 20;
    let mut server = Connection::new(Role::Server, config.clone());
    server.set_deflate(params);
    let idle = POOL.idle_decompressors();
    let error = server.receive_data(&bomb).unwrap_err();
    assert!(matches!(error, ProtocolError::MessageTooBig { limit, .. } if limit == 1 << 20));
    assert_eq!(error.close_code(), 1009);
    assert!(POOL.idle_decompressors() <= idle);
    // The next connection inflates normally from the same pool.
    let text = post();
    let mut client = with_deflate(Role::Client, params);
    client.send_text(text.as_str()).unwrap();
    let mut next = Connection::new(Role::Server, config);
    next.set_deflate(params);
    next.receive_data(&drain(&mut client)).unwrap();
    assert_eq!(events(&mut next), [Message::Text(text.as_str().into())]);
}
