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
use crate::CloseCode;
use crate::handshake::Established;
use crate::proxy::ProxyError;

/// Exponential backoff with jitter: the n-th retry waits
/// `min(max, initial × 2ⁿ)`, of which a random part (by default half) is
/// taken off so that many clients dropped at once do not come back in
/// lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// Delay before the first retry. Default 100 ms.
    pub initial: Duration,
    /// Cap on any delay. Default 30 s.
    pub max: Duration,
    /// Give up after this many failed attempts in a row (`None`, the
    /// default: never).
    pub max_attempts: Option<u32>,
    /// Fraction of each delay that is random, from 0 (none) to 1 (full
    /// jitter). Default 0.5.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_attempts: None,
            jitter: 0.5,
        }
    }
}

/// Chaining setters, one per field:
/// `Backoff::default().initial(Duration::from_millis(50)).max_attempts(Some(5))`.
impl Backoff {
    /// Sets [`initial`](field@Self::initial).
    #[must_use]
    pub fn initial(mut self, delay: Duration) -> Self {
        self.initial = delay;
        self
    }

    /// Sets [`max`](field@Self::max).
    #[must_use]
    pub fn max(mut self, delay: Duration) -> Self {
        self.max = delay;
        self
    }

    /// Sets [`max_attempts`](field@Self::max_attempts).
    #[must_use]
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`jitter`](field@Self::jitter) (clamped to 0..=1 when used).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The delay before retry number `retry` (0 for the first), jitter
    /// included.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << retry.min(30))
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * rand::random::<f64>())
    }
}

/// What a [`ReconnectingClient`] does after the server closed the
/// connection with a code: come back soon, come back as after a lost
/// connection, or stop and say why.
///
/// The defaults:
/// - **soon** (a short random delay, up to [`soon_delay`](Self::soon_delay),
///   250 ms by default, so that a rolling restart does not wait a full
///   backoff and the clients of one instance do not come back in
///   lockstep): 1001 Going Away, 1012 Service Restart;
/// - **after a backoff delay**: 1013 Try Again Later, 1011 Internal
///   Error, 1014 Bad Gateway;
/// - **stop** (reconnecting would meet the same answer): 1002 Protocol
///   Error, 1003 Unsupported Data, 1007 Invalid Payload, 1008 Policy,
///   1009 Too Big, 1010 Mandatory Extension, and the application's codes
///   4000–4999 ([`stop_on_app_codes`](Self::stop_on_app_codes));
/// - at once, as after a lost connection: any other code (1000 included:
///   the client asked to stay connected).
///
/// Change it with [`ReconnectingClient::policy`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    soon: Vec<CloseCode>,
    later: Vec<CloseCode>,
    stop: Vec<CloseCode>,
    stop_on_app_codes: bool,
    soon_delay: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            soon: vec![CloseCode::GOING_AWAY, CloseCode::SERVICE_RESTART],
            later: vec![
                CloseCode::TRY_AGAIN_LATER,
                CloseCode::INTERNAL_ERROR,
                CloseCode::BAD_GATEWAY,
            ],
            stop: [1002, 1003, 1007, 1008, 1009, 1010]
                .into_iter()
                .map(CloseCode::new)
                .collect(),
            stop_on_app_codes: true,
            soon_delay: Duration::from_millis(250),
        }
    }
}

/// What to do after the server's Close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterClose {
    /// Reconnect after this delay.
    Reconnect(Duration),
    /// Do not reconnect.
    Stop,
}

impl ReconnectPolicy {
    /// Comes back soon after `code` (and no longer stops or waits for it).
    #[must_use]
    pub fn soon(mut self, code: impl Into<CloseCode>) -> Self {
        let code = code.into();
        self.forget(code);
        self.soon.push(code);
        self
    }

    /// Comes back after a backoff delay after `code`.
    #[must_use]
    pub fn later(mut self, code: impl Into<CloseCode>) -> Self {
        let code = code.into();
        self.forget(code);
        self.later.push(code);
        self
    }

