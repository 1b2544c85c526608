//! Negotiation vectors (RFC 7692 §7.1), both roles, and the codec against
//! the §7.2.3 examples.

use super::codec::{Deflater, Inflater, Settings};
use super::{DeflateConfig, DeflateParams, ServerMode};
use crate::error::ProtocolError;
use crate::handshake::Extension;

/// Parses a `Sec-WebSocket-Extensions` value.
fn exts(header: &str) -> Vec<Extension> {
    let mut out = Vec::new();
    crate::headers::parse_extensions(header.as_bytes(), &mut out).unwrap();
    out
}

fn server(config: DeflateConfig, offer: &str) -> Option<(DeflateParams, String)> {
    config
        .negotiate(&exts(offer))
        .map(|(params, answer)| (params, answer.to_string()))
}

fn client(config: DeflateConfig, answer: &str) -> Result<Option<DeflateParams>, &'static str> {
    config.check_extensions(&exts(answer))
}

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
        ..DeflateParams::default()
    }
}

/// A compressor at memLevel 8 that compresses every message.
fn compressor(level: u32, bits: u8, no_context_takeover: bool) -> Deflater {
    Deflater::new(Settings::new(level, bits, 8), no_context_takeover)
}

/// A server that keeps context takeover unless asked (or configured)
/// otherwise: the grants below are those of the offer alone.
fn as_offered() -> DeflateConfig {
    DeflateConfig {
        server_mode: ServerMode::ContextTakeover,
        ..DeflateConfig::default()
    }
}

// ----- §7.1: the server's side -----------------------------------------------

/// The default server ([`ServerMode::Stateless`]) answers every acceptable
/// offer with both no_context_takeover parameters, whether offered or not
/// (RFC 7692 §7.1.1.1 and §7.1.1.2 let a server include them unasked), and
/// grants window requests as before.
#[test]
fn default_server_is_stateless_whatever_the_offer() {
    let d = DeflateConfig::default();
    let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    for (offer, answer, agreed) in [
        // Chromium, Safari.
        (
            "permessage-deflate; client_max_window_bits",
            both.to_owned(),
            params(true, true, 15, 15),
        ),
        // Firefox: no client_max_window_bits, so none in the answer either
        // (RFC 7692 §7.1.2.2 "MUST NOT").
        (
            "permessage-deflate",
            both.into(),
            params(true, true, 15, 15),
        ),
        // Either flag already offered: the same answer.
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
            both.into(),
            params(true, true, 15, 15),
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            both.into(),
            params(true, true, 15, 15),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            both.into(),
            params(true, true, 15, 15),
        ),
        // Window requests are granted.
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
            format!("{both}; server_max_window_bits=10"),
            params(true, true, 10, 15),
        ),
        (
            "permessage-deflate; server_max_window_bits=15",
            format!("{both}; server_max_window_bits=15"),
            params(true, true, 15, 15),
        ),
        (
            "permessage-deflate; client_max_window_bits=9",
            format!("{both}; client_max_window_bits=9"),
            params(true, true, 15, 9),
        ),
        (
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            format!("{both}; server_max_window_bits=8; client_max_window_bits=8"),
            params(true, true, 8, 8),
        ),
        // The first acceptable offer wins, in the client's order.
        (
            "permessage-deflate; server_max_window_bits=9, permessage-deflate",
            format!("{both}; server_max_window_bits=9"),
            params(true, true, 9, 15),
        ),
    ] {
        assert_eq!(
            server(d, offer),
            Some((agreed, answer.clone())),
            "offer {offer}"
        );
        // Our own client accepts each answer, and agrees to the same.
        let asks = DeflateConfig {
            server_max_window_bits: agreed.server_max_window_bits,
            server_no_context_takeover: offer.contains("server_no_context_takeover"),
            ..DeflateConfig::default()
        };
        if offer.contains("client_max_window_bits") {
            assert_eq!(client(asks, &answer), Ok(Some(agreed)), "answer {answer}");
        }
    }
}

