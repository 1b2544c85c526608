//! Arbitrary bytes as a SOCKS5 proxy's answers, fed in chunks whose size
//! the first byte picks, taking what the client sends between chunks: no
//! panic, and the tunnel opens only after the CONNECT request went out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::Parsed;
use wsproto::proxy::{Credentials, Socks5Connect};

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let credentials = Credentials::new("user", "pw-s3cret");
    let creds = (k & 0x80 != 0).then_some(&credentials);
    let host = if k & 0x40 != 0 {
        "example.com"
    } else {
        "192.0.2.1"
    };
    let mut s = Socks5Connect::new(host, 443, creds).unwrap();
    let mut last_sent = Vec::new();
    let chunk = usize::from(k % 32) + 1;
    for piece in bytes.chunks(chunk) {
        if let Some(out) = s.poll_transmit() {
            last_sent = out;
        }
        match s.receive_data(piece) {
            Ok(Parsed::Partial) => {}
            Ok(Parsed::Complete(())) => {
                // RFC 1928 §4: the last message was the CONNECT request
                // (VER CMD RSV ATYP, an address, a port), not the greeting.
                assert!(last_sent.len() >= 10 && last_sent[..3] == [5, 1, 0]);
                assert!(s.poll_transmit().is_none());
            }
            Err(e) => {
                assert!(!e.to_string().contains("s3cret"));
                break;
            }
        }
    }
});
