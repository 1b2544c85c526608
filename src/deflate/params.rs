//! Negotiation of permessage-deflate parameters (RFC 7692 §5, §7.1), both
//! roles, on parsed `Sec-WebSocket-Extensions` elements.

use crate::handshake::Extension;

use super::EXTENSION_NAME;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// One side's preferences for permessage-deflate.
///
/// The same fields serve both roles, read from where the RFC puts them:
/// a client *requests* the `server_*` values from the server and states the
/// `client_*` ones about itself; a server *grants* what the client asks for
/// when it can, and *imposes* the `client_*` values when the client allowed
/// it. The default asks for nothing: 32 KiB windows and context takeover
/// both ways, the best ratio at about 420 KiB per connection (see the
/// [module docs](super)).
///
/// ```
/// // A server that keeps no compression state between messages.
/// let mut deflate = wsproto::deflate::DeflateConfig::default();
/// deflate.server_no_context_takeover = true;
/// deflate.client_no_context_takeover = true;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server starts every message with an empty compression context.
    /// A client requests it (a server that cannot comply declines); a
    /// server agrees to it even unasked, to keep no compressor between
    /// messages. Default `false`.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty compression context.
    /// A client promises it (a hint in the offer); a server requires it
    /// in its answer, to keep no decompressor between messages. Default
    /// `false`.
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
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_level: 6,
        }
    }
}

/// What both sides agreed to, in the words of the RFC's "agreed
/// parameters" (RFC 7692 §7.1): give it to
/// [`Connection::set_deflate`](crate::Connection::set_deflate).
///
/// Window bits are 15 when the parameter was absent. The default is the
/// plain `permessage-deflate` agreement (no parameter), level 6.
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
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_level: 6,
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
        let params = DeflateParams {
            // RFC 7692 §7.1.1.1: a server accepts the request by including
            // it, and "MAY include the server_no_context_takeover extension
            // parameter ... even if the extension negotiation offer being
            // accepted by the response doesn't include" it.
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            // RFC 7692 §7.1.1.2: the server "MAY include" it whether or not
            // offered; echoing the client's hint lets us drop our inflater
            // between messages.
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            compression_level: self.compression_level.min(9),
        };
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
            compression_level: self.compression_level.min(9),
        })
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
