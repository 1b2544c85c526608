//! The frame codec against RFC 6455 §5.7 and by property: decode(bytes) ==
//! header and encode(header) == bytes, and any split of a stream of frames
//! yields the same headers and payloads.

use proptest::prelude::*;
use wsproto::__private::apply_mask_bytewise;
use wsproto::Parsed;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask, apply_mask_at};

const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn header(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader {
        fin,
        mask,
        ..FrameHeader::new(opcode, payload_len)
    }
}

/// Asserts both directions: the wire bytes decode to `expected` with
/// `payload` after unmasking, and `expected` (plus the payload masked with its
/// key) encodes to the wire bytes.
fn assert_both_ways(wire: &[u8], expected: FrameHeader, payload: &[u8]) {
    let Parsed::Complete((decoded, used)) = FrameHeader::decode(wire).unwrap() else {
        panic!("complete frame decoded as partial");
    };
    assert_eq!(decoded, expected);
    let mut body = wire[used..].to_vec();
    assert_eq!(body.len() as u64, decoded.payload_len);
    if let Some(key) = decoded.mask {
        apply_mask(&mut body, key);
    }
    assert_eq!(body, payload);

    let mut out = [0; MAX_HEADER_LEN];
    let n = expected.encode(&mut out);
    let mut encoded = out[..n].to_vec();
    let mut masked = payload.to_vec();
    if let Some(key) = expected.mask {
        apply_mask(&mut masked, key);
    }
    encoded.extend_from_slice(&masked);
    assert_eq!(encoded, wire);
}

mod rfc6455_5_7 {
    use super::*;

    #[test]
    fn single_frame_unmasked_text() {
        // "0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f (contains "Hello")"
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_both_ways(&wire, header(true, OpCode::Text, None, 5), b"Hello");
    }

    #[test]
    fn single_frame_masked_text() {
        // "0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58"
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_both_ways(
            &wire,
            header(true, OpCode::Text, Some(RFC_KEY), 5),
            b"Hello",
        );
    }

    #[test]
    fn fragmented_unmasked_text() {
        // "0x01 0x03 0x48 0x65 0x6c (contains "Hel")"
        // "0x80 0x02 0x6c 0x6f (contains "lo")"
        assert_both_ways(
            &[0x01, 0x03, 0x48, 0x65, 0x6c],
            header(false, OpCode::Text, None, 3),
            b"Hel",
        );
        assert_both_ways(
            &[0x80, 0x02, 0x6c, 0x6f],
            header(true, OpCode::Continuation, None, 2),
            b"lo",
        );
    }

    #[test]
    fn unmasked_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_both_ways(&ping, header(true, OpCode::Ping, None, 5), b"Hello");
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_both_ways(
            &pong,
            header(true, OpCode::Pong, Some(RFC_KEY), 5),
            b"Hello",
        );
    }

    #[test]
    fn binary_256_bytes_in_one_unmasked_frame() {
        // "0x82 0x7E 0x0100 [256 bytes of binary data]"
        let payload: Vec<u8> = (0..=255).collect();
        let mut wire = vec![0x82, 0x7E, 0x01, 0x00];
        wire.extend_from_slice(&payload);
        assert_both_ways(&wire, header(true, OpCode::Binary, None, 256), &payload);
    }

    #[test]
    fn binary_64_kib_in_one_unmasked_frame() {
        // "0x82 0x7F 0x0000000000010000 [65536 bytes of binary data]"
        let payload: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
        let mut wire = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        wire.extend_from_slice(&payload);
        assert_both_ways(&wire, header(true, OpCode::Binary, None, 65536), &payload);
    }

    #[test]
    fn masked_variants_of_the_long_forms() {
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut masked = payload.clone();
        apply_mask(&mut masked, RFC_KEY);
        let mut wire = vec![0x82, 0xFE, 0x01, 0x2C, 0x37, 0xfa, 0x21, 0x3d];
        wire.extend_from_slice(&masked);
        assert_both_ways(
            &wire,
            header(true, OpCode::Binary, Some(RFC_KEY), 300),
            &payload,
        );
    }
}

mod rejections {
    use super::*;
    use wsproto::ProtocolError;

