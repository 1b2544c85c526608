//! Transcripts of the connection, grouped by RFC 6455 section. Every
//! transcript is fed whole and one byte at a time (`support::sans_io::run`), and the
//! events, output, error and final state must not differ.

use crate::support;

use bytes::Bytes;
use support::sans_io::*;
use support::wire::MASK_KEY;
use wsproto::frame::OpCode;
use wsproto::{
    CloseCode, CloseFrame, Config, Message, ProtocolError, Role, State, UsageError, Utf8Bytes,
};

fn text(s: &str) -> Message {
    Message::Text(Utf8Bytes::from(s))
}

fn binary(b: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(b))
}

/// The connection failed with `error`, and its only output is a Close with
/// the error's code followed by the shutdown.
fn assert_failed(out: &Outcome, error: ProtocolError) {
    assert_eq!(out.error.as_ref(), Some(&error), "{out:?}");
    let sent = frames(&out.output);
    let last = sent.last().expect("a close frame");
    assert_eq!(close_code(last), error.close_code());
    assert!(out.shutdown && out.state == State::Closed);
    assert_eq!(
        out.close.as_ref().unwrap().code.as_u16(),
        error.close_code()
    );
}

/// §5.1 and §5.3: who masks.
mod masking {
    use super::*;

    #[test]
    fn server_fails_on_unmasked_frame() {
        let out = run(Role::Server, &Config::default(), &sf(true, 1, b"hi"));
        assert_failed(&out, ProtocolError::UnmaskedFrame);
        // The server's Close is not masked.
        assert!(!frames(&out.output)[0].masked);
    }

    #[test]
    fn client_fails_on_masked_frame() {
        let out = run(Role::Client, &Config::default(), &cf(true, 1, b"hi"));
        assert_failed(&out, ProtocolError::MaskedFrame);
        // The client's Close is masked with the injected key.
        let sent = &out.output;
        assert_eq!(sent[1] & 0x80, 0x80);
        assert_eq!(&sent[2..6], MASK_KEY);
    }

    #[test]
    #[cfg(feature = "std")]
    fn client_uses_a_fresh_key_per_frame() {
        let mut c = wsproto::Connection::new(Role::Client, Config::default());
        for _ in 0..8 {
            c.send_binary(Bytes::from_static(b"x")).unwrap();
        }
        let (out, _) = drain_output(&mut c);
        let keys: std::collections::HashSet<&[u8]> = out.chunks(7).map(|f| &f[2..6]).collect();
        assert!(keys.len() > 1, "default keys come from rand");
    }
}

/// §5.2: base framing.
mod framing {
    use super::*;

    #[test]
    fn rsv_bits_without_extension() {
        for rsv in [0x40, 0x20, 0x10] {
            let mut input = cf(true, 1, b"x");
            input[0] |= rsv;
            let out = run(Role::Server, &Config::default(), &input);
            assert_failed(&out, ProtocolError::ReservedBits);
        }
    }

    #[test]
    fn reserved_opcodes() {
        for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let out = run(Role::Server, &Config::default(), &cf(true, op, b""));
            assert_failed(&out, ProtocolError::ReservedOpcode(op));
        }
    }

    #[test]
    fn messages_before_a_violation_are_delivered() {
        let mut input = cf(true, 1, b"first");
        input.extend(cf(true, 3, b""));
        input.extend(cf(true, 1, b"never"));
        let out = run(Role::Server, &Config::default(), &input);
        assert_eq!(out.events, [text("first")]);
        assert_failed(&out, ProtocolError::ReservedOpcode(3));
    }

    #[test]
    fn sticky_error_and_no_more_processing() {
        let mut s = conn(Role::Server, Config::default());
        let err = s.receive_data(&sf(true, 1, b"x")).unwrap_err();
        assert_eq!(s.receive_data(&cf(true, 1, b"ok")), Err(err.clone()));
        assert_eq!(drain_events(&mut s), []);
        assert_eq!(s.send_text("late"), Err(UsageError::Closed));
        assert_eq!(s.error(), Some(&err));
    }
}

/// §5.4: fragmentation.
mod fragmentation {
    use super::*;

