//! The opening handshake (RFC 6455 §4), both roles, without I/O.
//!
//! **Server.** Feed the bytes received so far to a [`RequestParser`]; it
//! answers [`Status::Partial`](crate::Status::Partial) until the request head
//! is complete, then an [`UpgradeRequest`] and how many bytes the head used
//! (bytes after it belong to the connection). Look at the path, query,
//! headers, [`Origin`](UpgradeRequest::origin) (see [`OriginPolicy`]),
//! offered subprotocols and extensions, then
//! [`accept`](UpgradeRequest::accept) — which gives the `101` response bytes
//! and what was agreed — or [`reject`](UpgradeRequest::reject) with any
//! status. A request the parser refuses is a [`HandshakeError`] with the HTTP
//! status and a ready-made [`response`](HandshakeError::response); a request
//! that is plain HTTP is [`HandshakeError::NotWebSocket`] holding the
//! [`HttpRequest`], to be answered with [`http_response`].
//!
//! **Client.** [`ClientRequest`] builds the request bytes from a `ws://` or
//! `wss://` URL (or from parts) and returns a [`ClientHandshake`] that
//! validates the server's answer as it arrives; anything but a proper `101`
//! is a [`ResponseError`] (a non-101 response is kept whole for the caller).
//!
//! Parsing is linear in the bytes received: a head fed one byte per call is
//! scanned once, not re-parsed from the start each time, and the
//! [`HandshakeLimits`](crate::HandshakeLimits) caps apply while scanning.
//!
//! ```
//! use wsproto::handshake::{Accept, ClientRequest, RequestParser};
//! use wsproto::Status;
//!
//! let (request, mut client) = ClientRequest::from_url("ws://example.com/chat")?
//!     .protocol("chat")
//!     .build()?;
//! let mut server = RequestParser::default();
//! let Status::Complete((upgrade, _)) = server.parse(&request).unwrap() else { unreachable!() };
//! assert_eq!(upgrade.protocols(), ["chat"]);
//! let accepted = upgrade.accept(Accept::new().protocol("chat"))?;
//! let Status::Complete((established, _)) = client.parse_response(accepted.response()).unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!(established.protocol(), Some("chat"));
//! # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
//! ```

mod accept;
mod client;
mod error;
mod head;
mod headers;
mod origin;
mod response;
mod server;
mod url;

pub use accept::{GUID, accept_key, generate_key, key_from_nonce};
pub use client::{ClientHandshake, ClientRequest, Established};
pub use error::{HandshakeError, HandshakeUsageError, HttpResponse, ResponseError};
pub use headers::{Extension, ExtensionParam, Headers};
pub use origin::OriginPolicy;
pub use response::{http_response, reason_phrase};
pub use server::{Accept, Accepted, HttpRequest, RequestParser, UpgradeRequest};
pub use url::WsUrl;

#[cfg(all(test, feature = "deflate"))]
pub(crate) use headers::parse_extensions as parse_extensions_for_tests;
