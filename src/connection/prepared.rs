//! Prepared messages: a data message framed once and sent to many
//! connections as the same shared bytes (a chat room, a ticker, a game
//! state broadcast).
//!
//! A server never masks (RFC 6455 §5.1: "A server MUST NOT mask any frames
//! that it sends to the client"), so the frame a server writes for a
//! message is the same for every client: header and payload are encoded
//! once into one [`Bytes`], and [`Connection::send_prepared`] queues a
//! reference-counted handle to it. Nothing is copied or re-encoded per
//! recipient.
//!
//! With permessage-deflate (feature `deflate`), a compressed frame is made
//! the same way, once, on the first send to a connection that can take it
//! (see [`Connection::send_prepared`]), and shared by all of them.

use bytes::{BufMut, Bytes, BytesMut};

use super::payload::{BinaryPayload, TextAsBinary, TextPayload};
use super::{Connection, State};
use crate::close::CloseCode;
use crate::error::UsageError;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::time::Moment;

/// A text or binary message framed once, for any number of server
/// connections: see [`Connection::send_prepared`].
///
/// It holds the whole frame as it goes on the wire (one final, unmasked,
/// uncompressed frame: [`Config::fragment_size`](crate::Config::fragment_size)
/// does not apply). Cloning it, or sending it, shares the same bytes.
/// With the `deflate` feature, it also holds the compressed frames made
/// for it, at most one per window size, made when first needed and shared
/// by its clones (see [`Connection::send_prepared`]); equality compares
/// the message, not what was made of it.
///
/// ```
/// use wsproto::{Config, Connection, PreparedMessage, Role};
///
/// let hello = PreparedMessage::text("Hello");
/// assert_eq!(hello.frame(), &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'][..]);
/// let mut room: Vec<Connection> = (0..3)
///     .map(|_| Connection::new(Role::Server, Config::default()))
///     .collect();
/// for conn in &mut room {
///     conn.send_prepared(&hello)?;
/// }
/// // Every connection writes the same bytes, from the same memory.
/// let first = room[0].poll_transmit();
/// assert_eq!(first, room[2].poll_transmit());
/// # Ok::<(), wsproto::UsageError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PreparedMessage {
    frame: Bytes,
    /// The compressed frames, made on first need; shared by the clones.
    #[cfg(feature = "deflate")]
    compressed: std::sync::Arc<Compressed>,
}

impl PartialEq for PreparedMessage {
    fn eq(&self, other: &Self) -> bool {
        self.frame == other.frame
    }
}

impl Eq for PreparedMessage {}

/// A prepared message's compressed frames, one per window size (9..=15
/// bits) the connections it went to agreed, each made once: `None` when
/// compressing did not make it smaller (the plain frame goes instead).
#[cfg(feature = "deflate")]
#[derive(Debug, Default)]
struct Compressed {
    by_window: [std::sync::OnceLock<Option<Bytes>>; 7],
}

impl PreparedMessage {
    /// A text message (RFC 6455 §5.6: UTF-8, which `text` already is).
    pub fn text(text: impl TextPayload) -> PreparedMessage {
        PreparedMessage::encode(OpCode::Text, TextAsBinary(text).as_bytes())
    }

    /// A binary message.
    pub fn binary(data: impl BinaryPayload) -> PreparedMessage {
        PreparedMessage::encode(OpCode::Binary, data.as_bytes())
    }

    /// The one encoding: header and payload copied into one buffer.
    fn encode(opcode: OpCode, payload: &[u8]) -> PreparedMessage {
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let mut out = [0; MAX_HEADER_LEN];
        let used = header.encode(&mut out);
        let mut frame = BytesMut::with_capacity(used + payload.len());
        frame.put_slice(&out[..used]);
        frame.put_slice(payload);
        PreparedMessage {
            frame: frame.freeze(),
            #[cfg(feature = "deflate")]
            compressed: Default::default(),
        }
    }

