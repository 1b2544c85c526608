//! Negotiation of permessage-deflate parameters (RFC 7692 §5, §7.1), both
//! roles, on parsed `Sec-WebSocket-Extensions` elements.

use crate::headers::Extension;

use super::{DeflatePool, EXTENSION_NAME};

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// One side's preferences for permessage-deflate.
///
/// The RFC's four parameters serve both roles, read from where the RFC
/// puts them: a client *requests* the `server_*` values from the server
/// and states the `client_*` ones about itself; a server *grants* what the
/// client asks for when it can, and *imposes* the `client_*` values when
/// the client allowed it. The rest is local (never on the wire): the
/// compressor's level and memLevel, the size below which a message is not
/// compressed, the [`ServerMode`], and an optional [`DeflatePool`].
///
/// **The default scales.** A server answers with
/// `server_no_context_takeover; client_no_context_takeover` even unasked
/// ([`ServerMode::Stateless`], allowed by RFC 7692 §7.1.1.1 and §7.1.1.2):
/// a connection keeps no compressor and no decompressor between messages
/// (measured: under 0.5 KiB of deflate state after messages both ways,
/// against 320 KiB with context takeover; see the [module docs](super)),
/// and a [`PreparedMessage`](crate::PreparedMessage) is compressed once
/// for the whole room. Messages under 1 KiB go uncompressed. A client
/// offers `permessage-deflate; client_max_window_bits`, as browsers do,
/// and accepts any valid answer.
///
/// ```
/// use wsproto::deflate::{DeflateConfig, DeflatePool, ServerMode};
///
/// // The default server: nothing kept between messages; a pool of
/// // compressors shared by every connection, reused instead of allocated
/// // per message.
/// static POOL: DeflatePool = DeflatePool::new(4);
/// let mut deflate = DeflateConfig::default();
/// deflate.pool = Some(&POOL);
///
/// // A server that trades memory for ratio: context takeover where the
/// // client allows it, about 320 KiB per connection.
/// let mut best_ratio = DeflateConfig::default();
/// best_ratio.server_mode = ServerMode::ContextTakeover;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server starts every message with an empty compression context.
    /// A client requests it (a server that cannot comply declines); a
    /// server agrees to it even unasked, to keep no compressor between
    /// messages (as [`ServerMode::Stateless`] does). Default `false`.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty compression context.
    /// A client promises it (a hint in the offer); a server requires it
    /// in its answer, to keep no decompressor between messages (as
    /// [`ServerMode::Stateless`] does). Default `false`.
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window (base-2 log, 8..=15) of the server's compressor.
    /// A client requests it when below 15; a server uses at most this.
    /// Default 15 (32 KiB). Out-of-range values are clamped.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (8..=15) of the client's compressor. A client
    /// offers `client_max_window_bits` with this value (bare when 15, which
    /// lets the server choose); a server imposes it when the client allows
    /// that. Default 15. Out-of-range values are clamped.
    pub client_max_window_bits: u8,
    /// zlib compression level for what *we* send, 0 (stored) to 9 (best).
    /// A local choice, never on the wire. Default 6, zlib's default.
    pub compression_level: u32,
    /// zlib's `memLevel` for our compressor, 1..=9: the size of its
    /// literal buffers, `7 × 2^(mem_level + 6)` bytes (112 KiB at zlib's
    /// default 8, 14 KiB at 5). Local. Default 5, as Python `websockets`:
    /// measured on three corpora, at most 2 % larger output than 8 (none
    /// on ~4 KB chat messages), 10 % less time per compressed message (a
    /// reused compressor clears its literal buffers too), 98 KiB less per
    /// compressor. Out-of-range values are clamped.
    pub mem_level: u8,
    /// Messages of fewer bytes are sent uncompressed (RSV1 clear, RFC 7692
    /// §6): small messages gain little and cost a compression each. Local.
    /// Default 1024, as Node's `ws`; 0 compresses everything.
    pub threshold: usize,
    /// Server only: what a connection keeps between messages. Default
    /// [`ServerMode::Stateless`]. A client ignores it.
    pub server_mode: ServerMode,
    /// Compression states to reuse instead of allocating one per message
    /// when a direction has no context takeover; shared by every connection
    /// given the same pool. Default `None`: a state is allocated for each
    /// compressed message and freed after it.
    pub pool: Option<&'static DeflatePool>,
}

