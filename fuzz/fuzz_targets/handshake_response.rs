//! Arbitrary bytes as a server's response to a fixed request. The first
//! byte picks the chunk size; feeding in chunks must agree with feeding
//! whole (a non-101 response's body is what had arrived, so only its status
//! and headers are compared).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::Parsed;
use wsproto::handshake::{ClientRequest, Extension, ResponseError};

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let (_, handshake) = ClientRequest::new("server.example.com", "/chat")
        .protocol("chat")
        .protocol("superchat")
        .extension(Extension::new("permessage-deflate"))
        .build_with_nonce(*b"the sample nonce")
        .unwrap();
    let whole = handshake.clone().parse_response(bytes);
    let mut h = handshake;
    let chunk = usize::from(k % 64) + 1;
    let mut end = 0;
    let chunked = loop {
        end = (end + chunk).min(bytes.len());
        match h.parse_response(&bytes[..end]) {
            Ok(Parsed::Partial) if end < bytes.len() => continue,
            other => break other,
        }
    };
    match (&whole, &chunked) {
        (Err(ResponseError::NotSwitching(a)), Err(ResponseError::NotSwitching(b))) => {
            assert_eq!(
                (a.status(), a.reason(), a.headers()),
                (b.status(), b.reason(), b.headers())
            );
            assert!(a.body().starts_with(b.body()));
        }
        _ => assert_eq!(whole, chunked),
    }
    if let Ok(Parsed::Complete((_, used))) = whole {
        assert!(used <= bytes.len());
    }
});