    /// The payload: the frame without its header.
    #[cfg(feature = "deflate")]
    fn payload(&self) -> &[u8] {
        let header_len = match self.frame[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        &self.frame[header_len..]
    }

    /// The frame compressed with `settings`, made on the first call for its
    /// window size (with the first caller's level and memLevel, which only
    /// change the ratio) and shared after that; `None` when compressing
    /// does not make it smaller.
    ///
    /// RFC 7692 §7.2.1: the payload is compressed as a message of its own,
    /// from an empty window ("MUST start compressing each new message with
    /// an empty LZ77 sliding window" under server_no_context_takeover), so
    /// the frame is valid on every connection that agreed
    /// server_no_context_takeover with a window at least this large
    /// (§7.1.2.1: the server's compressor must not use a larger one).
    #[cfg(feature = "deflate")]
    fn compressed_frame(
        &self,
        settings: crate::deflate::Settings,
        pool: Option<&'static crate::deflate::DeflatePool>,
    ) -> Option<Bytes> {
        use crate::deflate::Deflater;
        if settings.stores_only() {
            // Stored blocks (level 0, or an 8-bit window) never shrink it.
            return None;
        }
        let cell = &self.compressed.by_window[usize::from(settings.window_bits() - 9)];
        cell.get_or_init(|| {
            let payload = self.payload();
            let mut deflater = Deflater::new(settings, true).with_pool(pool);
            let compressed = deflater
                .compress(payload)
                .filter(|c| c.len() < payload.len())?;
            let mut header = FrameHeader::new(self.opcode(), compressed.len() as u64);
            // RFC 7692 §6: "the RSV1 bit is set" on the first frame of a
            // compressed message (here the only one).
            header.rsv1 = true;
            let mut out = [0; MAX_HEADER_LEN];
            let used = header.encode(&mut out);
            let mut frame = BytesMut::with_capacity(used + compressed.len());
            frame.put_slice(&out[..used]);
            frame.put_slice(&compressed);
            Some(frame.freeze())
        })
        .clone()
    }

    /// How many times it was compressed so far: once for each window size
    /// among the connections it was sent to that take a compressed frame
    /// (see [`Connection::send_prepared`]), however many they are. A
    /// compression that did not make it smaller counts too (those
    /// connections then get the plain frame). Always 0 without the
    /// `deflate` feature.
    pub fn compressions(&self) -> usize {
        #[cfg(feature = "deflate")]
        return self
            .compressed
            .by_window
            .iter()
            .filter(|cell| cell.get().is_some())
            .count();
        #[cfg(not(feature = "deflate"))]
        return 0;
    }

    #[cfg(feature = "deflate")]
    fn opcode(&self) -> OpCode {
        if self.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        }
    }

    /// The frame as it goes on the wire, header included.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// Whether it is a text message (otherwise binary).
    pub fn is_text(&self) -> bool {
        self.frame[0] & 0x0f == OpCode::Text as u8
    }
}

/// What [`Connection::send_prepared`] did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// Queued behind what the connection already had to write.
    Queued,
    /// Not queued: more than [`Config::max_write_buffer`](crate::Config::max_write_buffer)
    /// was already waiting (the peer reads slower than the room talks), so
    /// the connection is closing with 1013, Try Again Later. Nothing more
    /// is queued for it; the driver writes the Close once the bytes before
    /// it are out (or gives up after its write timeout).
    Dropped,
}

