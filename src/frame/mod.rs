//! One frame at a time (RFC 6455 §5): the header codec and payload masking.
//!
//! Nothing here buffers or allocates: [`FrameHeader::decode`] reads a header
//! from the front of a byte slice, [`FrameHeader::encode`] writes one into a
//! caller's array, and [`apply_mask`] XORs a payload in place.

#[allow(unused_imports)]
use crate::prelude::*;
mod header;
// Visible to the crate so that `crate::__private` can export the masking
// references and the portable path; the public API is re-exported below.
// One of the two modules allowed `unsafe` (SIMD masking); see its header.
#[allow(unsafe_code)]
pub(crate) mod mask;
mod opcode;

pub use header::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::{apply_mask, apply_mask_at, extend_masked, extend_masked_streaming};
pub use opcode::OpCode;
