//! The shortcut for a whole message in one input (`receive_whole`) against
//! the general path: the same input fed whole, one byte at a time and cut
//! anywhere gives the same events, error, Close and state.

use super::*;
use crate::{Config, Role, Transmit};
use bytes::{BufMut, Bytes};

/// Everything a driver can see after feeding `pieces`.
#[derive(Debug, PartialEq)]
struct Seen {
    events: Vec<Message>,
    error: Option<ProtocolError>,
    outcome: Option<CloseFrame>,
    state: State,
    sent: Vec<u8>,
    incomplete: usize,
}

fn feed<'a>(role: Role, config: &Config, pieces: impl IntoIterator<Item = &'a [u8]>) -> Seen {
    let mut conn = Connection::new(role, config.clone());
    conn.set_mask_source(|| [1, 2, 3, 4]);
    feed_into(conn, pieces)
}

fn feed_into<'a>(conn: Connection, pieces: impl IntoIterator<Item = &'a [u8]>) -> Seen {
    feed_by(conn, pieces, false)
}

/// Feeds `pieces` read into the connection's buffer
/// (`receive_buf_mut`, `receive_commit`), as the async adapters do.
fn feed_read<'a>(role: Role, config: &Config, pieces: impl IntoIterator<Item = &'a [u8]>) -> Seen {
    let mut conn = Connection::new(role, config.clone());
    conn.set_mask_source(|| [1, 2, 3, 4]);
    feed_by(conn, pieces, true)
}

fn feed_by<'a>(
    mut conn: Connection,
    pieces: impl IntoIterator<Item = &'a [u8]>,
    read: bool,
) -> Seen {
    let mut events = Vec::new();
    for piece in pieces {
        let result = if read {
            conn.receive_buf_mut(piece.len()).put_slice(piece);
            conn.receive_commit(piece.len())
        } else {
            conn.receive_data(piece)
        };
        assert_eq!(result.as_ref().err(), conn.error());
        while let Some(event) = conn.poll_event() {
            events.push(event);
        }
    }
    let mut sent = Vec::new();
    while let Some(Transmit::Data(bytes)) = conn.poll_transmit() {
        sent.extend_from_slice(&bytes);
    }
    Seen {
        events,
        error: conn.error().cloned(),
        outcome: conn.close_frame().cloned(),
        state: conn.state(),
        sent,
        incomplete: conn.incomplete_input(),
    }
}

/// Feeds `input` whole, one byte at a time, and cut in two everywhere (or
/// at a sample of places when it is long); all must agree. Returns what
/// the whole input gave.
fn agree(role: Role, config: &Config, input: &[u8]) -> Seen {
    let whole = feed(role, config, [input]);
    let bytewise = feed(role, config, input.chunks(1));
    assert_eq!(whole, bytewise, "whole vs byte at a time: {input:x?}");
    assert_eq!(whole, feed_read(role, config, [input]), "read whole");
    assert_eq!(
        whole,
        feed_read(role, config, input.chunks(1)),
        "read byte at a time"
    );
    let step = (input.len() / 64).max(1);
    for cut in (1..input.len()).step_by(step) {
        let (a, b) = input.split_at(cut);
        assert_eq!(whole, feed(role, config, [a, b]), "cut at {cut}");
    }
    whole
}

/// A frame as the wire carries it: `b0` (FIN, RSV, opcode), the length in
/// its minimal form unless `wide`, then the key and the masked payload.
fn frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>, wide: bool) -> Vec<u8> {
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let mut out = vec![b0];
    let len = payload.len();
    if wide {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    } else if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        out.splice(start..start, key);
        crate::frame::apply_mask(&mut out[start + 4..], key);
    }
    out
}

const KEY: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, KEY, false)
}

