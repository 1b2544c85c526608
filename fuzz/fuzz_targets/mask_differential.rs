//! The fast mask paths against the bytewise reference at any alignment,
//! key and key offset, and the one-pass copy-and-mask appended after a
//! prefix of any length (with and without prefetching the source).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::__private::{apply_mask_bytewise, apply_mask_portable};
use wsproto::frame::{apply_mask_at, extend_masked, extend_masked_streaming};

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let key = [data[0], data[1], data[2], data[3]];
    let offset = usize::from(data[4]);
    let align = usize::from(data[5] & 63).min(data.len() - 6);
    let payload = &data[6..];

    let mut expected = payload.to_vec();
    let next = apply_mask_bytewise(&mut expected, key, offset);

    let mut storage = vec![0u8; payload.len() + 64];
    for path in [apply_mask_at, apply_mask_portable] {
        let buf = &mut storage[align..align + payload.len()];
        buf.copy_from_slice(payload);
        assert_eq!(path(buf, key, offset), next);
        assert_eq!(buf, &expected[..]);
    }

    for extend in [extend_masked, extend_masked_streaming] {
        let mut out = bytes::BytesMut::from(&data[..align]);
        assert_eq!(extend(&mut out, payload, key, offset), next);
        assert_eq!(&out[..align], &data[..align]);
        assert_eq!(&out[align..], &expected[..]);
    }
});