    /// Stops reconnecting after `code`.
    #[must_use]
    pub fn stop(mut self, code: impl Into<CloseCode>) -> Self {
        let code = code.into();
        self.forget(code);
        self.stop.push(code);
        self
    }

    /// Reconnects at once after `code`, as after a lost connection.
    #[must_use]
    pub fn reconnect(mut self, code: impl Into<CloseCode>) -> Self {
        self.forget(code.into());
        self
    }

    /// Whether the application's codes (4000–4999) stop reconnecting unless
    /// named otherwise (default `true`).
    #[must_use]
    pub fn stop_on_app_codes(mut self, stop: bool) -> Self {
        self.stop_on_app_codes = stop;
        self
    }

    /// The longest of the random delays before coming back "soon".
    #[must_use]
    pub fn soon_delay(mut self, delay: Duration) -> Self {
        self.soon_delay = delay;
        self
    }

    fn forget(&mut self, code: CloseCode) {
        for list in [&mut self.soon, &mut self.later, &mut self.stop] {
            list.retain(|c| *c != code);
        }
    }

    /// What to do after a Close with `code`.
    pub(crate) fn after(&self, code: CloseCode, backoff: &Backoff) -> AfterClose {
        if self.soon.contains(&code) {
            AfterClose::Reconnect(self.soon_delay.mul_f64(rand::random::<f64>()))
        } else if self.later.contains(&code) {
            AfterClose::Reconnect(backoff.delay(0))
        } else if self.stop.contains(&code)
            || (self.stop_on_app_codes && (4000..=4999).contains(&code.as_u16()))
        {
            AfterClose::Stop
        } else {
            AfterClose::Reconnect(Duration::ZERO)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_setters_chain_and_delays_stay_within_bounds() {
        let ms = Duration::from_millis;
        let backoff = Backoff::default()
            .initial(ms(50))
            .max(ms(300))
            .max_attempts(Some(3))
            .jitter(0.0);
        assert_eq!(
            (backoff.initial, backoff.max, backoff.max_attempts),
            (ms(50), ms(300), Some(3))
        );
        assert_eq!(backoff.delay(0), ms(50));
        assert_eq!(backoff.delay(2), ms(200));
        assert_eq!(backoff.delay(9), ms(300));
        let jittered = backoff.jitter(0.5);
        for _ in 0..100 {
            let d = jittered.delay(1);
            assert!(d >= ms(50) && d <= ms(100), "{d:?}");
        }
    }

    #[test]
    fn the_policy_sorts_close_codes_and_can_be_changed() {
        let backoff = Backoff::default().jitter(0.0);
        let policy = ReconnectPolicy::default();
        let code = CloseCode::new;
        for soon in [1001, 1012] {
            match policy.after(code(soon), &backoff) {
                AfterClose::Reconnect(d) => assert!(d <= Duration::from_millis(250), "{soon}"),
                other => panic!("{soon}: {other:?}"),
            }
        }
        assert_eq!(
            policy.after(code(1013), &backoff),
            AfterClose::Reconnect(backoff.initial)
        );
        for stop in [1002, 1003, 1007, 1008, 1009, 1010, 4000, 4999] {
            assert_eq!(
                policy.after(code(stop), &backoff),
                AfterClose::Stop,
                "{stop}"
            );
        }
        for now in [1000, 1006, 3000, 5000] {
            assert_eq!(
                policy.after(code(now), &backoff),
                AfterClose::Reconnect(Duration::ZERO),
                "{now}"
            );
        }
        let changed = policy.reconnect(4001).stop(1000).stop_on_app_codes(false);
        assert_eq!(changed.after(code(1000), &backoff), AfterClose::Stop);
        assert_eq!(
            changed.after(code(4001), &backoff),
            AfterClose::Reconnect(Duration::ZERO)
        );
        assert_eq!(
            changed.after(code(4002), &backoff),
            AfterClose::Reconnect(Duration::ZERO)
        );
    }
}
