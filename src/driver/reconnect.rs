//! Reconnecting, once for every adapter: [`Backoff`] with jitter, which
//! errors are worth a retry, and the [`ReconnectingClient`] that connects,
//! retries and runs its hook; the adapters only sleep and say how the
//! hook is called.

use std::future::poll_fn;
use std::time::{Duration, Instant};

use super::client::ClientBuilder;
use super::error::Error;
use super::recv::Received;
use super::runtime::Connect;
use super::socket::WebSocket;
use crate::backoff::AfterClose;
pub use crate::backoff::{Backoff, ReconnectPolicy};
use crate::handshake::Established;
use crate::proxy::ProxyError;

/// What the `on_retry` hook of a [`ReconnectingClient`] is told: the
/// attempt number (from 1), its error and the delay.
pub(crate) type RetryHook = Box<dyn FnMut(u32, &Error, Duration) + Send>;

/// The retry decisions of a `ReconnectingClient` (blocking or tokio)
/// between failed attempts of one (re)connection; the adapter only
/// sleeps.
#[derive(Debug)]
pub(crate) struct Retries {
    failures: u32,
}

impl Retries {
    pub(crate) fn new() -> Self {
        Retries { failures: 0 }
    }

    /// After a failed attempt: how long to wait before the next one, the
    /// hook told; `None` to give up and return `error`. Not retried: an
    /// invalid URL (a proxy's too), `wss://` without the `tls` feature, a
    /// refusal with a 4xx status (a proxy's 407 or 403 included), and a
    /// SOCKS5 proxy refusing our credentials or methods (retrying would
    /// not help).
    pub(crate) fn after(
        &mut self,
        error: &Error,
        backoff: &Backoff,
        on_retry: &mut Option<RetryHook>,
    ) -> Option<Duration> {
        let permanent = matches!(
            error,
            Error::InvalidRequest(_)
                | Error::TlsUnavailable
                | Error::Proxy(
                    ProxyError::InvalidUrl(_)
                        | ProxyError::InvalidTarget(_)
                        | ProxyError::Socks5AuthFailed
                        | ProxyError::Socks5NoAcceptableMethod { .. }
                )
        ) || error.http_status().is_some_and(|s| (400..500).contains(&s));
        self.failures += 1;
        if permanent || backoff.max_attempts.is_some_and(|m| self.failures >= m) {
            return None;
        }
        let delay = backoff.delay(self.failures - 1);
        if let Some(hook) = on_retry {
            hook(self.failures, error, delay);
        }
        Some(delay)
    }
}

/// How an adapter calls the `on_connect` hook of a [`ReconnectingClient`]
/// (a closure in one, an async closure in the other).
pub(crate) trait OnConnect<S, R> {
    async fn call(&mut self, ws: &mut WebSocket<S, R>, response: &Established)
    -> Result<(), Error>;
}

/// A client that reconnects by itself, for every adapter: after a drop it
/// reconnects with [`Backoff`] and runs the `on_connect` hook on the new
/// connection before going on — the place to send an authentication
/// message or resubscribe. The hook runs on the first connection too.
/// Keepalive comes from the builder's
/// [`Config::ping_interval`](crate::Config::ping_interval), or
/// [`heartbeat`](Self::heartbeat).
///
/// Name it through an adapter, `wsproto::blocking::ReconnectingClient` or
/// `wsproto::tokio::ReconnectingClient`, which adds `recv`, `send`,
/// `connect` and `close` (blocking, or `async`; the tokio hook is an async
/// closure).
///
/// Not retried: an invalid URL, `wss://` without the `tls` feature, and a
/// server refusal with a 4xx status (wrong path or credentials: retrying
/// would not help). A send on a dropped connection returns the error (the
/// message is not resent); the next call reconnects.
pub struct ReconnectingClient<S, R, F> {
    builder: ClientBuilder<R>,
    backoff: Backoff,
    policy: ReconnectPolicy,
    /// The delay before the next connection's first attempt, set by the
    /// last connection's end.
    pause: Duration,
    on_connect: F,
    on_retry: Option<RetryHook>,
    ws: Option<WebSocket<S, R>>,
    connects: u64,
    closing: bool,
}

impl<S, R, F> std::fmt::Debug for ReconnectingClient<S, R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectingClient")
            .field("url", &self.builder.url())
            .field("backoff", &self.backoff)
            .field("connected", &self.ws.is_some())
            .field("connects", &self.connects)
            .finish_non_exhaustive()
    }
}

