//! An axum extractor (feature `axum`): [`WebSocketUpgrade`], with the
//! feel of `axum::extract::ws::WebSocketUpgrade`, handing out the tokio
//! adapter's [`WebSocket`](crate::tokio::WebSocket) — permessage-deflate,
//! keepalive, limits, cancel-safe `recv`, and no heap held while a socket
//! waits.
//!
//! Moving from axum's own WebSockets is changing an import:
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::any};
//! use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["chat"]).on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         if message.is_data() && socket.send(message).await.is_err() {
//!             return; // the client left
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! // `any`: HTTP/1.1 asks with GET, HTTP/2 with CONNECT (RFC 8441).
//! let app = Router::new().route("/ws", any(handler));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! **Both request shapes** are accepted: the HTTP/1.1 `GET` with
//! `Upgrade: websocket` (answered `101`), and the RFC 8441 extended
//! `CONNECT` with `:protocol = websocket` that browsers send over HTTP/2
//! once the server advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL` (answered
//! `200`) with this crate's `http2` feature; `axum::serve` advertises it
//! when axum's `http2` feature is on.
//! Route with `any(..)` (or `get(..).connect(..)`) to receive both.
//!
//! Every check of the core applies to both: the version (426), the
//! [`origin_policy`](WebSocketUpgrade::origin_policy) (403), malformed
//! subprotocol or extension offers (400), the header caps of the
//! config's [`HandshakeLimits`] (431, checked in `on_upgrade`, once the
//! handler has chosen its config). A refusal is the extractor's rejection
//! (or `on_upgrade`'s response): the same status and body as the other
//! adapters send.

mod io;

use std::future::Future;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, Version};

use crate::driver::Setup;
use crate::handshake::{
    AcceptOptions, HandshakeError, OriginPolicy, RequestParser, UpgradeRequest,
};
use crate::{Config, HandshakeLimits};

pub use crate::Message;
pub use crate::tokio::Error;
pub use io::UpgradedIo;

/// The socket an upgrade hands to its callback: the tokio adapter's
/// [`WebSocket`](crate::tokio::WebSocket) over the connection hyper gave
/// up.
pub type WebSocket = crate::tokio::WebSocket<UpgradedIo>;

/// The extractor of a WebSocket upgrade request, either shape (see the
/// [module](self)). Choose a subprotocol, limits, keepalive, an origin
/// policy and permessage-deflate, then answer with
/// [`on_upgrade`](Self::on_upgrade).
///
/// A request that is not a valid upgrade is rejected with
/// [`WebSocketUpgradeRejection`] (the status the core gives it).
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    request: UpgradeRequest,
    version: Version,
    on_upgrade: hyper::upgrade::OnUpgrade,
    protocol: Option<String>,
    setup: Setup,
    origin: Option<OriginPolicy>,
    set: Option<crate::tokio::ConnectionSet>,
    budget: Option<crate::adapter::MemoryBudget>,
    on_failed_upgrade: F,
}

