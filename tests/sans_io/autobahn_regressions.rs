//! Autobahn TestSuite cases that once failed or were NON-STRICT, reproduced
//! without the suite: the same bytes fed to a connection driven by an echo
//! loop, fed whole (one read, where the bug showed) and one byte at a time.
//! Each test names the cases it stands for.

use crate::support;

use support::sans_io::*;
use wsproto::frame::OpCode;
use wsproto::{Config, Message, ProtocolError, Role, State};

/// What an echo testee sends back for `input`, read in pieces of `chunk`
/// bytes: the frames on the wire, the first error, and the final state.
fn echo(role: Role, input: &[u8], chunk: usize) -> (Vec<Wire>, Option<ProtocolError>, State) {
    let mut c = conn(role, Config::default());
    let mut out = Vec::new();
    let mut error = None;
    for piece in input.chunks(chunk.max(1)) {
        if let Err(e) = c.receive_data(piece) {
            error.get_or_insert(e);
        }
        while let Some(event) = c.poll_event() {
            match event {
                Message::Text(text) => c.send_text(text).expect("echo refused"),
                Message::Binary(data) => c.send_binary(data).expect("echo refused"),
                _ => {}
            }
        }
        out.extend(drain_output(&mut c).0);
    }
    (frames(&out), error, c.state())
}

/// Runs `echo` whole and byte by byte; both must agree.
fn echo_both(role: Role, input: &[u8]) -> (Vec<Wire>, Option<ProtocolError>, State) {
    let whole = echo(role, input, usize::MAX);
    assert_eq!(whole, echo(role, input, 1), "whole vs one byte at a time");
    whole
}

/// A frame from the peer of `role`: masked towards a server.
fn peer(role: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => cf(fin, opcode, payload),
        Role::Client => sf(fin, opcode, payload),
    }
}

fn opcodes(wire: &[Wire]) -> Vec<OpCode> {
    wire.iter().map(|w| w.opcode).collect()
}

/// 4.1.4, 4.1.5, 4.2.3, 4.2.4, 4.2.5 (reserved opcodes) and 3.3, 3.4 (RSV
/// bits), both roles: a message, then a violation and a Ping, all in one
/// read. The echo of the message must go out before the Close 1002, and no
/// Pong. The Close used to be queued while the message still waited in the
/// event queue, so the echo was refused (NON-STRICT).
#[test]
fn message_before_a_violation_in_the_same_read_is_answered() {
    for role in [Role::Server, Role::Client] {
        for bad_first_byte in [0x86, 0x8b, 0x07, 0x0f, 0xc1, 0xa1, 0x91] {
            let mut input = peer(role, true, 1, b"Hello, world!");
            let mut bad = peer(role, true, 1, b"Hello, world!");
            bad[0] = bad_first_byte;
            input.extend(bad);
            input.extend(peer(role, true, 9, b""));
            let (wire, error, state) = echo_both(role, &input);
            assert_eq!(
                opcodes(&wire),
                [OpCode::Text, OpCode::Close],
                "{bad_first_byte:#x}"
            );
            assert_eq!(wire[0].payload, b"Hello, world!");
            assert_eq!(close_code(&wire[1]), 1002);
            assert!(error.is_some());
            assert_eq!(state, State::Closed);
        }
    }
}

/// 5.15: a two-fragment text message, then a continuation with nothing to
/// continue, then another message, all in one read. The first message is
/// echoed, then the connection fails with 1002; the last is never seen.
#[test]
fn fragmented_message_before_orphan_continuation_is_answered() {
    for role in [Role::Server, Role::Client] {
        let mut input = peer(role, false, 1, b"fragment1");
        input.extend(peer(role, true, 0, b"fragment2"));
        input.extend(peer(role, false, 0, b"fragment3"));
        input.extend(peer(role, true, 0, b"fragment4"));
        input.extend(peer(role, true, 1, b"never"));
        let (wire, error, _) = echo_both(role, &input);
        assert_eq!(opcodes(&wire), [OpCode::Text, OpCode::Close]);
        assert_eq!(wire[0].payload, b"fragment1fragment2");
        assert_eq!(close_code(&wire[1]), 1002);
        assert_eq!(error, Some(ProtocolError::OrphanContinuation));
    }
}

/// The same rule for the peer's Close (RFC 6455 §5.5.1: "An endpoint MAY
/// delay sending a Close frame until its current message is sent"): a
/// message and a Close in one read get the echo, then the Close echo.
#[test]
fn message_before_the_peers_close_in_the_same_read_is_answered() {
    for role in [Role::Server, Role::Client] {
        let mut input = peer(role, true, 1, b"Hello World!");
        input.extend(peer(role, true, 8, &1000u16.to_be_bytes()));
        let (wire, error, state) = echo_both(role, &input);
        assert_eq!(opcodes(&wire), [OpCode::Text, OpCode::Close]);
        assert_eq!(close_code(&wire[1]), 1000);
        assert_eq!((error, state), (None, State::Closed));
    }
}

/// The reaction waits only for `poll_event`; a driver that goes straight to
/// `poll_transmit` gets the Close at once, and input stops either way.
#[test]
fn poll_transmit_does_not_release_the_close_before_the_events() {
    let mut s = conn(Role::Server, Config::default());
    let mut input = cf(true, 1, b"first");
    input.extend(cf(true, 3, b""));
    let error = s.receive_data(&input).unwrap_err();
    assert_eq!(s.state(), State::Open, "reaction held back");
    assert_eq!(s.receive_data(&cf(true, 1, b"later")), Err(error.clone()));
    // A driver that writes between events (a blocking read loop) finds
    // nothing to write yet: the Close waits for the message to be read.
    let (out, shutdown) = drain_output(&mut s);
    assert!(out.is_empty() && !shutdown);
    assert!(matches!(s.poll_event(), Some(Message::Text(t)) if t == "first"));
    s.send_text("answer").unwrap();
    let (out, _) = drain_output(&mut s);
    assert_eq!(opcodes(&frames(&out)), [OpCode::Text]);
    assert_eq!(s.poll_event(), None);
    let (out, shutdown) = drain_output(&mut s);
    assert_eq!(opcodes(&frames(&out)), [OpCode::Close]);
    assert!(shutdown && s.state() == State::Closed);
    assert_eq!(s.error(), Some(&error));
}
