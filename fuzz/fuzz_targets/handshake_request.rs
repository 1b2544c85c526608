//! Arbitrary bytes as a client's request. The first byte picks the chunk
//! size; feeding in chunks must agree with feeding whole. A refusal's
//! ready-made response must itself parse as HTTP with the same status, and a
//! valid request must be acceptable with anything it offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::Parsed;
use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser, ResponseError};

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let whole = RequestParser::default().parse(bytes);
    let mut parser = RequestParser::default();
    let chunk = usize::from(k % 64) + 1;
    let mut end = 0;
    let chunked = loop {
        end = (end + chunk).min(bytes.len());
        match parser.parse(&bytes[..end]) {
            Ok(Parsed::Partial) if end < bytes.len() => continue,
            other => break other,
        }
    };
    assert_eq!(whole, chunked);
    assert!(wsproto::__private::request_bytes_scanned(&parser) <= bytes.len() as u64);
    match whole {
        Ok(Parsed::Partial) => {}
        Ok(Parsed::Complete((request, used))) => {
            assert!(used <= bytes.len());
            let mut accept = AcceptOptions::new();
            if let Some(p) = request.protocols().first() {
                accept = accept.protocol(p.clone());
            }
            for e in request.extensions() {
                accept = accept.extension(e.clone());
            }
            assert!(request.accept(accept).is_ok());
        }
        Err(e) => {
            let (_, mut client) = ClientRequest::new("h", "/")
                .build_with_nonce([0; 16])
                .unwrap();
            match client.parse_response(&e.response()) {
                Err(ResponseError::NotSwitching(r)) => assert_eq!(r.status(), e.http_status()),
                other => panic!("{e:?} answered with {other:?}"),
            }
        }
    }
});