/// The default server with smaller windows of its own: the client's is
/// limited only when the offer allows it.
#[test]
fn default_server_with_windows() {
    let d = DeflateConfig {
        server_max_window_bits: 12,
        client_max_window_bits: 12,
        ..DeflateConfig::default()
    };
    let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    assert_eq!(
        server(d, "permessage-deflate; client_max_window_bits"),
        Some((
            params(true, true, 12, 12),
            format!("{both}; server_max_window_bits=12; client_max_window_bits=12")
        ))
    );
    assert_eq!(
        server(d, "permessage-deflate"),
        Some((
            params(true, true, 12, 15),
            format!("{both}; server_max_window_bits=12")
        ))
    );
    assert_eq!(
        server(
            d,
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=14"
        ),
        Some((
            params(true, true, 10, 12),
            format!("{both}; server_max_window_bits=10; client_max_window_bits=12")
        ))
    );
}

/// Malformed offers are declined by the default server too, and the next
/// offer is tried.
#[test]
fn default_server_declines_malformed_offers() {
    let d = DeflateConfig::default();
    for bad in [
        "permessage-deflate; server_no_context_takeover=0",
        "permessage-deflate; client_no_context_takeover=\"x\"",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits",
        "permessage-deflate; window_bits=10",
    ] {
        assert_eq!(server(d, bad), None, "{bad}");
        assert_eq!(
            server(d, &format!("{bad}, permessage-deflate")).map(|p| p.0),
            Some(params(true, true, 15, 15)),
            "{bad}"
        );
    }
}

/// The local settings travel with what was agreed, in both roles.
#[test]
fn local_settings_are_carried() {
    static POOL: super::DeflatePool = super::DeflatePool::new(1);
    let d = DeflateConfig {
        compression_level: 12,
        mem_level: 0,
        threshold: 0,
        pool: Some(&POOL),
        ..DeflateConfig::default()
    };
    let (agreed, _) = d.negotiate(&exts("permessage-deflate")).unwrap();
    assert_eq!(
        (agreed.compression_level, agreed.mem_level, agreed.threshold),
        (9, 1, 0)
    );
    assert_eq!(agreed.pool, Some(&POOL));
    let answered = client(d, "permessage-deflate").unwrap().unwrap();
    // The client ignores `server_mode`: an answer without parameters
    // agrees to none.
    let expected = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        ..agreed
    };
    assert_eq!(answered, expected);
}

#[test]
fn server_accepts_plain_offer() {
    let d = as_offered();
    assert_eq!(
        server(d, "permessage-deflate"),
        Some((params(false, false, 15, 15), "permessage-deflate".into()))
    );
    assert_eq!(
        server(d, "Permessage-Deflate; client_max_window_bits"),
        Some((params(false, false, 15, 15), "permessage-deflate".into()))
    );
}

#[test]
fn server_grants_requests() {
    let d = as_offered();
    assert_eq!(
        server(
            d,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        ),
        Some((
            params(true, false, 10, 15),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10".into()
        ))
    );
    // A request for 15 is accepted by repeating it.
    assert_eq!(
        server(d, "permessage-deflate; server_max_window_bits=15").map(|p| p.1),
        Some("permessage-deflate; server_max_window_bits=15".into())
    );
    // The client's hint is echoed: we may then drop our inflater.
    assert_eq!(
        server(d, "permessage-deflate; client_no_context_takeover"),
        Some((
            params(false, true, 15, 15),
            "permessage-deflate; client_no_context_takeover".into()
        ))
    );
    // Quoted values are values (RFC 7692 §7.1.2.1 allows quoted-string).
    assert_eq!(
        server(d, "permessage-deflate; server_max_window_bits=\"9\"").map(|p| p.0),
        Some(params(false, false, 9, 15))
    );
}

#[test]
fn server_imposes_its_preferences() {
    let d = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 12,
        client_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    assert_eq!(
        server(d, "permessage-deflate; client_max_window_bits").map(|p| p.1),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=10"
                .into()
        )
    );
    // Without client_max_window_bits in the offer the answer "MUST NOT"
    // carry it (RFC 7692 §7.1.2.2): the client keeps 15.
    assert_eq!(
        server(d, "permessage-deflate").map(|p| p.0),
        Some(params(true, true, 12, 15))
    );
    // The smaller of the client's limit and ours.
    assert_eq!(
        server(d, "permessage-deflate; client_max_window_bits=9").map(|p| p.0),
        Some(params(true, true, 12, 9))
    );
    assert_eq!(
        server(d, "permessage-deflate; server_max_window_bits=13").map(|p| p.0),
        Some(params(true, true, 12, 15))
    );
}

