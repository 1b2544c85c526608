//! What both `ReconnectingClient`s (blocking and tokio) decide between
//! attempts: [`Backoff`] with jitter, and which errors are worth a retry.

use std::time::Duration;

use super::error::Error;

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
    /// invalid URL, `wss://` without the `tls` feature, and a refusal with
    /// a 4xx status (retrying would not help).
    pub(crate) fn after(
        &mut self,
        error: &Error,
        backoff: &Backoff,
        on_retry: &mut Option<RetryHook>,
    ) -> Option<Duration> {
        let permanent = matches!(error, Error::InvalidRequest(_) | Error::TlsUnavailable)
            || error.http_status().is_some_and(|s| (400..500).contains(&s));
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