    #[test]
    fn reassembles_with_control_frames_in_between() {
        let mut input = cf(false, 1, b"Hel");
        input.extend(cf(true, 9, b"ping"));
        input.extend(cf(false, 0, b""));
        input.extend(cf(true, 0xA, b"pong"));
        input.extend(cf(true, 0, b"lo"));
        let out = run(Role::Server, &Config::default(), &input);
        assert_eq!(
            out.events,
            [
                Message::Ping(Bytes::from_static(b"ping")),
                Message::Pong(Bytes::from_static(b"pong")),
                text("Hello"),
            ]
        );
        // The auto-pong went out at once, unmasked, same payload.
        assert_eq!(out.output, sf(true, 0xA, b"ping"));
        assert_eq!(out.state, State::Open);
    }

    #[test]
    fn code_point_split_across_fragments() {
        let euro = "€".as_bytes();
        let mut input = cf(false, 1, &euro[..1]);
        input.extend(cf(false, 0, &euro[1..2]));
        input.extend(cf(true, 0, &euro[2..]));
        let out = run(Role::Server, &Config::default(), &input);
        assert_eq!(out.events, [text("€")]);
    }

    #[test]
    fn orphan_continuation() {
        let out = run(Role::Server, &Config::default(), &cf(true, 0, b"x"));
        assert_failed(&out, ProtocolError::OrphanContinuation);
    }

    #[test]
    fn new_message_inside_a_fragmented_one() {
        let mut input = cf(false, 2, b"a");
        input.extend(cf(true, 1, b"b"));
        let out = run(Role::Server, &Config::default(), &input);
        assert_failed(&out, ProtocolError::ExpectedContinuation);
    }

    #[test]
    fn sender_fragments_at_the_configured_size() {
        let mut config = Config::default();
        config.fragment_size = Some(2);
        let mut s = conn(Role::Server, config);
        s.send_text("Hello").unwrap();
        let (out, _) = drain_output(&mut s);
        let mut expected = sf(false, 1, b"He");
        expected.extend(sf(false, 0, b"ll"));
        expected.extend(sf(true, 0, b"o"));
        assert_eq!(out, expected);
    }
}

/// §5.5: control frames.
mod control {
    use super::*;

    #[test]
    fn ping_is_answered_and_reported() {
        let out = run(Role::Server, &Config::default(), &cf(true, 9, &[7; 125]));
        assert_eq!(out.events, [Message::Ping(Bytes::from(vec![7; 125]))]);
        assert_eq!(out.output, sf(true, 0xA, &[7; 125]));
        // A client masks its pong.
        let out = run(Role::Client, &Config::default(), &sf(true, 9, b"Hello"));
        assert_eq!(
            out.output,
            [
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }

    #[test]
    fn oversized_and_fragmented_control_frames() {
        let out = run(Role::Server, &Config::default(), &cf(true, 9, &[0; 126]));
        assert_failed(&out, ProtocolError::ControlFrameTooLong);
        let out = run(Role::Server, &Config::default(), &cf(false, 9, b""));
        assert_failed(&out, ProtocolError::FragmentedControlFrame);
    }

    #[test]
    fn unsolicited_pong_is_reported() {
        let out = run(Role::Client, &Config::default(), &sf(true, 0xA, b"hb"));
        assert_eq!(out.events, [Message::Pong(Bytes::from_static(b"hb"))]);
        assert!(out.output.is_empty() && out.error.is_none());
    }

    #[test]
    fn control_payload_limits_are_caller_errors() {
        let mut c = conn(Role::Client, Config::default());
        assert_eq!(
            c.send_ping([0; 126]),
            Err(UsageError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            c.send_pong([0; 200]),
            Err(UsageError::ControlPayloadTooLong(200))
        );
        c.send_ping([1; 125]).unwrap();
        assert_eq!(c.state(), State::Open);
    }
}

/// §5.5.1 and §7: closing.
mod closing {
    use super::*;

    fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        p
    }

    #[test]
    fn valid_codes_are_echoed() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 3999, 4000,
            4999,
        ] {
            let out = run(
                Role::Server,
                &Config::default(),
                &cf(true, 8, &close_payload(code, b"bye")),
            );
            let frame = CloseFrame {
                code: CloseCode::new(code),
                reason: Utf8Bytes::from("bye"),
            };
            assert_eq!(out.events, [Message::Close(frame.clone())]);
            // Echo: the same code, no reason.
            assert_eq!(out.output, sf(true, 8, &code.to_be_bytes()));
            assert!(out.shutdown, "the server closes TCP first");
            assert_eq!((out.state, out.close), (State::Closed, Some(frame)));
        }
    }