#[test]
fn whole_messages_as_in_pieces() {
    let config = Config::default();
    let server = |input: &[u8]| agree(Role::Server, &config, input);
    let long_text = "é€𝄞 mixed text ".repeat(40);
    for payload in [
        &b""[..],
        b"Hello",
        "h\u{e9}llo \u{1F600}".as_bytes(),
        long_text.as_bytes(),
    ] {
        let seen = server(&client(0x81, payload));
        assert_eq!(
            seen.events,
            [Message::Text(
                Utf8Bytes::try_from(Bytes::copy_from_slice(payload)).unwrap()
            )]
        );
        let seen = server(&client(0x82, payload));
        assert_eq!(
            seen.events,
            [Message::Binary(Bytes::copy_from_slice(payload))]
        );
    }
    // Non-minimal lengths are legal (RFC 6455 §5.2 binds the sender).
    let seen = server(&frame(0x82, b"wide", KEY, true));
    assert_eq!(seen.events, [Message::Binary(Bytes::from_static(b"wide"))]);
    // Sizes around the in-place unmask, the AVX2 copy and the direct copy.
    for len in [
        7,
        8,
        255,
        256,
        257,
        1024,
        (64 << 10) - 1,
        64 << 10,
        (64 << 10) + 3,
    ] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 90) as u8 + b' ').collect();
        for b0 in [0x81, 0x82] {
            let input = client(b0, &payload);
            let whole = feed(Role::Server, &config, [&input[..]]);
            assert_eq!(whole, feed(Role::Server, &config, input.chunks(1)), "{len}");
            assert_eq!((whole.events.len(), &whole.error), (1, &None), "{len}");
            assert_eq!(whole.events[0].as_bytes(), &payload[..]);
        }
    }
    // A client receives unmasked frames.
    let seen = agree(Role::Client, &config, &frame(0x81, b"hi", None, false));
    assert_eq!(seen.events, [Message::Text(Utf8Bytes::from("hi"))]);
    // Several messages in one input, and one whose end is still to come.
    let mut input = client(0x81, b"one");
    input.extend(client(0x82, b"two"));
    input.extend(client(0x89, b"ping"));
    input.extend(client(0x81, b"three"));
    let mut cut = client(0x82, b"four");
    cut.truncate(cut.len() - 1);
    input.extend(&cut);
    let seen = server(&input);
    assert_eq!(seen.events.len(), 4);
    assert_eq!(seen.incomplete, cut.len() - 6);
    assert_eq!(seen.sent, [0x8a, 4, b'p', b'i', b'n', b'g']);
}

