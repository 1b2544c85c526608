//! Reassembly of data frames into messages (RFC 6455 §5.4), with the
//! continuation rules, incremental UTF-8 validation of text, and the size and
//! fragment limits checked from each frame header before its payload is
//! buffered.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Bytes, BytesMut};

use crate::config::Config;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, OpCode};
use crate::utf8::Utf8Validator;

/// The type of a data message, from its first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataKind {
    /// Opcode 0x1: UTF-8 text.
    Text,
    /// Opcode 0x2: arbitrary bytes.
    Binary,
}

/// A complete message: its type and all its payload.
#[derive(Debug)]
pub(crate) struct Message {
    /// Text (already validated) or binary.
    pub(crate) kind: DataKind,
    /// The payload of every fragment, in order.
    pub(crate) data: Bytes,
}

/// The message in progress, if any.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    /// The message's type while one is in progress.
    kind: Option<DataKind>,
    /// Payload of the fragments completed so far. A message's first fragment
    /// is kept as it was split from the receive buffer (no copy), so a
    /// message of one fragment plus empty continuations is never copied;
    /// later fragments are appended.
    fragments_data: Option<BytesMut>,
    /// Declared payload bytes of the message so far, current frame included.
    size: u64,
    /// Frames of the message so far, current frame included.
    fragments: usize,
    /// Validates text across frames and inside a frame as bytes arrive.
    utf8: Utf8Validator,
    /// The message in progress is compressed (RSV1 on its first frame).
    compressed: bool,
    /// The largest inflated message allowed.
    limit: u64,
    /// permessage-deflate, when agreed: the peer's stream.
    #[cfg(feature = "deflate")]
    inflater: Option<crate::deflate::Inflater>,
    /// What the compressed message in progress inflated to so far.
    #[cfg(feature = "deflate")]
    inflated: Vec<u8>,
}

impl Assembler {
    /// Whether a message is in progress (its first frame's header seen,
    /// its last frame not yet complete).
    pub(crate) fn in_progress(&self) -> bool {
        self.kind.is_some()
    }

    /// Bytes held for the message in progress: the fragments completed so
    /// far, or what a compressed message inflated to so far.
    #[inline]
    pub(crate) fn held(&self) -> usize {
        let fragments = self.fragments_data.as_ref().map_or(0, |d| d.len());
        #[cfg(feature = "deflate")]
        return fragments + self.inflated.len();
        #[cfg(not(feature = "deflate"))]
        return fragments;
    }

    /// Turns on permessage-deflate for received messages.
    #[cfg(feature = "deflate")]
    pub(crate) fn set_inflater(&mut self, inflater: crate::deflate::Inflater) {
        self.inflater = Some(inflater);
    }