#[test]
fn server_declines_malformed_offers_and_tries_the_next() {
    let d = as_offered();
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        "permessage-deflate; mux",
    ] {
        assert_eq!(server(d, bad), None, "{bad}");
        let fallback = format!("{bad}, permessage-deflate; server_max_window_bits=11");
        assert_eq!(
            server(d, &fallback).map(|p| p.0),
            Some(params(false, false, 11, 15)),
            "{fallback}"
        );
    }
    assert_eq!(server(d, "x-webkit-deflate-frame"), None);
}

// ----- §7.1: the client's side -----------------------------------------------

#[test]
fn client_offer() {
    assert_eq!(
        DeflateConfig::default().offer().to_string(),
        "permessage-deflate; client_max_window_bits"
    );
    let d = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 9,
        ..DeflateConfig::default()
    };
    assert_eq!(
        d.offer().to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=9"
    );
}

#[test]
fn client_accepts_what_it_allowed() {
    let d = DeflateConfig::default();
    assert_eq!(client(d, ""), Ok(None));
    assert_eq!(
        client(d, "permessage-deflate"),
        Ok(Some(params(false, false, 15, 15)))
    );
    assert_eq!(
        client(
            d,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=8"
        ),
        Ok(Some(params(true, true, 9, 8)))
    );
    let asking = DeflateConfig {
        server_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 12,
        ..DeflateConfig::default()
    };
    assert_eq!(
        client(
            asking,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        ),
        Ok(Some(params(true, false, 10, 12)))
    );
}

#[test]
fn client_refuses_what_it_did_not_allow() {
    let d = DeflateConfig::default();
    for bad in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate, permessage-deflate",
    ] {
        assert!(client(d, bad).is_err(), "{bad}");
    }
    let asking = DeflateConfig {
        server_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 12,
        ..DeflateConfig::default()
    };
    for bad in [
        // The requests were not agreed.
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover",
        // Larger than requested or offered.
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
         client_max_window_bits=13",
    ] {
        assert!(client(asking, bad).is_err(), "{bad}");
    }
}

// ----- §7.2: the codec -------------------------------------------------------

fn inflate_all(
    inflater: &mut Inflater,
    pieces: &[&[u8]],
    limit: u64,
) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    for piece in pieces {
        inflater.inflate(piece, &mut out, limit)?;
    }
    inflater.finish(&mut out, limit)?;
    Ok(out)
}

