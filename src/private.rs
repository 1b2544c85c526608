//! Internals exported for the crate's own tests, benches and fuzz targets
//! (`wsproto::__private`): hidden from the documentation, outside any
//! compatibility promise, not for applications. Each has a public
//! counterpart that does the real job.
//!
//! They are no longer where they used to be public:
//!
//! ```compile_fail
//! let mut buf = [0u8; 4];
//! wsproto::frame::apply_mask_bytewise(&mut buf, [1, 2, 3, 4], 0);
//! ```
//!
//! ```compile_fail
//! let parser = wsproto::handshake::RequestParser::default();
//! let _ = parser.bytes_scanned();
//! ```

use crate::handshake::{ClientHandshake, RequestParser};

/// The masking references and the portable path, for the differential tests
/// and benchmarks of [`apply_mask_at`](crate::frame::apply_mask_at) and
/// [`extend_masked`](crate::frame::extend_masked).
pub use crate::frame::mask::{apply_mask_bytewise, apply_mask_portable, extend_masked_bytewise};

/// Bytes the request parser has examined over its life: a head of `n`
/// bytes fed in any number of pieces examines exactly `n` (linear work).
pub fn request_bytes_scanned(parser: &RequestParser) -> u64 {
    parser.bytes_scanned()
}

/// Bytes the client handshake has examined of the response so far; equals
/// the head length however it was split.
pub fn response_bytes_scanned(handshake: &ClientHandshake) -> u64 {
    handshake.bytes_scanned()
}
