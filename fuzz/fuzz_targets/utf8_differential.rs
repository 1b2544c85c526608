//! The connection's incremental UTF-8 validation against
//! `std::str::from_utf8` on the whole message. The validator is internal,
//! so it is driven through a server `Connection` receiving one text message
//! split into fragments and socket reads the data chooses.
//!
//! Same verdict as `from_utf8`; a valid message arrives intact; an invalid
//! one fails with close code 1007 exactly when the bytes received so far
//! first stop being a prefix of valid UTF-8 (fail-fast), or at the end of
//! the message for a code point cut short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::{Config, Connection, Message, Role};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Whether `bytes` already proves the message invalid, whatever follows.
fn detectably_invalid(bytes: &[u8]) -> bool {
    matches!(std::str::from_utf8(bytes), Err(e) if e.error_len().is_some())
}

fuzz_target!(|data: &[u8]| {
    let [frag_seed, chunk_seed, payload @ ..] = data else {
        return;
    };
    // Fragment and read sizes from a small generator seeded by the data.
    let mut state = u32::from(*frag_seed) << 8 | u32::from(*chunk_seed) | 1;
    let mut next = |modulo: u8| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % u32::from(modulo)) as usize
    };
    // The wire, and for each wire position how many payload bytes precede it.
    let mut wire = Vec::new();
    let mut payload_before = Vec::new();
    let mut rest = payload;
    let mut done = 0;
    let mut first = true;
    loop {
        let len = if *frag_seed & 0x80 != 0 {
            rest.len()
        } else {
            next(16).min(rest.len())
        };
        let fin = len == rest.len();
        let opcode = if first { 0x1 } else { 0x0 };
        first = false;
        let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
        if len < 126 {
            header.push(0x80 | len as u8);
        } else if len <= 0xffff {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            header.push(0x80 | 127);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
        header.extend_from_slice(&MASK);
        for &b in &header {
            wire.push(b);
            payload_before.push(done);
        }
        for (i, &b) in rest[..len].iter().enumerate() {
            wire.push(b ^ MASK[i % 4]);
            payload_before.push(done);
            done += 1;
        }
        rest = &rest[len..];
        if fin {
            break;
        }
    }
    payload_before.push(done);

    let mut conn = Connection::new(Role::Server, Config::default());
    let valid = std::str::from_utf8(payload).is_ok();
    let mut fed = 0;
    let mut message = None;
    while fed < wire.len() {
        let end = (fed + 1 + next(40)).min(wire.len());
        let result = conn.receive_data(&wire[fed..end]);
        let seen_before = &payload[..payload_before[fed]];
        let seen = &payload[..payload_before[end]];
        fed = end;
        match result {
            Ok(()) => {
                assert!(!detectably_invalid(seen), "not failed fast");
                while let Some(event) = conn.poll_event() {
                    match event {
                        Message::Text(text) => message = Some(text),
                        other => panic!("{other:?}"),
                    }
                }
            }
            Err(error) => {
                assert!(!valid, "valid UTF-8 refused: {error:?}");
                assert_eq!(error.close_code(), 1007);
                assert!(!detectably_invalid(seen_before), "failed late");
                assert!(
                    detectably_invalid(seen) || fed == wire.len(),
                    "failed before the bytes were wrong"
                );
                return;
            }
        }
    }
    assert!(valid, "invalid UTF-8 accepted");
    assert_eq!(message.expect("no message").as_bytes(), payload);
});