impl<S, R, F> ReconnectingClient<S, R, F> {
    /// A client for the builder's URL and settings (the adapters' `new`,
    /// whose bound on `F` lets a closure's argument types be inferred).
    pub(crate) fn with_hook(builder: ClientBuilder<R>, on_connect: F) -> Self {
        ReconnectingClient {
            builder,
            backoff: Backoff::default(),
            policy: ReconnectPolicy::default(),
            pause: Duration::ZERO,
            on_connect,
            on_retry: None,
            ws: None,
            connects: 0,
            closing: false,
        }
    }

    /// The backoff between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// What to do after the server closes with a given code (see
    /// [`ReconnectPolicy`] for the defaults).
    pub fn policy(mut self, policy: ReconnectPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Pings after `interval` of silence from the server and drops the
    /// connection (then reconnects) when it stays silent `timeout` longer.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        let config = self.builder.config_mut();
        config.ping_interval = Some(interval);
        config.pong_timeout = timeout;
        self
    }

    /// Called before each wait between attempts with the attempt number
    /// (from 1), its error and the delay: for logging and metrics.
    pub fn on_retry(mut self, hook: impl FnMut(u32, &Error, Duration) + Send + 'static) -> Self {
        self.on_retry = Some(Box::new(hook));
        self
    }

    /// How many connections have been established (the first included).
    pub fn connects(&self) -> u64 {
        self.connects
    }

    /// The current connection, if any.
    pub fn get_ref(&self) -> Option<&WebSocket<S, R>> {
        self.ws.as_ref()
    }

    /// The current connection, if any, without connecting.
    pub(crate) fn current(&mut self) -> Option<&mut WebSocket<S, R>> {
        self.ws.as_mut()
    }

    /// Marks the client as closing for good: no more reconnecting.
    pub(crate) fn start_closing(&mut self) -> Option<&mut WebSocket<S, R>> {
        self.closing = true;
        self.ws.as_mut()
    }
}

// Crate-internal methods only: the bounds name the driver's own traits.
#[allow(private_bounds)]
impl<S, R: Connect<Stream = S>, F> ReconnectingClient<S, R, F> {
    /// Passes on the result of an operation on the current connection,
    /// dropping the connection when it failed for good (the next call
    /// reconnects).
    pub(crate) fn unless_fatal<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if result.as_ref().is_err_and(Error::is_fatal) {
            self.ws = None;
        }
        result
    }

    /// The current connection, connecting first (retrying with the
    /// backoff, then running the hook) unless connected.
    pub(crate) async fn connect_on(&mut self) -> Result<&mut WebSocket<S, R>, Error>
    where
        F: OnConnect<S, R>,
    {
        if self.ws.is_none() {
            let mut retries = Retries::new();
            let pause = std::mem::take(&mut self.pause);
            if !pause.is_zero() {
                R::sleep(pause).await;
            }
            loop {
                let error = match self.builder.connect_on().await {
                    Ok((mut ws, response)) => {
                        match self.on_connect.call(&mut ws, &response).await {
                            Ok(()) => {
                                self.connects += 1;
                                self.ws = Some(ws);
                                break;
                            }
                            Err(e) => e,
                        }
                    }
                    Err(e) => e,
                };
                match retries.after(&error, &self.backoff, &mut self.on_retry) {
                    Some(delay) => R::sleep(delay).await,
                    None => return Err(error),
                }
            }
        }
        self.ws.as_mut().ok_or(Error::ConnectionClosed)
    }

    /// The next message, reconnecting as often as needed; after `close`,
    /// the end of that connection instead. `until` bounds the wait
    /// ([`Received::Idle`]).
    pub(crate) async fn recv_on(&mut self, until: Option<Instant>) -> Received
    where
        F: OnConnect<S, R>,
    {
        loop {
            if self.closing {
                return match self.ws.as_mut() {
                    Some(ws) => poll_fn(|cx| ws.poll_next(cx, until)).await,
                    None => Received::Ended {
                        error: Error::ConnectionClosed,
                        first: false,
                    },
                };
            }
            let ws = match self.connect_on().await {
                Ok(ws) => ws,
                Err(error) => return Received::Failed(error),
            };
            match poll_fn(|cx| ws.poll_next(cx, until)).await {
                Received::Ended {
                    error: Error::ConnectionClosed,
                    ..
                } => {
                    // The server closed: its code says whether to come back.
                    let frame = ws.connection().close_frame().cloned();
                    self.ws = None;
                    let Some(frame) = frame else { continue };
                    match self.policy.after(frame.code, &self.backoff) {
                        AfterClose::Reconnect(pause) => self.pause = pause,
                        AfterClose::Stop => {
                            self.closing = true;
                            return Received::Failed(Error::ServerClosed(frame));
                        }
                    }
                }
                Received::Ended { .. } | Received::Failed(_) => self.ws = None,
                other => return other,
            }
        }
    }
}
