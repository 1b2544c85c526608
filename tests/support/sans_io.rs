//! The sans-IO core in memory: a connection on the tests' clock whose
//! client masks with the RFC's key, inputs fed whole and one byte at a
//! time, output split back into frames.

use wsproto::frame::{FrameHeader, OpCode, apply_mask};
use wsproto::{
    CloseFrame, Config, Connection, Message, Parsed, ProtocolError, Role, State, Transmit,
};

use super::wire::{self, MASK_KEY, first_byte};

/// The clock of these tests: `std::time::Instant` with wsproto's `std`
/// feature; without it (the `no_std` core), a `Duration` since the first
/// call of [`now`].
#[cfg(feature = "std")]
pub type Clock = std::time::Instant;
#[cfg(not(feature = "std"))]
pub type Clock = std::time::Duration;

/// A connection on the tests' clock.
pub type Conn = Connection<Clock>;

/// The current instant on [`Clock`].
pub fn now() -> Clock {
    #[cfg(feature = "std")]
    return std::time::Instant::now();
    #[cfg(not(feature = "std"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed()
    }
}

/// A connection whose client masks with the RFC §5.7 key.
pub fn conn(role: Role, config: Config) -> Conn {
    Connection::with_mask_source(role, config, || MASK_KEY)
}

/// Everything a connection produced from some input.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub events: Vec<Message>,
    pub output: Vec<u8>,
    pub shutdown: bool,
    pub error: Option<ProtocolError>,
    pub state: State,
    pub close: Option<CloseFrame>,
}

/// Drains the output of `conn`: bytes, and whether a shutdown came.
pub fn drain_output(conn: &mut Conn) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut shutdown = false;
    while let Some(t) = conn.poll_transmit() {
        match t {
            Transmit::Data(bytes) => {
                assert!(!shutdown, "data after shutdown");
                out.extend_from_slice(&bytes)
            }
            Transmit::Shutdown => shutdown = true,
        }
    }
    (out, shutdown)
}

pub fn drain_events(conn: &mut Conn) -> Vec<Message> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Feeds `input` to a fresh connection in chunks of `chunk` bytes (the whole
/// input at once for `usize::MAX`), checking that the first error is returned
/// again by every later call.
pub fn run_chunked(role: Role, config: &Config, input: &[u8], chunk: usize) -> Outcome {
    let mut c = conn(role, config.clone());
    let mut first_error = None;
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let result = c.receive_data(piece);
        events.extend(drain_events(&mut c));
        match (&first_error, result) {
            (None, Err(e)) => first_error = Some(e),
            (Some(first), result) => assert_eq!(result.as_ref(), Err(first), "sticky error"),
            (None, Ok(())) => {}
        }
    }
    let (output, shutdown) = drain_output(&mut c);
    assert_eq!(c.error(), first_error.as_ref());
    Outcome {
        events,
        output,
        shutdown,
        error: first_error,
        state: c.state(),
        close: c.close_frame().cloned(),
    }
}

/// Feeds `input` whole and then one byte at a time; both must agree.
pub fn run(role: Role, config: &Config, input: &[u8]) -> Outcome {
    let whole = run_chunked(role, config, input, usize::MAX);
    let bytewise = run_chunked(role, config, input, 1);
    assert_eq!(whole, bytewise, "whole vs one byte at a time");
    whole
}

/// A frame from a client (masked with [`MASK_KEY`]).
pub fn cf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    wire::frame(first_byte(fin, opcode), payload, Some(MASK_KEY))
}

/// A frame from a server (unmasked).
pub fn sf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    wire::frame(first_byte(fin, opcode), payload, None)
}

/// A frame decoded from output: (fin, opcode, masked, unmasked payload).
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Wire {
    pub fin: bool,
    pub opcode: OpCode,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Splits output bytes into frames (the output must hold whole frames).
pub fn frames(mut bytes: &[u8]) -> Vec<Wire> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Parsed::Complete((h, used)) = FrameHeader::decode(bytes).unwrap() else {
            panic!("truncated output")
        };
        let len = h.payload_len as usize;
        let mut payload = bytes[used..used + len].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key);
        }
        out.push(Wire {
            fin: h.fin,
            opcode: h.opcode,
            masked: h.mask.is_some(),
            payload,
        });
        bytes = &bytes[used + len..];
    }
    out
}

/// The close code of a Close frame on the wire.
pub fn close_code(wire: &Wire) -> u16 {
    assert_eq!(wire.opcode, OpCode::Close);
    u16::from_be_bytes([wire.payload[0], wire.payload[1]])
}

/// Moves everything `from` has to send into `to`; returns whether `from`
/// shut down its write half (which `to` then sees as end of stream).
pub fn pump(from: &mut Conn, to: &mut Conn) -> bool {
    let (bytes, shutdown) = drain_output(from);
    let _ = to.receive_data(&bytes);
    if shutdown {
        to.receive_eof();
    }
    shutdown
}