impl<T: Moment> Connection<T> {
    /// Queues a [`PreparedMessage`]: the frame's shared bytes, not a copy.
    ///
    /// **Server only**: a client must mask every frame with a fresh key
    /// (RFC 6455 §5.3), so its frames cannot be shared; a client
    /// connection returns [`UsageError::PreparedByClient`].
    ///
    /// **Slow readers are dropped, not buffered.** When more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer) already
    /// waits, the message is not queued; instead the connection starts
    /// closing with code 1013 (Try Again Later, registered with IANA: the
    /// client may reconnect and catch up) and the call returns
    /// [`Delivery::Dropped`]. So one client that stops reading holds at
    /// most the cap plus one message and a Close, whatever the room sends,
    /// and the broadcaster never waits for it. (Other sends refuse with
    /// [`UsageError::WriteBufferFull`] instead and leave the choice to the
    /// caller.)
    ///
    /// **permessage-deflate.** A connection that agreed
    /// `server_no_context_takeover` (as [`ServerMode::Stateless`](crate::deflate::ServerMode::Stateless),
    /// the default, makes every connection do) gets the message
    /// *compressed*, when it is at least the connection's
    /// [`threshold`](crate::deflate::DeflateParams::threshold) long and
    /// compressing makes it smaller: the compressed frame is made once,
    /// from an empty window, on the first such send, and shared by every
    /// such connection with the same window size (RFC 7692 §7.1.1.1: each
    /// of their messages starts from an empty window anyway, so one
    /// compressed frame is valid for all of them). A connection with
    /// context takeover gets the plain frame (RSV1 clear): RFC 7692 §6
    /// makes RSV1 say "whether a message is compressed or not", so an
    /// uncompressed message is valid there, and it does not enter the
    /// peer's decompressor, so our compressor's context for the
    /// connection's other messages stays in step. Compressing per client
    /// would defeat the point (one encode for everyone).
    ///
    /// Errors as for the other sends: [`UsageError::Closed`] after our Close.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<Delivery, UsageError> {
        self.send_prepared_beyond(message, 0)
    }

    /// [`send_prepared`](Self::send_prepared) for a driver that holds
    /// `elsewhere` bytes taken out of the connection and not yet written
    /// (the split tokio writer): they count against the cap too.
    pub(crate) fn send_prepared_beyond(
        &mut self,
        message: &PreparedMessage,
        elsewhere: usize,
    ) -> Result<Delivery, UsageError> {
        if self.role.masks_outgoing() {
            return Err(UsageError::PreparedByClient);
        }
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data
        // frames after sending a Close frame."
        if self.close_sent || self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        if self.tx.len() + elsewhere > self.config.max_write_buffer {
            self.queue_close(CloseCode::TRY_AGAIN_LATER, b"reader too slow");
            self.state = State::Closing;
            return Ok(Delivery::Dropped);
        }
        #[cfg(feature = "deflate")]
        if let Some((settings, pool)) = self
            .deflater
            .as_ref()
            .and_then(|d| d.shared_settings(message.payload().len()))
        {
            if let Some(frame) = message.compressed_frame(settings, pool) {
                self.tx.push_shared(frame);
                return Ok(Delivery::Queued);
            }
        }
        self.tx.push_shared(message.frame.clone());
        Ok(Delivery::Queued)
    }
}

// The tests build connections with `Connection::new` and write with
// `transmit_slices`, both `std`.
#[cfg(all(test, feature = "std"))]
mod tests {
    use std::io::IoSlice;

    use super::*;
    use crate::{Config, Message, Role};

    fn server() -> Connection {
        Connection::new(Role::Server, Config::default())
    }

