//! `CloseFrame::parse` on arbitrary bytes: never panics, and accepts
//! exactly an empty payload or a code the RFC lets a peer send followed
//! by a UTF-8 reason. Payloads that fit a control frame are also sent to a
//! server `Connection`, which must report the same frame or fail with the
//! matching close code.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wsproto::{CloseCode, CloseFrame, Config, Connection, Message, Role};

/// RFC 6455 §7.4.1 and the IANA registry: the codes a Close frame may
/// carry (1004–1006 and 1015 are reserved or must not be sent; 1016–2999
/// are reserved for the protocol; 3000–4999 are for libraries and
/// applications).
fn valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fuzz_target!(|data: &[u8]| {
    let parsed = CloseFrame::parse(Bytes::copy_from_slice(data));
    let expected = match data {
        [] => Some((1005, "")),
        [_] => None,
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            match std::str::from_utf8(reason) {
                Ok(text) if valid_code(code) => Some((code, text)),
                _ => None,
            }
        }
    };
    match (&parsed, expected) {
        (Ok(frame), Some((code, reason))) => {
            assert_eq!(frame.code, CloseCode::new(code));
            assert_eq!(frame.reason.as_str(), reason);
        }
        (Err(_), None) => {}
        (parsed, expected) => panic!("{parsed:?} but expected {expected:?}"),
    }

    // RFC 6455 §5.5: control frame payloads are at most 125 bytes.
    if data.len() > 125 {
        return;
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut wire = vec![0x88, 0x80 | data.len() as u8];
    wire.extend_from_slice(&mask);
    wire.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let mut conn = Connection::new(Role::Server, Config::default());
    match (conn.receive_data(&wire), parsed) {
        (Ok(()), Ok(frame)) => {
            assert_eq!(conn.poll_event(), Some(Message::Close(frame)));
        }
        (Err(error), Err(parse_error)) => {
            assert_eq!(error.close_code(), parse_error.close_code());
        }
        (result, parsed) => panic!("connection {result:?}, parse {parsed:?}"),
    }
});