    #[test]
    fn invalid_codes_are_1002() {
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let out = run(
                Role::Server,
                &Config::default(),
                &cf(true, 8, &close_payload(code, b"")),
            );
            assert_failed(&out, ProtocolError::InvalidCloseCode(code));
            assert_eq!(out.events, []);
        }
    }

    #[test]
    fn one_byte_payload_is_1002() {
        let out = run(Role::Server, &Config::default(), &cf(true, 8, &[3]));
        assert_failed(&out, ProtocolError::CloseTooShort);
    }

    #[test]
    fn non_utf8_reason_is_1007() {
        let payload = close_payload(
            1000,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        );
        let out = run(Role::Server, &Config::default(), &cf(true, 8, &payload));
        assert_failed(&out, ProtocolError::InvalidUtf8);
    }

    #[test]
    fn empty_close_reads_1005_and_is_answered_1000() {
        let out = run(Role::Client, &Config::default(), &sf(true, 8, b""));
        assert_eq!(
            out.events,
            [Message::Close(CloseFrame::new(CloseCode::NO_STATUS))]
        );
        assert_eq!(out.output, cf(true, 8, &1000u16.to_be_bytes()));
        // A client waits for the server to close TCP first.
        assert!(!out.shutdown);
        assert_eq!(out.state, State::Closed);
    }

    #[test]
    fn input_after_close_is_discarded() {
        let mut input = cf(true, 8, &close_payload(1000, b""));
        input.extend(cf(true, 9, b"late ping"));
        input.extend(cf(true, 1, b"late text"));
        input.extend([0xFF; 7]);
        let out = run(Role::Server, &Config::default(), &input);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.output, sf(true, 8, &1000u16.to_be_bytes()));
        assert!(out.error.is_none());
    }

    #[test]
    fn no_sends_after_our_close() {
        let mut c = conn(Role::Client, Config::default());
        c.close(CloseCode::GOING_AWAY, "bye").unwrap();
        assert_eq!(c.state(), State::Closing);
        assert_eq!(c.send_text("x"), Err(UsageError::Closed));
        assert_eq!(c.send_binary(&b"x"[..]), Err(UsageError::Closed));
        assert_eq!(c.send_ping(b""), Err(UsageError::Closed));
        assert_eq!(c.close(1000, ""), Err(UsageError::Closed));
        let (out, shutdown) = drain_output(&mut c);
        assert_eq!(out, cf(true, 8, &close_payload(1001, b"bye")));
        assert!(!shutdown);
        // Messages still arrive while closing, then the echo ends it.
        c.receive_data(&sf(true, 1, b"in flight")).unwrap();
        c.receive_data(&sf(true, 8, &close_payload(1001, b"")))
            .unwrap();
        assert_eq!(drain_events(&mut c)[0], text("in flight"));
        assert_eq!(c.state(), State::Closed);
        assert_eq!(c.close_frame().unwrap().code, CloseCode::GOING_AWAY);
        // The client waits for the server's end of stream, then shuts down.
        assert_eq!(drain_output(&mut c), (vec![], false));
        c.receive_eof();
        assert_eq!(drain_output(&mut c), (vec![], true));
        assert!(c.is_finished());
    }

    #[test]
    fn close_arguments_are_caller_errors() {
        let mut c = conn(Role::Server, Config::default());
        assert_eq!(c.close(1005, ""), Err(UsageError::InvalidCloseCode(1005)));
        assert_eq!(c.close(999, ""), Err(UsageError::InvalidCloseCode(999)));
        let long = "é".repeat(62);
        assert_eq!(
            c.close(1000, &long),
            Err(UsageError::CloseReasonTooLong(124))
        );
        assert_eq!(c.state(), State::Open);
        c.close(4000, &long[..122]).unwrap();
    }

    #[test]
    fn peer_vanishing_is_1006() {
        let mut s = conn(Role::Server, Config::default());
        s.receive_data(&cf(false, 1, b"half")).unwrap();
        s.receive_eof();
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.close_frame().unwrap().code, CloseCode::ABNORMAL);
        assert_eq!(drain_output(&mut s), (vec![], true));
        assert!(s.error().is_none());
    }
}

