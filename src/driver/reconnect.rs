//! What both `ReconnectingClient`s (blocking and tokio) decide between
//! attempts: [`Backoff`] with jitter, and which errors are worth a retry.

use std::time::Duration;

use super::error::Error;
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

impl Backoff {
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

/// What the `on_retry` hook of a `ReconnectingClient` is told: the
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

/// A `ReconnectingClient` (with the docs given) over the caller's
/// `ClientBuilder` and `Ws` (the connection type), its `Debug`, and what
/// does not wait: the private constructor `with_hook` and the setters and
/// getters. Written once for the blocking and the tokio client, which
/// connect, receive and send in an `impl` of their own.
macro_rules! reconnecting_client {
    ($(#[$doc:meta])* pub struct ReconnectingClient<F>;) => {
        $(#[$doc])*
        pub struct ReconnectingClient<F> {
            builder: ClientBuilder,
            backoff: $crate::driver::reconnect::Backoff,
            on_connect: F,
            on_retry: Option<$crate::driver::reconnect::RetryHook>,
            ws: Option<Ws>,
            connects: u64,
            closing: bool,
        }

        impl<F> std::fmt::Debug for ReconnectingClient<F> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("ReconnectingClient")
                    .field("url", &self.builder.url())
                    .field("backoff", &self.backoff)
                    .field("connected", &self.ws.is_some())
                    .field("connects", &self.connects)
                    .finish_non_exhaustive()
            }
        }

        impl<F> ReconnectingClient<F> {
            fn with_hook(builder: ClientBuilder, on_connect: F) -> Self {
                ReconnectingClient {
                    builder,
                    backoff: $crate::driver::reconnect::Backoff::default(),
                    on_connect,
                    on_retry: None,
                    ws: None,
                    connects: 0,
                    closing: false,
                }
            }

            /// The backoff between attempts.
            pub fn backoff(mut self, backoff: $crate::driver::reconnect::Backoff) -> Self {
                self.backoff = backoff;
                self
            }

            /// Pings after `interval` of silence from the server and drops the
            /// connection (then reconnects) when it stays silent `timeout` longer.
            pub fn heartbeat(
                mut self,
                interval: std::time::Duration,
                timeout: std::time::Duration,
            ) -> Self {
                let config = self.builder.config_mut();
                config.ping_interval = Some(interval);
                config.pong_timeout = timeout;
                self
            }

            /// Called before each wait between attempts with the attempt number
            /// (from 1), its error and the delay: for logging and metrics.
            pub fn on_retry(
                mut self,
                hook: impl FnMut(u32, &Error, std::time::Duration) + Send + 'static,
            ) -> Self {
                self.on_retry = Some(Box::new(hook));
                self
            }

            /// How many connections have been established (the first included).
            pub fn connects(&self) -> u64 {
                self.connects
            }

            /// The current connection, if any.
            pub fn get_ref(&self) -> Option<&Ws> {
                self.ws.as_ref()
            }

            /// The current connection, or the end of the last one.
            fn current(&mut self) -> Result<&mut Ws, Error> {
                self.ws.as_mut().ok_or(Error::ConnectionClosed)
            }

            /// Passes on the result of an operation on the current
            /// connection, dropping the connection when it failed for good
            /// (the next call reconnects).
            fn unless_fatal<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
                if result.as_ref().is_err_and(Error::is_fatal) {
                    self.ws = None;
                }
                result
            }
        }
    };
}
pub(crate) use reconnecting_client;