impl<F> std::fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .field("setup", &self.setup)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The request: path, query, headers, `Origin`, the subprotocols and
    /// extensions offered, and [`is_extended_connect`](UpgradeRequest::is_extended_connect).
    pub fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// The HTTP version the request came over (`HTTP_2` for an extended
    /// CONNECT).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.request.protocols().iter().map(String::as_str)
    }

    /// Chooses the first of `protocols` (the server's order of
    /// preference) that the client offered; none if it offered none of
    /// them. As axum's `protocols`.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<std::borrow::Cow<'static, str>>,
    {
        let offered = self.request.protocols();
        self.protocol = protocols
            .into_iter()
            .map(Into::into)
            .find(|p| offered.iter().any(|o| o == p.as_ref()))
            .map(|p| p.into_owned());
        self
    }

    /// The chosen subprotocol, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's limits, timeouts, keepalive and (feature
    /// `deflate`) permessage-deflate preferences; default
    /// [`Config::default`].
    pub fn config(mut self, config: Config) -> Self {
        self.setup.config = config;
        self
    }

    /// Caps on the request's headers, checked in
    /// [`on_upgrade`](Self::on_upgrade) (431 beyond them).
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.setup.limits = limits;
        self
    }

    /// Bounds each write that makes no progress (default 30 s; see
    /// [`set_write_timeout`](crate::adapter::WebSocket::set_write_timeout)).
    pub fn write_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.setup.write_timeout = timeout;
        self
    }

    /// Refuses requests whose `Origin` the policy does not allow, with
    /// 403 (checked in [`on_upgrade`](Self::on_upgrade)), against
    /// cross-site WebSocket hijacking. Browsers always send `Origin`.
    pub fn origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.origin = Some(policy);
        self
    }

    /// Agrees to permessage-deflate (RFC 7692) when the client offers it,
    /// with these preferences.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::deflate::DeflateConfig) -> Self {
        self.setup.deflate = Some(deflate);
        self
    }

    /// The socket joins `set` once upgraded, and leaves it when its closing
    /// handshake is over: a [`shutdown`](crate::adapter::ConnectionSet::shutdown)
    /// closes every socket of the set with 1001 (axum's own
    /// `with_graceful_shutdown` does not reach upgraded connections).
    /// While the set is shutting down, `on_upgrade` answers `503 Service
    /// Unavailable` with `Retry-After: 1`.
    ///
    /// ```no_run
    /// use axum::{Router, extract::State, response::Response, routing::any};
    /// use wsproto::axum::{WebSocket, WebSocketUpgrade};
    /// use wsproto::tokio::ConnectionSet;
    ///
    /// async fn handler(ws: WebSocketUpgrade, State(set): State<ConnectionSet>) -> Response {
    ///     ws.connection_set(&set).on_upgrade(|mut socket: WebSocket| async move {
    ///         while let Some(Ok(message)) = socket.recv().await {
    ///             let _ = socket.send(message).await;
    ///         }
    ///     })
    /// }
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let set = ConnectionSet::new();
    /// let app = Router::new().route("/ws", any(handler)).with_state(set.clone());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// let stopping = set.clone();
    /// axum::serve(listener, app)
    ///     .with_graceful_shutdown(async move {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///         stopping.shutdown(); // 1001 to every socket
    ///     })
    ///     .await?;
    /// let report = set.wait().await; // their closing handshakes
    /// eprintln!("{} closed, {} cut", report.closed, report.cut);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connection_set(mut self, set: &crate::tokio::ConnectionSet) -> Self {
        self.set = Some(set.clone());
        self
    }

    /// Counts what the socket holds of unfinished messages against
    /// `budget`, shared by the whole server (see
    /// [`MemoryBudget`](crate::adapter::MemoryBudget)).
    pub fn memory_budget(mut self, budget: &crate::adapter::MemoryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// A received message must end this long after it began, or the socket
    /// is closed with 1008 (default 60 s; `None` waits as long as it
    /// takes); a `Config::message_timeout` takes precedence.
    pub fn message_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.setup.message_timeout = timeout;
        self
    }

    /// What to do when hyper fails to hand over the connection after the
    /// response went out (the client left first); by default nothing.
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            request: self.request,
            version: self.version,
            on_upgrade: self.on_upgrade,
            protocol: self.protocol,
            setup: self.setup,
            origin: self.origin,
            set: self.set,
            budget: self.budget,
            on_failed_upgrade: callback,
        }
    }

    /// Answers the request and runs `callback` with the socket in a task
    /// of its own once hyper has handed the connection over: the `101`
    /// (HTTP/1.1) or `200` (HTTP/2) response to return from the handler.
    ///
    /// Headers beyond the config's [`HandshakeLimits`] are answered 431
    /// here, a refused `Origin` 403, and `callback` never runs; an option
    /// the handshake cannot send is answered 500.
    #[must_use = "to set up the WebSocket connection, this response must be returned"]
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        // The caps of the connection's config (the request was read
        // without any: the handler chooses the config after extraction).
        if let Err(error) = self.request.check_limits(&self.setup.limits) {
            return into_axum(error.to_http_response(self.version));
        }
        if let Some(policy) = &self.origin {
            if policy.check(&self.request).is_err() {
                return into_axum(policy.refusal_http_response(self.version));
            }
        }
        // The place in the set is taken before the response goes out: a
        // shutdown either refuses this upgrade or finds it in the set.
        let member = match self.set.as_ref().map(|set| set.admit()) {
            Some(None) => return shutting_down(),
            Some(Some(admission)) => Some(admission),
            None => None,
        };
        let mut options = AcceptOptions::new();
        if let Some(p) = &self.protocol {
            options = options.protocol(p.clone());
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.setup.deflate {
            options = options.deflate(deflate);
        }
        let (response, negotiated) = match self.request.accept_http(options) {
            Ok(accepted) => accepted,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
        let (setup, on_upgrade, on_failed, budget) = (
            self.setup,
            self.on_upgrade,
            self.on_failed_upgrade,
            self.budget,
        );
        tokio::spawn(async move {
            let io = match on_upgrade.await {
                Ok(upgraded) => UpgradedIo::new(upgraded),
                Err(error) => return on_failed.call(error),
            };
            // hyper serves what it read past the request from `Upgraded`.
            let config = setup.connection_config();
            let mut socket = WebSocket::from_negotiated(io, config, &negotiated, &[]);
            socket.set_write_timeout(setup.write_timeout);
            if let Some(admission) = member {
                socket.join_set(admission);
            }
            if let Some(budget) = &budget {
                socket.join_budget(budget);
            }
            callback(socket).await;
        });
        response.map(|()| Body::empty())
    }
}