/// What a server's connections keep between messages: see
/// [`DeflateConfig::server_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ServerMode {
    /// Every answer carries `server_no_context_takeover` (RFC 7692
    /// §7.1.1.1: a server "MAY include" it "even if the extension
    /// negotiation offer being accepted by the response doesn't include"
    /// it) and `client_no_context_takeover` (§7.1.1.2, which a server may
    /// include likewise): each message is compressed from an empty window
    /// by a compressor taken for that message (from the
    /// [`pool`](DeflateConfig::pool) if any) and given back after it, and
    /// the decompressor is released after each message. Idle connections
    /// hold no deflate state, and one compressed
    /// [`PreparedMessage`](crate::PreparedMessage) frame serves every
    /// member of a room. Ratio: each message on its own (the same for
    /// messages that are not much alike, worse for a stream of small,
    /// similar ones).
    #[default]
    Stateless,
    /// Context takeover wherever the offer and the `*_no_context_takeover`
    /// fields allow it: the best ratio on streams of similar messages, at
    /// the cost of a dedicated compressor (273 KiB at 15 window bits and
    /// memLevel 5, 371 KiB at memLevel 8) and decompressor (46 KiB) per
    /// connection.
    ContextTakeover,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_level: 6,
            mem_level: 5,
            threshold: 1024,
            server_mode: ServerMode::Stateless,
            pool: None,
        }
    }
}

/// What both sides agreed to, in the words of the RFC's "agreed
/// parameters" (RFC 7692 §7.1), plus our local settings: give it to
/// [`Connection::set_deflate`](crate::Connection::set_deflate).
///
/// Window bits are 15 when the parameter was absent. The default is the
/// plain `permessage-deflate` agreement (no parameter) with the local
/// defaults of [`DeflateConfig`] (level 6, memLevel 5, threshold 1024, no
/// pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server's compressor uses a window of at most `2^bits` bytes.
    pub server_max_window_bits: u8,
    /// The client's compressor uses a window of at most `2^bits` bytes.
    pub client_max_window_bits: u8,
    /// Our compression level (local, from [`DeflateConfig`]).
    pub compression_level: u32,
    /// Our compressor's memLevel (local, from [`DeflateConfig`]).
    pub mem_level: u8,
    /// Messages of fewer bytes go uncompressed (local, from
    /// [`DeflateConfig`]).
    pub threshold: usize,
    /// States to reuse (local, from [`DeflateConfig`]).
    pub pool: Option<&'static DeflatePool>,
}

impl Default for DeflateParams {
    fn default() -> Self {
        let local = DeflateConfig::default();
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_level: local.compression_level,
            mem_level: local.mem_level,
            threshold: local.threshold,
            pool: local.pool,
        }
    }
}

impl DeflateParams {
    /// The server's answer for these parameters, as sent in
    /// `Sec-WebSocket-Extensions` (absent parameters are left out).
    pub fn to_extension(&self) -> Extension {
        let mut ext = Extension::new(EXTENSION_NAME);
        if self.server_no_context_takeover {
            ext = ext.param(SERVER_NO_CONTEXT_TAKEOVER, None);
        }
        if self.client_no_context_takeover {
            ext = ext.param(CLIENT_NO_CONTEXT_TAKEOVER, None);
        }
        if self.server_max_window_bits < 15 {
            ext = ext.param(
                SERVER_MAX_WINDOW_BITS,
                Some(&self.server_max_window_bits.to_string()),
            );
        }
        if self.client_max_window_bits < 15 {
            ext = ext.param(
                CLIENT_MAX_WINDOW_BITS,
                Some(&self.client_max_window_bits.to_string()),
            );
        }
        ext
    }

    /// `self` with the local settings of `config`.
    fn with_local(mut self, config: &DeflateConfig) -> DeflateParams {
        self.compression_level = config.compression_level.min(9);
        self.mem_level = config.mem_level.clamp(1, 9);
        self.threshold = config.threshold;
        self.pool = config.pool;
        self
    }
}