    /// Whether RSV1 means "compressed" (permessage-deflate was agreed).
    pub(crate) fn inflates(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.inflater.is_some();
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    /// Checks a data frame's header against the continuation rules and the
    /// limits, before any of its payload is buffered. RSV1 was checked by
    /// the caller: set only on a first frame, with deflate agreed.
    pub(crate) fn begin_frame(
        &mut self,
        header: &FrameHeader,
        config: &Config,
    ) -> Result<(), ProtocolError> {
        debug_assert!(header.opcode.is_data());
        match (header.opcode, self.kind) {
            // RFC 6455 §5.4: "a single fragmented message consists of a single
            // frame with the FIN bit clear and an opcode other than 0,
            // followed by zero or more frames with the FIN bit clear and the
            // opcode set to 0".
            (OpCode::Continuation, None) => return Err(ProtocolError::OrphanContinuation),
            (OpCode::Continuation, Some(_)) => {}
            // RFC 6455 §5.4: "The fragments of one message MUST NOT be
            // interleaved between the fragments of another message".
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                self.kind = Some(if opcode == OpCode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                });
                self.size = 0;
                self.fragments = 0;
                self.utf8 = Utf8Validator::new();
                self.compressed = header.rsv1;
                self.limit = config.max_message_size;
            }
        }
        if header.payload_len > config.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                size: header.payload_len,
                limit: config.max_frame_size,
            });
        }
        let size = self.size.saturating_add(header.payload_len);
        if size > config.max_message_size {
            return Err(ProtocolError::MessageTooBig {
                size,
                limit: config.max_message_size,
            });
        }
        if self.fragments >= config.max_fragments {
            return Err(ProtocolError::TooManyFragments {
                limit: config.max_fragments,
            });
        }
        self.size = size;
        self.fragments += 1;
        Ok(())
    }

    /// Validates the next unmasked bytes of the current frame's payload, as
    /// they arrive (fail-fast: RFC 6455 §8.1, Autobahn 6.4.x).
    /// A compressed message is inflated here instead, and its inflated
    /// bytes validated.
    #[inline]
    pub(crate) fn feed(&mut self, piece: &[u8]) -> Result<(), ProtocolError> {
        #[cfg(feature = "deflate")]
        if self.compressed {
            return self.inflate(piece, false);
        }
        if self.kind == Some(DataKind::Text) {
            self.utf8.feed(piece)?;
        }
        Ok(())
    }

    /// Inflates compressed bytes (or, with `end`, the message's implied
    /// tail) and validates what came out when the message is text.
    #[cfg(feature = "deflate")]
    fn inflate(&mut self, piece: &[u8], end: bool) -> Result<(), ProtocolError> {
        let Some(inflater) = &mut self.inflater else {
            return Err(ProtocolError::ReservedBits);
        };
        let before = self.inflated.len();
        if end {
            inflater.finish(&mut self.inflated, self.limit)?;
        } else {
            inflater.inflate(piece, &mut self.inflated, self.limit)?;
        }
        if self.kind == Some(DataKind::Text) {
            self.utf8.feed(&self.inflated[before..])?;
        }
        Ok(())
    }

    /// The current frame is complete with `payload` (already fed): returns
    /// the message when `fin` ends it.
    pub(crate) fn end_frame(
        &mut self,
        fin: bool,
        payload: BytesMut,
    ) -> Result<Option<Message>, ProtocolError> {
        #[cfg(feature = "deflate")]
        if self.compressed {
            // The payload went through the inflater as it arrived.
            drop(payload);
            if !fin {
                return Ok(None);
            }
            self.inflate(&[], true)?;
            let Some(kind) = self.kind.take() else {
                return Err(ProtocolError::OrphanContinuation);
            };
            if kind == DataKind::Text {
                self.utf8.finish()?;
            }
            self.compressed = false;
            let data = Bytes::from(core::mem::take(&mut self.inflated));
            return Ok(Some(Message { kind, data }));
        }
        if !fin {
            match &mut self.fragments_data {
                None => self.fragments_data = Some(payload),
                Some(data) => data.extend_from_slice(&payload),
            }
            return Ok(None);
        }
        let Some(kind) = self.kind.take() else {
            return Err(ProtocolError::OrphanContinuation);
        };
        if kind == DataKind::Text {
            // A code point cut by the end of the message is invalid.
            self.utf8.finish()?;
        }
        let data = match self.fragments_data.take() {
            None => payload,
            Some(mut data) => {
                data.extend_from_slice(&payload);
                data
            }
        };
        Ok(Some(Message {
            kind,
            data: data.freeze(),
        }))
    }

    /// Forgets the message in progress (the connection failed or closed).
    pub(crate) fn reset(&mut self) {
        *self = Assembler::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, fin: bool, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            ..FrameHeader::new(opcode, len)
        }
    }

    #[test]
    fn continuation_rules() {
        let config = Config::default();
        let mut a = Assembler::default();
        assert_eq!(
            a.begin_frame(&header(OpCode::Continuation, true, 0), &config),
            Err(ProtocolError::OrphanContinuation)
        );
        let mut a = Assembler::default();
        a.begin_frame(&header(OpCode::Text, false, 2), &config)
            .unwrap();
        a.feed(b"ab").unwrap();
        assert!(
            a.end_frame(false, BytesMut::from(&b"ab"[..]))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            a.begin_frame(&header(OpCode::Binary, true, 0), &config),
            Err(ProtocolError::ExpectedContinuation)
        );
        a.begin_frame(&header(OpCode::Continuation, true, 1), &config)
            .unwrap();
        let m = a
            .end_frame(true, BytesMut::from(&b"c"[..]))
            .unwrap()
            .unwrap();
        assert_eq!((m.kind, &m.data[..]), (DataKind::Text, &b"abc"[..]));
        assert!(!a.in_progress());
    }

    #[test]
    fn limits_come_from_headers() {
        let config = Config {
            max_frame_size: 10,
            max_message_size: 15,
            max_fragments: 3,
            ..Config::default()
        };
        let mut a = Assembler::default();
        assert_eq!(
            a.begin_frame(&header(OpCode::Binary, true, 11), &config),
            Err(ProtocolError::FrameTooBig {
                size: 11,
                limit: 10
            })
        );
        let mut a = Assembler::default();
        a.begin_frame(&header(OpCode::Binary, false, 10), &config)
            .unwrap();
        assert_eq!(
            a.begin_frame(&header(OpCode::Continuation, false, 6), &config),
            Err(ProtocolError::MessageTooBig {
                size: 16,
                limit: 15
            })
        );
        let mut a = Assembler::default();
        for _ in 0..3 {
            a.begin_frame(
                &header(
                    if a.in_progress() {
                        OpCode::Continuation
                    } else {
                        OpCode::Binary
                    },
                    false,
                    0,
                ),
                &config,
            )
            .unwrap();
            a.end_frame(false, BytesMut::new()).unwrap();
        }
        assert_eq!(
            a.begin_frame(&header(OpCode::Continuation, true, 0), &config),
            Err(ProtocolError::TooManyFragments { limit: 3 })
        );
    }
}