#[test]
fn rfc_7692_7_2_3_examples() {
    // §7.2.3.1: "Hello" in one compressed message.
    let mut deflater = compressor(6, 15, false);
    assert_eq!(
        deflater.compress(b"Hello").unwrap(),
        [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // §7.2.3.2: the second "Hello" refers back into the shared window.
    assert_eq!(
        deflater.compress(b"Hello").unwrap(),
        [0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    // Without context takeover the second message is as the first.
    let mut fresh = compressor(6, 15, true);
    fresh.compress(b"Hello").unwrap();
    assert_eq!(
        fresh.compress(b"Hello").unwrap(),
        [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    let mut inflater = Inflater::new(15, false);
    let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(inflate_all(&mut inflater, &[hello], 100).unwrap(), b"Hello");
    let again: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(inflate_all(&mut inflater, &[again], 100).unwrap(), b"Hello");
    // §7.2.3.1, fragmented: "f2 48 cd" then "c9 c9 07 00".
    let mut inflater = Inflater::new(15, false);
    assert_eq!(
        inflate_all(
            &mut inflater,
            &[&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]],
            100
        )
        .unwrap(),
        b"Hello"
    );
    // §7.2.3.3: a stored ("no compression") block.
    let stored: &[u8] = &[
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(
        inflate_all(&mut inflater, &[stored], 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.4: BFINAL set; the trailing 0x00 is ignored, and the next
    // message starts a new stream.
    let mut inflater = Inflater::new(15, false);
    let last: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(inflate_all(&mut inflater, &[last], 100).unwrap(), b"Hello");
    assert_eq!(inflate_all(&mut inflater, &[hello], 100).unwrap(), b"Hello");
    // §7.2.3.5: two DEFLATE blocks in one message.
    let two: &[u8] = &[
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let mut inflater = Inflater::new(15, false);
    assert_eq!(inflate_all(&mut inflater, &[two], 100).unwrap(), b"Hello");
    // §7.2.3.6: an empty message compresses to one 0x00 octet.
    let mut deflater = compressor(6, 15, false);
    assert_eq!(deflater.compress(b"").unwrap(), [0x00]);
    assert_eq!(inflate_all(&mut inflater, &[&[0x00]], 100).unwrap(), b"");
    // Also after a message, with context takeover; and a peer may send
    // nothing at all, which inflates to nothing as well.
    deflater.compress(b"Hello").unwrap();
    assert_eq!(deflater.compress(b"").unwrap(), [0x00]);
    assert_eq!(inflate_all(&mut inflater, &[&[]], 100).unwrap(), b"");
}

#[test]
fn every_window_and_level_round_trips() {
    let text: Vec<u8> = (0..2_000u32)
        .flat_map(|i| format!("{{\"id\":{i},\"name\":\"user{}\"}},", i % 97).into_bytes())
        .collect();
    for bits in 8..=15 {
        for level in [0, 1, 9] {
            for nct in [false, true] {
                let mut deflater = compressor(level, bits, nct);
                let mut inflater = Inflater::new(bits, nct);
                for _ in 0..2 {
                    let wire = deflater.compress(&text).unwrap();
                    let out = inflate_all(&mut inflater, &[&wire], u64::MAX).unwrap();
                    assert!(out == text, "bits {bits} level {level} nct {nct}");
                    if level > 0 && bits > 8 {
                        assert!(wire.len() < text.len() / 2, "bits {bits} level {level}");
                    }
                }
            }
        }
    }
}

#[test]
fn inflated_size_is_limited_while_inflating() {
    // 16 MiB of zeros compress to about 16 KiB.
    let zeros = vec![0u8; 16 << 20];
    let wire = compressor(9, 15, false).compress(&zeros).unwrap();
    assert!(wire.len() < 32 << 10, "{}", wire.len());
    let mut inflater = Inflater::new(15, false);
    let mut out = Vec::new();
    let error = inflater.inflate(&wire, &mut out, 1 << 20).unwrap_err();
    assert!(matches!(error, ProtocolError::MessageTooBig { limit, .. } if limit == 1 << 20));
    assert_eq!(error.close_code(), 1009);
    // Never held more than the limit plus one byte.
    assert!(out.capacity() <= (1 << 20) + 1, "{}", out.capacity());
}

#[test]
fn garbage_is_invalid_compressed_data() {
    let mut inflater = Inflater::new(15, false);
    let mut out = Vec::new();
    // BTYPE 11 is reserved (RFC 1951 §3.2.3).
    let error = inflater
        .inflate(&[0xff, 0xff, 0xff], &mut out, 100)
        .unwrap_err();
    assert_eq!(error, ProtocolError::InvalidCompressedData);
    assert_eq!(error.close_code(), 1007);
}

#[test]
fn empty_messages_between_others() {
    for level in [0u32, 1, 6] {
        for bits in [8u8, 9, 15] {
            let m1: Vec<u8> = (0..2500u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            let m2: Vec<u8> = (0..1600u32)
                .map(|i| (i.wrapping_mul(40503) >> 5) as u8)
                .collect();
            let mut d = compressor(level, bits, false);
            let mut inf = Inflater::new(bits, false);
            for m in [&m1[..], b"", &m2[..], b"", b"", &m1[..]] {
                let w = d.compress(m).unwrap();
                let out = inflate_all(&mut inf, &[&w], u64::MAX).unwrap();
                assert!(
                    out == m,
                    "level {level} bits {bits} len {} wire {:?}",
                    m.len(),
                    &w[..w.len().min(8)]
                );
            }
        }
    }
}