    #[test]
    fn each_maps_to_close_code_1002() {
        let cases: [(&[u8], ProtocolError); 5] = [
            (&[0x83, 0x00], ProtocolError::ReservedOpcode(0x3)),
            (&[0x8F, 0x00], ProtocolError::ReservedOpcode(0xF)),
            (&[0x08, 0x00], ProtocolError::FragmentedControlFrame),
            (
                &[0x8A, 0x7E, 0x00, 0x7E],
                ProtocolError::ControlFrameTooLong,
            ),
            (
                &[0x82, 0x7F, 0xFF, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::LengthMsbSet,
            ),
        ];
        for (wire, error) in cases {
            assert_eq!(FrameHeader::decode(wire), Err(error.clone()), "{wire:02x?}");
            assert_eq!(error.close_code(), 1002);
        }
    }

    #[test]
    fn control_frame_of_exactly_125_bytes_is_fine() {
        let decoded = FrameHeader::decode(&[0x89, 0x7D])
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(decoded.0.payload_len, 125);
    }
}

/// Decodes a stream of frames fed in pieces, as a receiver would: keep what
/// has not been used, decode a header when one is complete, unmask payload
/// bytes piece by piece as they arrive.
fn decode_stream(pieces: &[&[u8]]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut pending = Vec::new();
    let mut frames = Vec::new();
    let mut current: Option<(FrameHeader, Vec<u8>, usize)> = None;
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            if let Some((header, payload, offset)) = &mut current {
                let want = header.payload_len as usize - payload.len();
                let take = want.min(pending.len());
                let mut chunk: Vec<u8> = pending.drain(..take).collect();
                if let Some(key) = header.mask {
                    *offset = apply_mask_at(&mut chunk, key, *offset);
                }
                payload.extend_from_slice(&chunk);
                if payload.len() as u64 == header.payload_len {
                    let (header, payload, _) = current.take().unwrap();
                    frames.push((header, payload));
                    continue;
                }
                break;
            }
            match FrameHeader::decode(&pending).unwrap() {
                Parsed::Partial => break,
                Parsed::Complete((header, used)) => {
                    pending.drain(..used);
                    current = Some((header, Vec::new(), 0));
                }
            }
        }
    }
    assert!(
        current.is_none() && pending.is_empty(),
        "stream ended inside a frame"
    );
    frames
}

fn encode_frame(header: &FrameHeader, payload: &[u8]) -> Vec<u8> {
    let mut out = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    let mut wire = out[..n].to_vec();
    let mut body = payload.to_vec();
    if let Some(key) = header.mask {
        apply_mask_bytewise(&mut body, key, 0);
    }
    wire.extend_from_slice(&body);
    wire
}

fn any_opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

/// Any legal header, its length drawn from every length form's range.
fn any_header() -> impl Strategy<Value = FrameHeader> {
    let len = prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..=(i64::MAX as u64)];
    (
        any::<[bool; 4]>(),
        any_opcode(),
        any::<Option<[u8; 4]>>(),
        len,
    )
        .prop_map(|([fin, rsv1, rsv2, rsv3], opcode, mask, payload_len)| {
            let control = opcode.is_control();
            FrameHeader {
                fin: fin || control,
                rsv1,
                rsv2,
                rsv3,
                opcode,
                mask,
                payload_len: if control {
                    payload_len % 126
                } else {
                    payload_len
                },
            }
        })
}

/// A legal frame with a payload small enough to hold in memory.
fn any_frame() -> impl Strategy<Value = (FrameHeader, Vec<u8>)> {
    (any_header(), prop_oneof![0usize..=125, 126usize..=70_000]).prop_flat_map(|(header, len)| {
        let len = if header.opcode.is_control() {
            len % 126
        } else {
            len
        };
        proptest::collection::vec(any::<u8>(), len).prop_map(move |payload| {
            (
                FrameHeader {
                    payload_len: payload.len() as u64,
                    ..header
                },
                payload,
            )
        })
    })
}

proptest! {
    #[test]
    fn every_header_shape_round_trips(header in any_header()) {
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        prop_assert_eq!(n, header.encoded_len());
        prop_assert_eq!(FrameHeader::decode(&out[..n]), Ok(Parsed::Complete((header, n))));
        // Every strict prefix is Partial and consumes nothing.
        for cut in 0..n {
            prop_assert_eq!(FrameHeader::decode(&out[..cut]), Ok(Parsed::Partial));
        }
    }

    #[test]
    fn a_stream_split_anywhere_decodes_the_same(
        frames in proptest::collection::vec(any_frame(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(|(h, p)| encode_frame(h, p)).collect();
        let whole = decode_stream(&[&wire]);
        prop_assert_eq!(&whole, &frames);

        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points {
            pieces.push(&wire[start..point]);
            start = point;
        }
        pieces.push(&wire[start..]);
        prop_assert_eq!(&decode_stream(&pieces), &frames);
    }
}

#[test]
fn rfc_stream_one_byte_at_a_time() {
    let mut wire = Vec::new();
    wire.extend_from_slice(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
    wire.extend_from_slice(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    wire.extend_from_slice(&[0x80, 0x02, 0x6c, 0x6f]);
    wire.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    let mut binary = vec![0x82, 0x7E, 0x01, 0x00];
    binary.extend((0..=255u8).collect::<Vec<_>>());
    wire.extend_from_slice(&binary);

    let whole = decode_stream(&[&wire]);
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(decode_stream(&bytes), whole);
    let summary: Vec<(OpCode, bool, Vec<u8>)> = whole
        .iter()
        .map(|(h, p)| (h.opcode, h.fin, p.clone()))
        .collect();
    assert_eq!(
        summary[..4],
        [
            (OpCode::Text, false, b"Hel".to_vec()),
            (OpCode::Ping, true, b"Hello".to_vec()),
            (OpCode::Continuation, true, b"lo".to_vec()),
            (OpCode::Text, true, b"Hello".to_vec()),
        ]
    );
    assert_eq!(whole[4].1, (0..=255u8).collect::<Vec<_>>());
}