    fn written(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = conn.transmit_slices(&mut slices);
            if n == 0 {
                return out;
            }
            let len: usize = slices[..n].iter().map(|s| s.len()).sum();
            for s in &slices[..n] {
                out.extend_from_slice(s);
            }
            conn.advance_transmit(len);
        }
    }

    /// RFC 6455 §5.7: "A single-frame unmasked text message", and the
    /// header lengths at each boundary (7-bit, 16-bit, 64-bit).
    #[test]
    fn frames_are_byte_exact() {
        let hello = PreparedMessage::text("Hello");
        assert_eq!(
            &hello.frame()[..],
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert!(hello.is_text());
        let empty = PreparedMessage::binary(&[][..]);
        assert_eq!(&empty.frame()[..], [0x82, 0x00]);
        assert!(!empty.is_text());
        // "256 bytes binary message in a single unmasked frame".
        let b256 = PreparedMessage::binary(vec![7u8; 256]);
        assert_eq!(&b256.frame()[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(b256.frame().len(), 4 + 256);
        let b125 = PreparedMessage::binary(vec![1u8; 125]);
        assert_eq!(&b125.frame()[..2], [0x82, 125]);
        // "64KiB binary message in a single unmasked frame".
        let big = PreparedMessage::binary(vec![0u8; 65536]);
        assert_eq!(
            &big.frame()[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        assert_eq!(big.frame().len(), 10 + 65536);
    }

    /// The same bytes, from the same memory, for every connection, and the
    /// same bytes as `send_text` / `send_binary` write.
    #[test]
    fn every_connection_shares_the_one_encoding() {
        for message in [
            PreparedMessage::text("Hello"),
            PreparedMessage::binary(vec![9u8; 5000]),
        ] {
            let mut direct = server();
            if message.is_text() {
                direct.send_text("Hello").unwrap();
            } else {
                direct.send_binary(vec![9u8; 5000]).unwrap();
            }
            let expected = written(&mut direct);
            let mut conns: Vec<Connection> = (0..3).map(|_| server()).collect();
            for conn in &mut conns {
                assert_eq!(conn.send_prepared(&message), Ok(Delivery::Queued));
                let mut slices = [IoSlice::new(&[]); 4];
                assert_eq!(conn.transmit_slices(&mut slices), 1);
                assert_eq!(slices[0].as_ptr(), message.frame().as_ptr());
                assert_eq!(written(conn), expected);
            }
        }
    }

    /// Queued in order with other sends, and read back by a client fed
    /// the output whole and one byte at a time.
    #[test]
    fn a_client_reads_it_whole_and_byte_by_byte() {
        let mut conn = server();
        conn.send_text("before").unwrap();
        conn.send_prepared(&PreparedMessage::binary(vec![3u8; 2000]))
            .unwrap();
        conn.send_prepared(&PreparedMessage::text("after")).unwrap();
        let wire = written(&mut conn);
        let expected = [
            Message::Text("before".into()),
            Message::Binary(Bytes::from(vec![3u8; 2000])),
            Message::Text("after".into()),
        ];
        for step in [wire.len(), 1] {
            let mut client = Connection::new(Role::Client, Config::default());
            for piece in wire.chunks(step) {
                client.receive_data(piece).unwrap();
            }
            let events: Vec<Message> = std::iter::from_fn(|| client.poll_event()).collect();
            assert_eq!(events, expected);
        }
    }

    #[test]
    fn a_client_connection_refuses() {
        let mut client = Connection::new(Role::Client, Config::default());
        assert_eq!(
            client.send_prepared(&PreparedMessage::text("x")),
            Err(UsageError::PreparedByClient)
        );
        assert_eq!(client.buffered_amount(), 0);
    }

    #[test]
    fn after_close_it_refuses() {
        let mut conn = server();
        conn.close(1000, "").unwrap();
        assert_eq!(
            conn.send_prepared(&PreparedMessage::text("x")),
            Err(UsageError::Closed)
        );
    }

    /// A reader that never reads: the queue stops at the cap plus one
    /// message, then the connection closes with 1013 and refuses the rest.
    #[test]
    fn a_slow_reader_is_dropped_with_1013() {
        let config = Config::default().max_write_buffer(10_000);
        let mut conn = Connection::new(Role::Server, config);
        let message = PreparedMessage::binary(vec![0u8; 3000]);
        let mut queued = 0;
        let dropped = loop {
            match conn.send_prepared(&message).unwrap() {
                Delivery::Queued => queued += 1,
                Delivery::Dropped => break conn.buffered_amount(),
            }
        };
        assert_eq!(queued, 4); // 12,016 bytes > 10,000 after the fourth
        let close = [0x88, 17, 0x03, 0xf5];
        assert_eq!(dropped, 4 * 3004 + close.len() + 15);
        assert_eq!(conn.state(), State::Closing);
        assert_eq!(conn.send_prepared(&message), Err(UsageError::Closed));
        let wire = written(&mut conn);
        assert_eq!(wire[4 * 3004..4 * 3004 + 4], close);
        assert_eq!(&wire[4 * 3004 + 4..], b"reader too slow");
    }

    /// With permessage-deflate agreed, the prepared frame goes out as it
    /// is (RSV1 clear) and the connection's own compressed messages around
    /// it still inflate on the peer.
    #[cfg(feature = "deflate")]
    #[test]
    fn with_deflate_it_goes_uncompressed_and_context_stays_in_step() {
        use crate::deflate::DeflateParams;
        // Context takeover (the agreement without parameters), every
        // message compressed however short.
        let params = DeflateParams {
            threshold: 0,
            ..DeflateParams::default()
        };
        let mut conn = server();
        conn.set_deflate(params);
        let mut client = Connection::new(Role::Client, Config::default());
        client.set_deflate(params);
        let text = "a message that compresses, a message that compresses";
        conn.send_text(text).unwrap();
        let prepared = PreparedMessage::text(text);
        conn.send_prepared(&prepared).unwrap();
        conn.send_text(text).unwrap();
        let wire = written(&mut conn);
        assert_eq!(wire[0], 0xc1); // compressed: RSV1
        client.receive_data(&wire).unwrap();
        for _ in 0..3 {
            assert_eq!(client.poll_event(), Some(Message::Text(text.into())));
        }
        assert!(
            wire.windows(prepared.frame().len())
                .any(|w| w == &prepared.frame()[..])
        );
    }
}