/// The `:protocol` of an HTTP/2 extended CONNECT (RFC 8441), which hyper
/// keeps in the request's extensions (feature `http2`).
#[cfg(feature = "http2")]
fn extended_connect_protocol(parts: &Parts) -> Option<&str> {
    parts
        .extensions
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str())
}

/// Without `http2` no request comes over HTTP/2, so none has a
/// `:protocol`.
#[cfg(not(feature = "http2"))]
fn extended_connect_protocol(_parts: &Parts) -> Option<&str> {
    None
}

/// `503 Service Unavailable` with `Retry-After: 1`: the server's set is
/// shutting down.
fn shutting_down() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "1")],
        "503 the server is shutting down\n",
    )
        .into_response()
}

fn into_axum(response: http::Response<Vec<u8>>) -> Response {
    response.map(Body::from)
}

/// What to do when the connection cannot be taken over after the
/// response; see [`WebSocketUpgrade::on_failed_upgrade`].
pub trait OnFailedUpgrade: Send + 'static {
    /// Called with hyper's error.
    fn call(self, error: hyper::Error);
}

impl<F: FnOnce(hyper::Error) + Send + 'static> OnFailedUpgrade for F {
    fn call(self, error: hyper::Error) {
        self(error)
    }
}

/// The default [`OnFailedUpgrade`]: ignores the error.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    fn call(self, _error: hyper::Error) {}
}

/// Why a request is not a WebSocket upgrade that can be taken: answered
/// with the core's status, headers and body for the request's version.
#[derive(Debug)]
pub struct WebSocketUpgradeRejection {
    kind: RejectionKind,
    version: Version,
}

#[derive(Debug)]
enum RejectionKind {
    /// The core refused the request.
    Handshake(HandshakeError),
    /// A valid request on a connection hyper cannot give up (no
    /// `OnUpgrade` in its extensions: not served by hyper, or tested
    /// with `oneshot`).
    NotUpgradable,
}

impl WebSocketUpgradeRejection {
    /// The core's error, unless the request was valid but its connection
    /// cannot be upgraded.
    pub fn handshake_error(&self) -> Option<&HandshakeError> {
        match &self.kind {
            RejectionKind::Handshake(e) => Some(e),
            RejectionKind::NotUpgradable => None,
        }
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            RejectionKind::Handshake(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            RejectionKind::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
        }
    }
}

impl std::fmt::Display for WebSocketUpgradeRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RejectionKind::Handshake(e) => e.fmt(f),
            RejectionKind::NotUpgradable => f.write_str("connection cannot be upgraded"),
        }
    }
}

impl std::error::Error for WebSocketUpgradeRejection {}

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        match &self.kind {
            RejectionKind::Handshake(e) => into_axum(e.to_http_response(self.version)),
            RejectionKind::NotUpgradable => {
                (self.status(), "connection cannot be upgraded\n").into_response()
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let version = parts.version;
        let reject = |kind| WebSocketUpgradeRejection { kind, version };
        let protocol = extended_connect_protocol(parts);
        // No caps here: `on_upgrade` applies those of the handler's
        // config (hyper has capped the head already).
        let unlimited = HandshakeLimits::default()
            .max_head_size(usize::MAX)
            .max_headers(usize::MAX)
            .max_line_length(usize::MAX);
        let request = RequestParser::new(unlimited)
            .parse_http(parts, protocol)
            .map_err(|e| reject(RejectionKind::Handshake(e)))?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(|| reject(RejectionKind::NotUpgradable))?;
        Ok(WebSocketUpgrade {
            request,
            version,
            on_upgrade,
            protocol: None,
            setup: Setup {
                message_timeout: Some(crate::driver::SERVER_MESSAGE_TIMEOUT),
                ..Setup::default()
            },
            origin: None,
            set: None,
            budget: None,
            on_failed_upgrade: DefaultOnFailedUpgrade,
        })
    }
}

/// `Option<WebSocketUpgrade>`: `None` for a request that does not ask for
/// a WebSocket at all (no `Upgrade: websocket`, no `:protocol`), so one
/// route can serve a page and its socket; an invalid upgrade request is
/// still rejected with its status.
impl<S: Send + Sync> OptionalFromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Self as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(upgrade) => Ok(Some(upgrade)),
            Err(WebSocketUpgradeRejection {
                kind: RejectionKind::Handshake(HandshakeError::NotWebSocket(_)),
                ..
            }) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}
