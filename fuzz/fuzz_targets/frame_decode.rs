//! Arbitrary bytes through the header decoder, then the payload unmasked.
//! Decoding a prefix must agree with decoding the whole; a decoded header
//! must re-encode to a header that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::__private::apply_mask_bytewise;
use wsproto::Parsed;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, apply_mask};

fuzz_target!(|data: &[u8]| {
    let mut rest = data.to_vec();
    let mut start = 0;
    while start < rest.len() {
        let whole = FrameHeader::decode(&rest[start..]);
        // Any prefix is Partial, the same error, or (past the header) the same header.
        for cut in 0..=(rest.len() - start).min(MAX_HEADER_LEN) {
            match (FrameHeader::decode(&rest[start..start + cut]), &whole) {
                (Ok(Parsed::Partial), _) => {}
                (Err(e), Err(w)) => assert_eq!(&e, w),
                (Ok(Parsed::Complete(h)), Ok(Parsed::Complete(w))) => assert_eq!(&h, w),
                (got, want) => panic!("prefix {cut}: {got:?} vs whole {want:?}"),
            }
        }
        let Ok(Parsed::Complete((header, used))) = whole else {
            break;
        };
        assert!(used <= MAX_HEADER_LEN);
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        assert_eq!(n, header.encoded_len());
        assert_eq!(
            FrameHeader::decode(&out[..n]),
            Ok(Parsed::Complete((header, n)))
        );
        start += used;
        let available = (rest.len() - start) as u64;
        let len = header.payload_len.min(available) as usize;
        let payload = &mut rest[start..start + len];
        if let Some(key) = header.mask {
            let mut reference = payload.to_vec();
            apply_mask_bytewise(&mut reference, key, 0);
            apply_mask(payload, key);
            assert_eq!(payload, &reference[..]);
        }
        start += len;
    }
});