/// §8.1: UTF-8, fail-fast.
mod utf8 {
    use super::*;

    #[test]
    fn fails_inside_an_incomplete_frame() {
        // Autobahn 6.4.1: the frame declares 21 bytes, but the proof of
        // invalidity (f4 90) comes after 12; the rest never arrives.
        let payload =
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";
        let whole = cf(true, 1, payload);
        let header = 6;
        let cut = &whole[..header + 13];
        let out = run(Role::Server, &Config::default(), cut);
        assert_failed(&out, ProtocolError::InvalidUtf8);
        // One byte less and nothing is proven yet.
        let out = run(Role::Server, &Config::default(), &whole[..header + 12]);
        assert_eq!((out.error, out.state), (None, State::Open));
    }

    #[test]
    fn fails_in_a_later_fragment_before_it_completes() {
        let mut input = cf(false, 1, "κόσμε".as_bytes());
        let second = cf(true, 0, b"ok\xffmore bytes to come");
        input.extend(&second[..6 + 3]);
        let out = run(Role::Server, &Config::default(), &input);
        assert_failed(&out, ProtocolError::InvalidUtf8);
    }

    #[test]
    fn truncated_code_point_at_the_end() {
        let out = run(
            Role::Client,
            &Config::default(),
            &sf(true, 1, b"ok\xe2\x82"),
        );
        assert_failed(&out, ProtocolError::InvalidUtf8);
        assert_eq!(out.events, []);
    }

    #[test]
    fn binary_is_not_validated() {
        let out = run(Role::Client, &Config::default(), &sf(true, 2, b"\xff\xfe"));
        assert_eq!(out.events, [binary(b"\xff\xfe")]);
    }
}

/// §10.4: limits, checked from the header before payload is buffered.
mod limits {
    use super::*;

    fn small() -> Config {
        let mut config = Config::default();
        config.max_frame_size = 100;
        config.max_message_size = 150;
        config.max_fragments = 4;
        config
    }

    #[test]
    fn frame_size() {
        // Only the header is sent: the 64-bit length alone fails it.
        let mut header = vec![0x82, 0xFF];
        header.extend(16_777_217u64.to_be_bytes());
        header.extend(MASK_KEY);
        let out = run(Role::Server, &Config::default(), &header);
        assert_failed(
            &out,
            ProtocolError::FrameTooBig {
                size: 16_777_217,
                limit: 16 << 20,
            },
        );
        let out = run(Role::Server, &small(), &cf(true, 2, &[0; 101])[..8]);
        assert_failed(
            &out,
            ProtocolError::FrameTooBig {
                size: 101,
                limit: 100,
            },
        );
        let out = run(Role::Server, &small(), &cf(true, 2, &[0; 100]));
        assert_eq!(out.events, [binary(&[0; 100])]);
    }

    #[test]
    fn message_size() {
        let mut input = cf(false, 2, &[1; 100]);
        input.extend(&cf(true, 0, &[2; 51])[..8]);
        let out = run(Role::Server, &small(), &input);
        assert_failed(
            &out,
            ProtocolError::MessageTooBig {
                size: 151,
                limit: 150,
            },
        );
    }

    #[test]
    fn fragment_count() {
        let mut input = cf(false, 1, b"a");
        for _ in 0..3 {
            input.extend(cf(false, 0, b""));
        }
        input.extend(cf(true, 0, b""));
        let out = run(Role::Server, &small(), &input);
        assert_failed(&out, ProtocolError::TooManyFragments { limit: 4 });
        // Four are fine.
        let mut input = cf(false, 1, b"a");
        for _ in 0..2 {
            input.extend(cf(false, 0, b""));
        }
        input.extend(cf(true, 0, b"b"));
        let out = run(Role::Server, &small(), &input);
        assert_eq!(out.events, [text("ab")]);
    }