#[test]
fn violations_as_in_pieces() {
    let config = Config::default();
    let server = |input: &[u8]| agree(Role::Server, &config, input).error;
    // RFC 6455 §8.1: invalid UTF-8, including a code point the end cuts.
    for bad in [&b"\xff"[..], b"ok\xe2\x82", b"\xc0\xaf", &[b'a'; 100][..]] {
        let mut payload = bad.to_vec();
        if payload.len() == 100 {
            payload[99] = 0xe2; // past the short-ASCII check
        }
        assert_eq!(
            server(&client(0x81, &payload)),
            Some(ProtocolError::InvalidUtf8)
        );
        assert_eq!(server(&client(0x82, &payload)), None);
    }
    // Messages before the violation are still handed out.
    let mut input = client(0x81, b"fine");
    input.extend(client(0x81, b"\xff"));
    let seen = agree(Role::Server, &config, &input);
    assert_eq!(seen.events, [Message::Text(Utf8Bytes::from("fine"))]);
    assert_eq!(seen.outcome.map(|c| c.code.as_u16()), Some(1007));
    // RSV bits without an extension (RFC 6455 §5.2).
    for b0 in [0xc1, 0xa2, 0x92] {
        assert_eq!(server(&client(b0, b"x")), Some(ProtocolError::ReservedBits));
    }
    // Masking by role (RFC 6455 §5.1).
    assert_eq!(
        server(&frame(0x82, b"x", None, false)),
        Some(ProtocolError::UnmaskedFrame)
    );
    assert_eq!(
        agree(Role::Client, &config, &client(0x82, b"x")).error,
        Some(ProtocolError::MaskedFrame)
    );
    // A 64-bit length with its most significant bit set.
    let mut input = client(0x82, b"");
    input[1] = 0xff;
    input.splice(2..2, [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(server(&input), Some(ProtocolError::LengthMsbSet));
    // Continuation rules (RFC 6455 §5.4): a whole message while another
    // is in progress, and a continuation with none.
    let mut input = client(0x01, b"frag");
    input.extend(client(0x81, b"whole"));
    assert_eq!(server(&input), Some(ProtocolError::ExpectedContinuation));
    assert_eq!(
        server(&client(0x80, b"c")),
        Some(ProtocolError::OrphanContinuation)
    );
    // A fragmented message, then a whole one: both arrive.
    let mut input = client(0x01, b"fr");
    input.extend(client(0x80, b"ag"));
    input.extend(client(0x82, b"whole"));
    let seen = agree(Role::Server, &config, &input);
    assert_eq!(
        seen.events,
        [
            Message::Text(Utf8Bytes::from("frag")),
            Message::Binary(Bytes::from_static(b"whole"))
        ]
    );
}

#[test]
fn limits_as_in_pieces() {
    let payload = [b'a'; 11];
    let limited = |config: Config| agree(Role::Server, &config, &client(0x81, &payload)).error;
    assert_eq!(
        limited(Config::default().max_frame_size(10)),
        Some(ProtocolError::FrameTooBig {
            size: 11,
            limit: 10
        })
    );
    assert_eq!(
        limited(Config::default().max_message_size(10)),
        Some(ProtocolError::MessageTooBig {
            size: 11,
            limit: 10
        })
    );
    assert_eq!(
        limited(Config::default().max_fragments(0)),
        Some(ProtocolError::TooManyFragments { limit: 0 })
    );
    assert_eq!(
        limited(Config::default().max_frame_size(11).max_message_size(11)),
        None
    );
}

/// With permessage-deflate agreed, messages sent without compression
/// (under the threshold) take the shortcut, compressed ones (RSV1) the
/// general path, and the inflater's stream is the same either way.
#[cfg(feature = "deflate")]
#[test]
fn deflate_agreed_as_in_pieces() {
    use crate::deflate::DeflateParams;
    let mut sender = Connection::new(Role::Client, Config::default());
    sender.set_deflate(DeflateParams::default());
    let long = "compressible text ".repeat(100); // over the 1 KiB threshold
    for text in ["hi", &long, "", &long, "ok"] {
        sender.send_text(text).unwrap();
        sender.send_binary(text.as_bytes().to_vec()).unwrap();
    }
    let mut input = Vec::new();
    while let Some(Transmit::Data(bytes)) = sender.poll_transmit() {
        input.extend_from_slice(&bytes);
    }
    // Both kinds are there: RSV1 set on some frames, clear on others.
    let mut rsv1 = Vec::new();
    let mut at = 0;
    while let Ok(Parsed::Complete((header, used))) = FrameHeader::decode(&input[at..]) {
        rsv1.push(header.rsv1);
        at += used + header.payload_len as usize;
    }
    assert_eq!(at, input.len());
    assert!(rsv1.contains(&true) && rsv1.contains(&false), "{rsv1:?}");
    let receiver = || {
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.set_deflate(DeflateParams::default());
        conn
    };
    let whole = feed_into(receiver(), [&input[..]]);
    assert_eq!(whole, feed_into(receiver(), input.chunks(1)));
    assert_eq!(whole.error, None);
    assert_eq!(whole.events.len(), 10);
    assert_eq!(whole.events[1], Message::Binary(Bytes::from_static(b"hi")));
    assert_eq!(whole.events[2].as_text(), Some(long.as_str()));
}

proptest::proptest! {
    /// Any run of frames, valid or not, with any limits: fed whole and
    /// fed in pieces, the same outcome.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn any_frames_whole_or_in_pieces(
        frames in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    0x81u8, 0x82, 0x01, 0x02, 0x80, 0x00, 0x89, 0x8a, 0xc1, 0x83, 0x88,
                ]),
                proptest::collection::vec(
                    proptest::prop_oneof![
                        6 => b'a'..=b'z',
                        1 => proptest::prelude::any::<u8>(),
                    ],
                    0..300,
                ),
                proptest::prelude::any::<bool>(),
                proptest::prelude::any::<bool>(),
            ),
            1..5,
        ),
        max_frame in 0u64..400,
        max_message in 0u64..600,
        max_fragments in 0usize..4,
        cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..4),
    ) {
        let mut input = Vec::new();
        for (b0, payload, masked, wide) in &frames {
            let payload = if b0 & 0x08 != 0 { &payload[..payload.len().min(125)] } else { &payload[..] };
            input.extend(frame(*b0, payload, masked.then_some([9, 8, 7, 6]), *wide && b0 & 0x08 == 0));
        }
        let config = Config::default()
            .max_frame_size(max_frame)
            .max_message_size(max_message)
            .max_fragments(max_fragments);
        let whole = feed(Role::Server, &config, [&input[..]]);
        proptest::prop_assert_eq!(&whole, &feed(Role::Server, &config, input.chunks(1)));
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.push(0);
        cuts.push(input.len());
        cuts.sort_unstable();
        let pieces = cuts.windows(2).map(|w| &input[w[0]..w[1]]);
        proptest::prop_assert_eq!(&whole, &feed(Role::Server, &config, pieces.clone()));
        proptest::prop_assert_eq!(&whole, &feed_read(Role::Server, &config, pieces));
        proptest::prop_assert_eq!(&whole, &feed_read(Role::Server, &config, [&input[..]]));
        let client = feed(Role::Client, &config, [&input[..]]);
        proptest::prop_assert_eq!(&client, &feed(Role::Client, &config, input.chunks(1)));
    }
}
