//! `Config`: the chaining setters, and which fields the connection itself
//! honours.

use crate::support;

use std::time::Duration;

use support::sans_io::{Conn, conn};
use wsproto::{Config, HandshakeLimits, ProtocolError, Role, Transmit};

fn drain(conn: &mut Conn) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = conn.poll_transmit() {
        if let Transmit::Data(bytes) = t {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

#[test]
fn each_setter_sets_its_field_and_nothing_else() {
    let limits = HandshakeLimits::default()
        .max_head_size(1000)
        .max_headers(10)
        .max_line_length(100);
    let mut by_field = HandshakeLimits::default();
    by_field.max_head_size = 1000;
    by_field.max_headers = 10;
    by_field.max_line_length = 100;
    assert_eq!(limits, by_field);

    let chained = Config::default()
        .max_frame_size(1)
        .max_message_size(2)
        .max_fragments(3)
        .fragment_size(Some(4))
        .max_write_buffer(5)
        .close_timeout(Duration::from_secs(6))
        .ping_interval(Some(Duration::from_secs(7)))
        .pong_timeout(Duration::from_secs(8));
    let mut by_field = Config::default();
    by_field.max_frame_size = 1;
    by_field.max_message_size = 2;
    by_field.max_fragments = 3;
    by_field.fragment_size = Some(4);
    by_field.max_write_buffer = 5;
    by_field.close_timeout = Duration::from_secs(6);
    by_field.ping_interval = Some(Duration::from_secs(7));
    by_field.pong_timeout = Duration::from_secs(8);
    assert_eq!(chained, by_field);
    // Every field moved away from its default.
    let default = Config::default();
    assert_ne!(chained.max_frame_size, default.max_frame_size);
    assert_ne!(chained.pong_timeout, default.pong_timeout);
}

#[test]
fn a_chained_limit_is_what_the_connection_enforces() {
    let mut server = conn(Role::Server, Config::default().max_message_size(4));
    // RFC 6455 §5.7: a single-frame masked text message "Hello", 5 bytes.
    let hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let error = server.receive_data(&hello).unwrap_err();
    assert_eq!(error, ProtocolError::MessageTooBig { size: 5, limit: 4 });
    // The Close it sent: 1009, with the error as its reason.
    let reason = b"message of at least 5 bytes exceeds the limit of 4";
    let mut close = vec![0x88, 2 + reason.len() as u8, 0x03, 0xf1];
    close.extend_from_slice(reason);
    assert_eq!(drain(&mut server), close);
}

/// A `DeflateConfig` is the handshake's offer, not the connection's: a
/// connection made without the handshake's outcome has agreed to nothing,
/// so it neither compresses nor accepts RSV1. Compression starts with
/// what the handshake agreed.
#[cfg(feature = "deflate")]
#[test]
fn config_deflate_is_the_offer_and_the_handshake_outcome_turns_it_on() {
    use wsproto::deflate::DeflateConfig;
    use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser};
    use wsproto::{Connection, Message, Parsed};

    // Every message compressed however short (the default threshold is
    // 1 KiB), so that "Hello" shows it.
    let mut deflate = DeflateConfig::default();
    deflate.threshold = 0;
    let config = Config::default();

    // Created from the configuration only: plain frames out...
    let mut server = Connection::new(Role::Server, config.clone());
    server.send_text("Hello").unwrap();
    assert_eq!(drain(&mut server), b"\x81\x05Hello");
    // ... and a compressed frame in (RFC 7692 §7.2.3.1, "Hello") is an
    // undefined RSV1: 1002.
    let hello_rsv1 = [
        0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(
        server.receive_data(&hello_rsv1).unwrap_err(),
        ProtocolError::ReservedBits
    );

    // Through the handshake: the same configuration offered and accepted.
    let (request, mut client_hs) = ClientRequest::new("example.com", "/")
        .deflate(deflate)
        .build_with_nonce(*b"the sample nonce")
        .unwrap();
    let Parsed::Complete((upgrade, _)) = RequestParser::default().parse(&request).unwrap() else {
        panic!("partial request")
    };
    let accepted = upgrade
        .accept(AcceptOptions::new().deflate(deflate))
        .unwrap();
    let Parsed::Complete((established, _)) = client_hs.parse_response(accepted.response()).unwrap()
    else {
        panic!("partial response")
    };
    let mut server = Connection::new(Role::Server, config.clone());
    server.set_deflate(accepted.deflate().expect("agreed"));
    server.send_text("Hello").unwrap();
    assert_eq!(
        drain(&mut server),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    let mut client = Connection::new(Role::Client, config);
    client.set_deflate(established.deflate().expect("agreed"));
    client
        .receive_data(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        .unwrap();
    assert!(matches!(client.poll_event(), Some(Message::Text(t)) if t == "Hello"));
}