    #[test]
    fn write_buffer_cap_refuses_sends() {
        let mut config = Config::default();
        config.max_write_buffer = 1000;
        let mut s = conn(Role::Server, config);
        s.send_binary(vec![0; 900]).unwrap();
        s.send_binary(vec![0; 900]).unwrap(); // 904 queued: still under the cap
        assert_eq!(
            s.send_binary(vec![0; 10]),
            Err(UsageError::WriteBufferFull {
                buffered: 1808,
                cap: 1000
            })
        );
        assert_eq!(
            s.send_ping(b""),
            Err(UsageError::WriteBufferFull {
                buffered: 1808,
                cap: 1000
            })
        );
        // Writing some out makes room again.
        s.advance_transmit(1000);
        s.send_text("again").unwrap();
    }

    #[test]
    fn ping_flood_against_a_peer_that_never_reads() {
        let mut config = Config::default();
        config.max_write_buffer = 1000;
        let mut s = conn(Role::Server, config);
        s.send_binary(vec![0; 2000]).unwrap();
        for i in 0..10_000u32 {
            s.receive_data(&cf(true, 9, &i.to_be_bytes())).unwrap();
            let _ = drain_events(&mut s);
        }
        // Only the newest owed pong is kept.
        assert_eq!(s.buffered_amount(), 2004);
        let (out, _) = drain_output(&mut s);
        let sent = frames(&out);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].opcode, OpCode::Pong);
        assert_eq!(sent[1].payload, 9999u32.to_be_bytes());
    }
}

/// Reading straight into the connection's buffer, and vectored writes.
mod zero_copy_io {
    use super::*;

    #[test]
    fn receive_buffer_and_commit() {
        let mut s = conn(Role::Server, Config::default());
        let input = cf(true, 2, &[5; 300]);
        for piece in input.chunks(7) {
            let buf = s.receive_buffer(64);
            buf[..piece.len()].copy_from_slice(piece);
            s.receive_commit(piece.len()).unwrap();
        }
        assert_eq!(drain_events(&mut s), [binary(&[5; 300])]);
    }