/// The parameters of one offer or answer, checked for form.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Which message the parameters come from: the rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// Reads window bits. RFC 7692 §7.1.2.1: "This value MUST be a decimal
/// integer without leading zeros ... in the range 8 to 15, inclusive" (the
/// same words for `client_max_window_bits`, §7.1.2.2).
fn window_bits(value: &str) -> Option<u8> {
    let ok = matches!(value.len(), 1 | 2)
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    let bits: u8 = if ok { value.parse().ok()? } else { return None };
    (8..=15).contains(&bits).then_some(bits)
}

/// Checks the parameters of one element. RFC 7692 §7: an offer or answer
/// with "an extension parameter not defined for use in an offer/response",
/// "an extension parameter with an invalid value", or "multiple extension
/// parameters with the same name" is to be declined (server) or fails the
/// connection (client).
fn parse(ext: &Extension, side: Side) -> Result<Parsed, &'static str> {
    let mut p = Parsed::default();
    for param in ext.params() {
        let value = param.value.as_deref();
        let name = param.name.to_ascii_lowercase();
        match name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER | CLIENT_NO_CONTEXT_TAKEOVER => {
                // RFC 7692 §7.1.1.1, §7.1.1.2: these "have no value".
                if value.is_some() {
                    return Err("a no_context_takeover parameter with a value");
                }
                let flag = if name == SERVER_NO_CONTEXT_TAKEOVER {
                    &mut p.server_no_context_takeover
                } else {
                    &mut p.client_no_context_takeover
                };
                if std::mem::replace(flag, true) {
                    return Err("duplicate no_context_takeover parameter");
                }
            }
            SERVER_MAX_WINDOW_BITS => {
                // RFC 7692 §7.1.2.1: "This parameter has a value."
                let bits = value
                    .and_then(window_bits)
                    .ok_or("server_max_window_bits without a value in 8..=15")?;
                if p.server_max_window_bits.replace(bits).is_some() {
                    return Err("duplicate server_max_window_bits");
                }
            }
            CLIENT_MAX_WINDOW_BITS => {
                // RFC 7692 §7.1.2.2: in an offer it "may have a value"; in
                // a response the server sends it "with a value".
                let bits = match value {
                    None if side == Side::Offer => None,
                    v => Some(
                        v.and_then(window_bits)
                            .ok_or("client_max_window_bits without a value in 8..=15")?,
                    ),
                };
                if p.client_max_window_bits.replace(bits).is_some() {
                    return Err("duplicate client_max_window_bits");
                }
            }
            _ => return Err("unknown parameter"),
        }
    }
    Ok(p)
}

fn is_deflate(ext: &Extension) -> bool {
    ext.name().eq_ignore_ascii_case(EXTENSION_NAME)
}

impl DeflateConfig {
    fn server_bits(&self) -> u8 {
        self.server_max_window_bits.clamp(8, 15)
    }

    fn client_bits(&self) -> u8 {
        self.client_max_window_bits.clamp(8, 15)
    }

    /// Client: the offer to send, e.g. `permessage-deflate;
    /// client_max_window_bits`.
    ///
    /// `client_max_window_bits` is always offered (bare when 15): we can
    /// honour any window the server picks, and servers that want to save
    /// memory need it (RFC 7692 §7.1.2.2: without it the server "MUST NOT"
    /// send one).
    pub fn offer(&self) -> Extension {
        let mut ext = Extension::new(EXTENSION_NAME);
        if self.server_no_context_takeover {
            ext = ext.param(SERVER_NO_CONTEXT_TAKEOVER, None);
        }
        if self.client_no_context_takeover {
            ext = ext.param(CLIENT_NO_CONTEXT_TAKEOVER, None);
        }
        if self.server_bits() < 15 {
            ext = ext.param(
                SERVER_MAX_WINDOW_BITS,
                Some(&self.server_bits().to_string()),
            );
        }
        let client_bits = self.client_bits().to_string();
        ext.param(
            CLIENT_MAX_WINDOW_BITS,
            (self.client_bits() < 15).then_some(client_bits.as_str()),
        )
    }

