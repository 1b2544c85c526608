//! The opening handshake (RFC 6455 §4), both roles, without I/O.
//!
//! **Server.** Feed the bytes received so far to a [`RequestParser`]; it
//! answers [`Parsed::Partial`](crate::Parsed::Partial) until the request head
//! is complete, then an [`UpgradeRequest`] and how many bytes the head used
//! (bytes after it belong to the connection). Look at the path, query
//! ([`query_param`](UpgradeRequest::query_param) decodes it), headers, [`Origin`](UpgradeRequest::origin) (see [`OriginPolicy`]),
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
//! **`http` types** (feature `http`): a request another server parsed
//! (hyper, axum) goes through [`RequestParser::parse_http`] — in both
//! shapes, HTTP/1.1 `GET` + `Upgrade` and the RFC 8441 extended `CONNECT`
//! of HTTP/2 — and is answered with `UpgradeRequest::accept_http` (`101`
//! or `200`) or `HandshakeError::to_http_response`; a client turns its
//! request into an `http::Request` with `ClientRequest::build_http` and
//! checks the `http::Response` with `ClientHandshake::check_http_response`.
//!
//! Parsing is linear in the bytes received: a head fed one byte per call is
//! scanned once, not re-parsed from the start each time, and the
//! [`HandshakeLimits`](crate::HandshakeLimits) caps apply while scanning.
//!
//! ```
//! use wsproto::handshake::{AcceptOptions, ClientRequest, RequestParser};
//! use wsproto::Parsed;
//!
//! let (request, mut client) = ClientRequest::from_url("ws://example.com/chat")?
//!     .protocol("chat")
//!     .build()?;
//! let mut server = RequestParser::default();
//! let Parsed::Complete((upgrade, _)) = server.parse(&request).unwrap() else { unreachable!() };
//! assert_eq!(upgrade.protocols(), ["chat"]);
//! let accepted = upgrade.accept(AcceptOptions::new().protocol("chat"))?;
//! let Parsed::Complete((established, _)) = client.parse_response(accepted.response()).unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!(established.protocol(), Some("chat"));
//! # Ok::<(), wsproto::handshake::HandshakeUsageError>(())
//! ```

#[allow(unused_imports)]
use crate::prelude::*;
mod accept;
mod client;
mod error;
pub(crate) mod head;
mod http1;
#[cfg(feature = "http")]
mod http_types;
mod origin;
mod query;
mod response;
mod server;
mod url;

pub use crate::headers::{Extension, ExtensionParam, Headers};
#[cfg(feature = "std")]
pub use accept::generate_key;
pub use accept::{GUID, accept_key, key_from_nonce};
pub use client::{ClientHandshake, ClientRequest, Established};
pub use error::{HandshakeError, HandshakeUsageError, HttpResponse, ResponseError};
pub use http1::{HttpRequest, reason_phrase};
pub use origin::OriginPolicy;
pub use query::QueryPairs;
pub use response::http_response;
pub use server::{AcceptOptions, Negotiated, RequestParser, UpgradeRequest};

pub use url::WsUrl;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The files of this module import each other without a circle (the
    /// `use super::file` lines form a DAG), so each can be read from its
    /// leaves up.
    #[test]
    fn imports_among_handshake_files_are_acyclic() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/handshake");
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = text
                .lines()
                .filter_map(|l| l.strip_prefix("use super::"))
                .map(|l| l.split([':', ';']).next().unwrap().to_owned())
                .filter(|d| d != "*")
                .collect();
            graph.insert(name, deps);
        }
        assert!(graph.len() > 5 && graph["error"].contains(&"http1".to_owned()));
        // Depth-first search; `stack` holds the path being explored.
        fn visit<'a>(
            node: &'a str,
            graph: &'a BTreeMap<String, Vec<String>>,
            stack: &mut Vec<&'a str>,
            done: &mut Vec<&'a str>,
        ) {
            if done.contains(&node) {
                return;
            }
            assert!(!stack.contains(&node), "import circle: {stack:?} -> {node}");
            stack.push(node);
            for dep in &graph[node] {
                visit(dep, graph, stack, done);
            }
            stack.pop();
            done.push(node);
        }
        let mut done = Vec::new();
        for node in graph.keys() {
            visit(node, &graph, &mut Vec::new(), &mut done);
        }
    }
}