    #[test]
    fn single_frame_payloads_are_not_copied() {
        let mut s = conn(Role::Server, Config::default());
        let buf = s.receive_buffer(64);
        let input = cf(true, 2, b"0123456789");
        buf[..input.len()].copy_from_slice(&input);
        let start = buf.as_ptr() as usize;
        s.receive_commit(input.len()).unwrap();
        let Some(Message::Binary(b)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(b.as_ptr() as usize, start + 6, "unmasked in place");
    }

    /// The uninitialised variant: the whole `len` is offered at once (the
    /// room is reserved), only the bytes written count, and the events are
    /// those of `receive_data`, for any read size.
    #[test]
    fn receive_buf_mut_and_commit() {
        use bytes::BufMut;
        let mut input = cf(false, 1, "κόσμε".as_bytes());
        input.extend(cf(true, 9, b"ping"));
        input.extend(cf(true, 0, b" ok"));
        input.extend(cf(true, 2, &[5; 300]));
        let expected = run(Role::Server, &Config::default(), &input);
        for read in [1, 7, 64, 4096] {
            let mut s = conn(Role::Server, Config::default());
            for piece in input.chunks(read) {
                let mut buf = s.receive_buf_mut(read);
                assert_eq!(buf.chunk_mut().len(), read, "room reserved");
                assert_eq!(buf.remaining_mut(), read);
                buf.put_slice(piece);
                drop(buf); // it borrows the connection
                // A commit larger than what was written takes what was.
                s.receive_commit(read).unwrap();
            }
            assert_eq!(drain_events(&mut s), expected.events, "reads of {read}");
            assert_eq!(drain_output(&mut s).0, expected.output, "reads of {read}");
        }
        // Lent and never written, or written and not committed: discarded
        // by the next call, as with `receive_buffer`.
        let mut s = conn(Role::Server, Config::default());
        s.receive_buf_mut(16).put_slice(b"garbage");
        s.receive_buf_mut(16).put_slice(&input[..10]);
        s.receive_commit(10).unwrap();
        s.receive_data(&input[10..]).unwrap();
        assert_eq!(drain_events(&mut s), expected.events);
    }

    #[test]
    fn receive_buf_mut_payloads_are_not_copied() {
        use bytes::BufMut;
        let mut s = conn(Role::Server, Config::default());
        let input = cf(true, 1, b"0123456789");
        let mut buf = s.receive_buf_mut(64);
        let start = buf.chunk_mut().as_mut_ptr() as usize;
        buf.put_slice(&input);
        drop(buf);
        s.receive_commit(input.len()).unwrap();
        let Some(Message::Text(t)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(t, "0123456789");
        assert_eq!(t.as_ptr() as usize, start + 6, "unmasked in place");
    }

    #[test]
    #[should_panic]
    fn receive_buf_mut_refuses_more_than_it_lent() {
        use bytes::BufMut;
        let mut s = conn(Role::Server, Config::default());
        s.receive_buf_mut(4).put_slice(b"12345");
    }

    #[test]
    fn vectored_writes_with_partial_progress() {
        let mut s = conn(Role::Server, Config::default());
        let big = Bytes::from(vec![3u8; 5000]);
        s.send_binary(big.clone()).unwrap();
        s.send_text("tail").unwrap();
        let mut written = Vec::new();
        loop {
            let mut slots: [&[u8]; 4] = [&[]; 4];
            let n = s.transmit_chunks(&mut slots);
            // The `std` form lends the same bytes as `IoSlice`s.
            #[cfg(feature = "std")]
            {
                let mut io = [std::io::IoSlice::new(&[]); 4];
                assert_eq!(s.transmit_slices(&mut io), n);
                assert!(io[..n].iter().zip(&slots[..n]).all(|(a, b)| **a == **b));
            }
            if n == 0 {
                break;
            }
            // A writer that takes at most 777 bytes per call.
            let mut budget = 777;
            let mut took = 0;
            for slot in &slots[..n] {
                let k = slot.len().min(budget);
                written.extend_from_slice(&slot[..k]);
                budget -= k;
                took += k;
            }
            s.advance_transmit(took);
        }
        let mut expected = sf(true, 2, &big);
        expected.extend(sf(true, 1, b"tail"));
        assert_eq!(written, expected);
        assert_eq!(s.poll_transmit(), None);
    }
}

mod deadlines_at_the_limits {
    use super::*;
    use std::time::Duration;

    /// `Duration::MAX` is a natural way to say "never": it must not
    /// overflow `Instant` arithmetic.
    #[test]
    fn duration_max_timeouts_never_fire_and_never_panic() {
        let mut config = Config::default();
        config.close_timeout = Duration::MAX;
        config.ping_interval = Some(Duration::MAX);
        config.pong_timeout = Duration::MAX;
        let mut client = conn(Role::Client, config);
        let start = now();
        client.handle_timeout(start);
        assert_eq!(client.poll_timeout(), None);
        client.close(1000u16, "").unwrap();
        client.handle_timeout(start + Duration::from_secs(1));
        client.handle_timeout(start + Duration::from_secs(1 << 40));
        assert_eq!(client.poll_timeout(), None);
        assert_eq!(client.state(), wsproto::State::Closing);
    }

    /// `needs_clock` is false exactly when `handle_timeout` has nothing to
    /// do (the adapters then skip reading the clock): a connection that
    /// says so is told a far-away time and nothing happens.
    #[test]
    fn the_clock_is_needed_only_while_a_deadline_runs() {
        let hour = Duration::from_secs(3600);
        let start = now();
        let mut server = conn(Role::Server, Config::default());
        assert!(!server.needs_clock());
        assert_eq!(server.handle_timeout(start + hour), None);
        assert_eq!(server.poll_transmit(), None);
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(server.state(), wsproto::State::Open);
        // Our Close: the clock starts the close timeout, then times it.
        server.close(1000u16, "").unwrap();
        assert!(server.needs_clock());
        server.handle_timeout(start + 2 * hour);
        assert!(server.needs_clock());
        assert_eq!(
            server.handle_timeout(start + 3 * hour),
            Some(wsproto::Timeout::Close)
        );
        assert!(!server.needs_clock());
        // Keepalive: needed while open, and a silent hour does send a Ping.
        let mut config = Config::default();
        config.ping_interval = Some(Duration::from_secs(10));
        let mut keepalive = conn(Role::Server, config);
        assert!(keepalive.needs_clock());
        keepalive.handle_timeout(start);
        keepalive.handle_timeout(start + hour);
        assert!(keepalive.poll_transmit().is_some());
    }
}

/// Large payloads (64 KiB and more) are copied straight from the input and
/// unmasked on the way, small ones go through the receive buffer: every
/// chunking, across every boundary between the two, must give the same
/// events.
mod large_payloads {
    use super::*;

    /// Bytes that are valid UTF-8 only as a whole (two-, three- and
    /// four-byte code points), so every cut lands inside some code point.
    fn utf8_text(len: usize) -> String {
        "aé€😀"
            .chars()
            .cycle()
            .scan(0, |used, c| {
                *used += c.len_utf8();
                (*used <= len).then_some(c)
            })
            .collect()
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// A transcript that mixes small and large frames, a fragmented large
    /// message with a Ping inside, and a Close; with the events it must
    /// produce.
    fn transcript(frame: fn(bool, u8, &[u8]) -> Vec<u8>) -> (Vec<u8>, Vec<Message>) {
        let big = pattern(100_000, 1);
        let exact = pattern(64 << 10, 2);
        let long_text = utf8_text(70_001);
        let (first, second) = (pattern(65_537, 3), pattern(80_000, 4));
        let mut input = Vec::new();
        input.extend(frame(true, 1, b"a"));
        input.extend(frame(true, 2, &big));
        input.extend(frame(true, 2, &exact));
        input.extend(frame(true, 1, long_text.as_bytes()));
        input.extend(frame(false, 2, &first));
        input.extend(frame(true, 9, b"ping"));
        input.extend(frame(true, 0, &second));
        input.extend(frame(true, 1, b"z"));
        input.extend(frame(true, 8, &[0x03, 0xe8]));
        let events = vec![
            text("a"),
            binary(&big),
            binary(&exact),
            text(&long_text),
            Message::Ping(Bytes::from_static(b"ping")),
            binary(&[first, second].concat()),
            text("z"),
            Message::Close(CloseFrame::new(CloseCode::NORMAL)),
        ];
        (input, events)
    }

    #[test]
    fn any_chunking_gives_the_same_events_in_both_roles() {
        for (role, frame) in [(Role::Server, cf as fn(_, _, &_) -> _), (Role::Client, sf)] {
            let (input, expected) = transcript(frame);
            // `run` feeds it whole and one byte at a time.
            let out = run(role, &Config::default(), &input);
            assert_eq!(out.events, expected, "{role:?}");
            assert_eq!(out.error, None);
            // Pieces that cut headers, payloads and the 64 KiB boundary.
            for chunk in [2, 13, 14, 15, 999, 65_535, 65_536, 65_550, 131_072] {
                let out = run_chunked(role, &Config::default(), &input, chunk);
                assert_eq!(out.events, expected, "{role:?}, chunks of {chunk}");
            }
        }
    }

    #[test]
    fn invalid_utf8_fails_before_the_rest_of_a_large_frame() {
        // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as
        // UTF-8 but finds that the byte stream is not, in fact, a valid
        // UTF-8 stream, that endpoint MUST _Fail the WebSocket
        // Connection_." Checked as the bytes arrive.
        let mut payload = utf8_text(200_000).into_bytes();
        payload[150_000] = 0xff;
        let input = cf(true, 1, &payload);
        let header = input.len() - payload.len();
        let mut c = conn(Role::Server, Config::default());
        let mut fed = 0;
        for piece in input.chunks(4096) {
            fed += piece.len();
            if c.receive_data(piece).is_err() {
                break;
            }
        }
        assert_eq!(c.error(), Some(&ProtocolError::InvalidUtf8));
        assert!(
            header + 150_000 < fed && fed <= header + 150_000 + 4096,
            "{fed}"
        );
        assert_eq!(drain_events(&mut c), []);
    }
}

/// `release_buffers` between every byte of input and between sends changes
/// nothing that comes out: a partial frame, unsent bytes and a fragmented
/// message survive it.
mod release_buffers {
    use super::*;

    #[test]
    fn releasing_between_every_byte_and_every_send_changes_nothing() {
        // A fragmented text message, a Ping, a binary message, all masked.
        let mut client = conn(Role::Client, Config::default().fragment_size(Some(3)));
        client.send_text("hello, world").unwrap();
        client.send_ping(b"p").unwrap();
        client.send_binary(&[1u8, 2, 3][..]).unwrap();
        let mut wire = Vec::new();
        while let Some(wsproto::Transmit::Data(chunk)) = client.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
        let mut server = conn(Role::Server, Config::default());
        let mut events = Vec::new();
        for byte in &wire {
            server.release_buffers();
            server.receive_data(std::slice::from_ref(byte)).unwrap();
            while let Some(event) = server.poll_event() {
                events.push(event);
            }
        }
        assert_eq!(
            events,
            [
                text("hello, world"),
                Message::Ping(Bytes::from_static(b"p")),
                binary(&[1, 2, 3])
            ]
        );
        // The Pong was queued; releasing keeps it.
        server.release_buffers();
        let mut out = Vec::new();
        while let Some(wsproto::Transmit::Data(chunk)) = server.poll_transmit() {
            out.extend_from_slice(&chunk);
        }
        assert_eq!(out, [0x8a, 0x01, b'p']);
    }
}

/// A message that begins must end within `Config::message_timeout`: a peer
/// that parks half a message is closed with 1008 and its bytes freed. The
/// deadline runs from the `handle_timeout` after the message's first
/// header, and a message that ends in time stops it.
#[test]
fn a_message_not_ended_within_the_message_timeout_closes_with_1008() {
    use std::time::Duration;
    use wsproto::Timeout;
    let config = Config::default().message_timeout(Some(Duration::from_secs(5)));
    let t0 = now();
    let mut server = conn(Role::Server, config.clone());
    assert!(!server.needs_clock());
    // A whole message: no deadline is left running.
    server.receive_data(&cf(true, 0x1, b"whole")).unwrap();
    assert!(!server.needs_clock());
    assert_eq!(drain_events(&mut server), [text("whole")]);
    // Half a 100-byte binary frame, then silence.
    let frame = cf(true, 0x2, &[7u8; 100]);
    server.receive_data(&frame[..60]).unwrap();
    assert!(server.needs_clock());
    assert!(
        server.incomplete_input() >= 50,
        "{}",
        server.incomplete_input()
    );
    assert_eq!(server.handle_timeout(t0), None);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(
        server.handle_timeout(t0 + Duration::from_millis(4999)),
        None
    );
    assert_eq!(
        server.handle_timeout(t0 + Duration::from_secs(5)),
        Some(Timeout::Message)
    );
    assert_eq!(server.incomplete_input(), 0);
    let (out, shutdown) = drain_output(&mut server);
    let sent = frames(&out);
    assert_eq!(close_code(sent.last().unwrap()), 1008);
    assert!(shutdown && server.state() == State::Closed);
    // The same message completed within the time is delivered.
    let mut server = conn(Role::Server, config);
    server.receive_data(&frame[..60]).unwrap();
    assert_eq!(server.handle_timeout(t0), None);
    server.receive_data(&frame[60..]).unwrap();
    assert_eq!(server.handle_timeout(t0 + Duration::from_secs(6)), None);
    assert_eq!(drain_events(&mut server), [binary(&[7u8; 100])]);
    assert_eq!(server.incomplete_input(), 0);
}

/// What a budget counts: bytes of frames still arriving, and the
/// fragments of a message still arriving; not complete messages.
#[test]
fn incomplete_input_counts_what_is_not_a_whole_message_yet() {
    let mut server = conn(Role::Server, Config::default());
    let first = cf(false, 0x2, &[1u8; 1000]);
    let last = cf(true, 0x0, &[2u8; 500]);
    server.receive_data(&first).unwrap();
    assert_eq!(server.incomplete_input(), 1000);
    server.receive_data(&last[..100]).unwrap();
    assert!((1000..1600).contains(&server.incomplete_input()));
    server.receive_data(&last[100..]).unwrap();
    assert_eq!(server.incomplete_input(), 0);
    assert_eq!(drain_events(&mut server).len(), 1);
}