    /// Server: the first acceptable permessage-deflate offer among
    /// `offers` (the client's order is its preference, RFC 7692 §5), as the
    /// agreed parameters and the answer to send. Malformed offers are
    /// declined and the next one tried; `None` when none is acceptable.
    ///
    /// Every well-formed offer is acceptable: we can compress with any
    /// window the client asks for (see the module docs for 8 bits) and
    /// inflate anything.
    pub fn negotiate(&self, offers: &[Extension]) -> Option<(DeflateParams, Extension)> {
        let offer = offers
            .iter()
            .filter(|e| is_deflate(e))
            .find_map(|e| parse(e, Side::Offer).ok())?;
        // RFC 7692 §7.1.2.1: the server answers with "the same or smaller
        // value as the offer"; it may also limit its window unasked.
        let server_max_window_bits = match offer.server_max_window_bits {
            Some(asked) => asked.min(self.server_bits()),
            None => self.server_bits(),
        };
        // RFC 7692 §7.1.2.2: "If a received extension negotiation offer
        // doesn't have the client_max_window_bits extension parameter, the
        // corresponding extension negotiation response to the offer MUST
        // NOT include the client_max_window_bits extension parameter."
        let client_max_window_bits = match offer.client_max_window_bits {
            None => 15,
            Some(limit) => self.client_bits().min(limit.unwrap_or(15)),
        };
        let stateless = self.server_mode == ServerMode::Stateless;
        let params = DeflateParams {
            // RFC 7692 §7.1.1.1: a server accepts the request by including
            // it, and "MAY include the server_no_context_takeover extension
            // parameter ... even if the extension negotiation offer being
            // accepted by the response doesn't include" it.
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover
                || stateless,
            // RFC 7692 §7.1.1.2: the server "MAY include" it whether or not
            // offered (every client must then comply: "the client MUST
            // start compressing each new message with an empty LZ77 sliding
            // window"); echoing the client's hint lets us drop our inflater
            // between messages.
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover
                || stateless,
            server_max_window_bits,
            client_max_window_bits,
            ..DeflateParams::default()
        }
        .with_local(self);
        let mut answer = params.to_extension();
        if offer.server_max_window_bits.is_some() && server_max_window_bits == 15 {
            // Accepting a request for 15 repeats it (RFC 7692 §7.1.2.1).
            answer = answer.param(SERVER_MAX_WINDOW_BITS, Some("15"));
        }
        Some((params, answer))
    }

    /// Client: checks the server's answer to [`offer`](Self::offer) and
    /// returns what was agreed, or why the answer is unacceptable (the
    /// handshake then fails: RFC 7692 §5, "the client MUST _Fail the
    /// WebSocket Connection_").
    pub(crate) fn check_response(&self, answer: &Extension) -> Result<DeflateParams, &'static str> {
        let p = parse(answer, Side::Response)?;
        // RFC 7692 §7.1.1.1: a server that does not support the request
        // declines the offer; an answer without it is not an acceptance.
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err("server_no_context_takeover was requested, not agreed");
        }
        // RFC 7692 §7.1.2.1: "A server accepts an extension negotiation
        // offer with this parameter by including the server_max_window_bits
        // extension parameter ... with the same or smaller value".
        let server_max_window_bits = match p.server_max_window_bits {
            Some(bits) if bits <= self.server_bits() => bits,
            Some(_) => return Err("server_max_window_bits above the requested value"),
            None if self.server_bits() < 15 => {
                return Err("server_max_window_bits was requested, not agreed");
            }
            None => 15,
        };
        // RFC 7692 §7.1.2.2: the value limits our compressor; a value above
        // the one offered is not an acceptance of the offer.
        let client_max_window_bits = match p.client_max_window_bits.flatten() {
            Some(bits) if bits <= self.client_bits() => bits,
            Some(_) => return Err("client_max_window_bits above the offered value"),
            None => self.client_bits(),
        };
        Ok(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            ..DeflateParams::default()
        }
        .with_local(self))
    }

    /// Client: the agreement among all extensions of the server's answer:
    /// `None` when permessage-deflate is not among them, an error when it
    /// appears twice or its parameters are unacceptable.
    pub(crate) fn check_extensions(
        &self,
        answer: &[Extension],
    ) -> Result<Option<DeflateParams>, &'static str> {
        let mut found = answer.iter().filter(|e| is_deflate(e));
        let Some(first) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err("permessage-deflate agreed twice");
        }
        self.check_response(first).map(Some)
    }
}
