//! Arbitrary bytes as an HTTP proxy's answer to a CONNECT. The first byte
//! picks the chunk size; feeding in chunks must end as feeding whole
//! (bytes after a 2xx are refused either way), and a small head cap must
//! hold whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::proxy::{Credentials, HttpConnect, ProxyError};
use wsproto::{HandshakeLimits, Parsed};

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let limits = HandshakeLimits::default()
        .max_head_size(4096)
        .max_headers(16);
    let credentials = Credentials::new("user", "pw-s3cret");
    let start = || HttpConnect::new("example.com", 443, Some(&credentials), limits);
    let mut whole = start();
    assert!(whole.poll_transmit().is_some());
    let whole = whole.receive_data(bytes);
    let mut c = start();
    let chunk = usize::from(k % 64) + 1;
    let mut chunked: Result<Parsed<()>, ProxyError> = Ok(Parsed::Partial);
    for piece in bytes.chunks(chunk) {
        chunked = c.receive_data(piece);
        if chunked.is_err() {
            break;
        }
    }
    assert_eq!(whole, chunked);
    if let Err(e) = &whole {
        assert!(!e.to_string().contains("s3cret"));
    }
});
