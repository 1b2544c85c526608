//! permessage-deflate (RFC 7692) through the public API: the handshake in
//! both roles, the §7.2.3 examples on the wire, the RSV1 rules, the
//! inflated-size limit, and two endpoints in memory exchanging compressed
//! messages however the bytes are cut.
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use wsproto::deflate::{DeflateConfig, DeflateParams, DeflatePool, ServerMode};
use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser, ResponseError};
use wsproto::{Config, Connection, Message, Parsed, ProtocolError, Role, Transmit};

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = conn.poll_transmit() {
        if let Transmit::Data(bytes) = t {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

fn events(conn: &mut Connection) -> Vec<Message> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

fn with_deflate(role: Role, config: Config, params: DeflateParams) -> Connection {
    let mut conn = Connection::new(role, config);
    conn.set_deflate(params);
    conn
}

// ----- §5, §7.1: negotiation through the handshake ---------------------------

/// Client offer -> server answer -> client check; returns both sides' view.
fn handshake(
    client: DeflateConfig,
    server: Option<DeflateConfig>,
) -> (Option<DeflateParams>, Option<DeflateParams>) {
    let (request, mut client_hs) = ClientRequest::new("example.com", "/")
        .deflate(client)
        .build_with_nonce(*b"the sample nonce")
        .unwrap();
    let Parsed::Complete((upgrade, _)) = RequestParser::default().parse(&request).unwrap() else {
        panic!("partial request")
    };
    let mut accept = AcceptOptions::new();
    if let Some(server) = server {
        accept = accept.deflate(server);
    }
    let accepted = upgrade.accept(accept).unwrap();
    let Parsed::Complete((established, _)) = client_hs.parse_response(accepted.response()).unwrap()
    else {
        panic!("partial response")
    };
    (accepted.deflate(), established.deflate())
}

#[test]
fn both_roles_agree() {
    // The default server answers Chromium's offer with both
    // no_context_takeover parameters (ServerMode::Stateless).
    let (server, client) = handshake(DeflateConfig::default(), Some(DeflateConfig::default()));
    let mut stateless = DeflateParams::default();
    stateless.server_no_context_takeover = true;
    stateless.client_no_context_takeover = true;
    assert_eq!(server, Some(stateless));
    assert_eq!(client, server);
    // A server in ContextTakeover mode agrees to the plain extension.
    let mut takeover = DeflateConfig::default();
    takeover.server_mode = ServerMode::ContextTakeover;
    let (server, client) = handshake(DeflateConfig::default(), Some(takeover));
    assert_eq!(server, Some(DeflateParams::default()));
    assert_eq!(client, server);

    let mut asks = DeflateConfig::default();
    asks.server_no_context_takeover = true;
    asks.server_max_window_bits = 10;
    let mut frugal = DeflateConfig::default();
    frugal.client_no_context_takeover = true;
    frugal.client_max_window_bits = 9;
    let (server, client) = handshake(asks, Some(frugal));
    let server = server.unwrap();
    assert!(server.server_no_context_takeover && server.client_no_context_takeover);
    assert_eq!(
        (server.server_max_window_bits, server.client_max_window_bits),
        (10, 9)
    );
    assert_eq!(client, Some(server));

    // A server without deflate: nothing agreed, no error.
    assert_eq!(handshake(DeflateConfig::default(), None), (None, None));
}

#[test]
fn client_fails_the_handshake_on_an_answer_it_did_not_allow() {
    let mut asks = DeflateConfig::default();
    asks.server_max_window_bits = 10;
    let (_, mut client_hs) = ClientRequest::new("example.com", "/")
        .deflate(asks)
        .build_with_nonce(*b"the sample nonce")
        .unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate; \
         server_max_window_bits=12\r\n\r\n",
        client_hs.expected_accept()
    );
    assert!(matches!(
        client_hs.parse_response(response.as_bytes()),
        Err(ResponseError::DeflateRefused(_))
    ));
}

// ----- §7.2.3: the examples on the wire --------------------------------------

#[test]
fn rfc_7692_7_2_3_1_and_2_sent() {
    // Context takeover, and every message compressed however short.
    let mut params = DeflateParams::default();
    params.threshold = 0;
    let mut server = with_deflate(Role::Server, Config::default(), params);
    server.send_text("Hello").unwrap();
    assert_eq!(
        drain(&mut server),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // §7.2.3.2: the same message again, using the shared sliding window.
    server.send_text("Hello").unwrap();
    assert_eq!(
        drain(&mut server),
        [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    // Control frames are never compressed (RFC 7692 §6.1).
    server.send_ping(b"Hello").unwrap();
    assert_eq!(drain(&mut server), b"\x89\x05Hello");
}

#[test]
fn rfc_7692_7_2_3_received_whole_and_byte_by_byte() {
    let frames: &[&[u8]] = &[
        // §7.2.3.1, one frame and fragmented.
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
        // §7.2.3.3: a stored block.
        &[
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ],
        // §7.2.3.5: two blocks.
        &[
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ],
        // §7.2.3.4: BFINAL set (the stream ends; the next starts afresh).
        &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    ];
    let wire: Vec<u8> = frames.concat();
    for step in [wire.len(), 1] {
        let mut client = with_deflate(Role::Client, Config::default(), DeflateParams::default());
        for piece in wire.chunks(step) {
            client.receive_data(piece).unwrap();
        }
        let got: Vec<Message> = events(&mut client);
        assert_eq!(got.len(), frames.len());
        for event in got {
            assert!(matches!(event, Message::Text(t) if t == "Hello"));
        }
    }
}

// ----- §6.1: RSV1 --------------------------------------------------------------

/// Feeds `wire`, expects a failure, and checks that the connection closed
/// with the error's code.
fn fails_with(conn: &mut Connection, wire: &[u8]) -> ProtocolError {
    let error = conn.receive_data(wire).unwrap_err();
    assert!(events(conn).is_empty());
    assert_eq!(drain(conn)[0], 0x88, "a Close goes out");
    let code = u16::from(conn.close_frame().unwrap().code);
    assert_eq!(code, error.close_code());
    error
}

#[test]
fn rsv1_rules() {
    let hello_rsv1 = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    // Without the extension RSV1 is undefined: 1002.
    let mut plain = Connection::new(Role::Client, Config::default());
    assert_eq!(
        fails_with(&mut plain, &hello_rsv1),
        ProtocolError::ReservedBits
    );

    let params = DeflateParams::default();
    // On a continuation frame: 1002.
    let mut conn = with_deflate(Role::Client, Config::default(), params);
    let e = fails_with(
        &mut conn,
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
    );
    assert_eq!(
        (e.clone(), e.close_code()),
        (ProtocolError::MisplacedRsv1, wsproto::CloseCode::new(1002))
    );
    // On a control frame: 1002.
    let mut conn = with_deflate(Role::Client, Config::default(), params);
    assert_eq!(
        fails_with(&mut conn, &[0xc9, 0x00]),
        ProtocolError::MisplacedRsv1
    );
    // RSV2 and RSV3 stay undefined.
    let mut conn = with_deflate(Role::Client, Config::default(), params);
    assert_eq!(
        fails_with(&mut conn, &[0xa1, 0x00]),
        ProtocolError::ReservedBits
    );
    // Uncompressed messages still arrive as they are (RSV1 is per message).
    let mut conn = with_deflate(Role::Client, Config::default(), params);
    conn.receive_data(b"\x81\x05Hello").unwrap();
    assert!(matches!(conn.poll_event(), Some(Message::Text(t)) if t == "Hello"));
    // Invalid UTF-8 after inflating: 1007, as for plain text. The stored
    // block below holds 0xff.
    let mut conn = with_deflate(Role::Client, Config::default(), params);
    let error = fails_with(&mut conn, &[0xc1, 0x06, 0x00, 0x01, 0x00, 0xfe, 0xff, 0xff]);
    assert_eq!(error, ProtocolError::InvalidUtf8);
}

// ----- decompression bombs -------------------------------------------------------

#[test]
fn inflated_size_limit_fails_with_1009() {
    // 64 MiB of zeros compress to about 64 KiB, sent as one frame.
    let mut sender = with_deflate(Role::Server, Config::default(), DeflateParams::default());
    sender.send_binary(vec![0u8; 64 << 20]).unwrap();
    let wire = drain(&mut sender);
    assert!(wire.len() < 128 << 10, "{}", wire.len());
    let mut config = Config::default();
    config.max_message_size = 1 << 20;
    let mut receiver = with_deflate(Role::Client, config, DeflateParams::default());
    let error = fails_with(&mut receiver, &wire);
    assert!(matches!(error, ProtocolError::MessageTooBig { limit, .. } if limit == 1 << 20));
    assert_eq!(error.close_code(), 1009);
}

// ----- two endpoints in memory -----------------------------------------------------

fn message() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        // Repetitive text: compresses well, back-references everywhere.
        (0usize..4000, "[a-c{}\":,é]{1,8}")
            .prop_map(|(n, unit)| (true, unit.repeat(n / unit.len().max(1) + 1).into_bytes())),
        any::<String>().prop_map(|s| (true, s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(|b| (false, b)),
    ]
}

/// Shared by every pooled connection of every case (and thread).
static POOL: DeflatePool = DeflatePool::new(2);

fn params() -> impl Strategy<Value = DeflateParams> {
    (
        (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15, 0u32..=9),
        (
            1u8..=9,
            prop_oneof![Just(0usize), Just(1024), 0usize..4000],
            any::<bool>(),
        ),
    )
        .prop_map(
            |((snct, cnct, sbits, cbits, level), (mem_level, threshold, pooled))| {
                let mut p = DeflateParams::default();
                p.server_no_context_takeover = snct;
                p.client_no_context_takeover = cnct;
                p.server_max_window_bits = sbits;
                p.client_max_window_bits = cbits;
                p.compression_level = level;
                p.mem_level = mem_level;
                p.threshold = threshold;
                p.pool = pooled.then_some(&POOL);
                p
            },
        )
}

/// Sends `messages` from `from`, delivers the wire to `to` in pieces of
/// `chunk` bytes, and checks what arrives.
fn exchange(
    from: &mut Connection,
    to: &mut Connection,
    messages: &[(bool, Vec<u8>)],
    chunk: usize,
) -> Result<(), TestCaseError> {
    for (text, data) in messages {
        if *text {
            from.send_text(String::from_utf8(data.clone()).unwrap())
                .unwrap();
        } else {
            from.send_binary(data.clone()).unwrap();
        }
    }
    let wire = drain(from);
    for piece in wire.chunks(chunk) {
        to.receive_data(piece).unwrap();
    }
    let got = events(to);
    prop_assert_eq!(got.len(), messages.len());
    for (event, (text, data)) in got.into_iter().zip(messages) {
        match event {
            Message::Text(t) => prop_assert!(*text && t.as_bytes() == &data[..]),
            Message::Binary(b) => prop_assert!(!*text && b[..] == data[..]),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn pair_exchanges_compressed_messages(
        params in params(),
        messages in proptest::collection::vec(message(), 1..12),
        fragment in prop_oneof![Just(None), (1usize..600).prop_map(Some)],
        chunk in 1usize..700,
    ) {
        let mut config = Config::default();
        config.fragment_size = fragment;
        let mut client = with_deflate(Role::Client, config.clone(), params);
        let mut server = with_deflate(Role::Server, config, params);
        exchange(&mut client, &mut server, &messages, chunk)?;
        exchange(&mut server, &mut client, &messages, chunk)?;
    }
}
