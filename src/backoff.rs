//! Reconnecting's decisions that need no I/O, shared by every adapter
//! that reconnects (blocking, tokio, the browser's): [`Backoff`] with
//! jitter and the [`ReconnectPolicy`] that sorts the server's close codes.
//! A leaf of the core: no clock, no I/O, and its randomness passed in
//! (`delay_with`; `rand` supplies it with `std`), so that an adapter
//! without `rand` (the browser: `Math.random()`) uses the same rules.
//! Named through an adapter (`wsproto::adapter::Backoff`,
//! `wsproto::tokio::Backoff`, …).

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use crate::CloseCode;

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
    /// included (from `rand`; feature `std`).
    #[cfg(feature = "std")]
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, rand::random::<f64>())
    }

    /// The delay before retry number `retry` (0 for the first), with the
    /// random number in `0.0..1.0` given: `unit` 0 takes no jitter off,
    /// near 1 all of it. For a source of randomness of one's own (the
    /// browser's `Math.random()` in [`wasm`](crate::wasm), a seeded
    /// generator in a test); deterministic.
    pub fn delay_with(&self, retry: u32, unit: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << retry.min(30))
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * unit.clamp(0.0, 1.0))
    }
}

/// What a [`ReconnectingClient`](crate::adapter::ReconnectingClient) does after the server closed the
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
/// Change it with [`ReconnectingClient::policy`](crate::adapter::ReconnectingClient::policy).
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

    /// What to do after a Close with `code` (random delays from `rand`).
    #[cfg(feature = "std")]
    pub(crate) fn after(&self, code: CloseCode, backoff: &Backoff) -> AfterClose {
        self.after_with(code, backoff, rand::random::<f64>())
    }

    /// What to do after a Close with `code`, with the random number in
    /// `0.0..1.0` that picks the delay given.
    pub(crate) fn after_with(&self, code: CloseCode, backoff: &Backoff, unit: f64) -> AfterClose {
        if self.soon.contains(&code) {
            AfterClose::Reconnect(self.soon_delay.mul_f64(unit.clamp(0.0, 1.0)))
        } else if self.later.contains(&code) {
            AfterClose::Reconnect(backoff.delay_with(0, unit))
        } else if self.stop.contains(&code)
            || (self.stop_on_app_codes && (4000..=4999).contains(&code.as_u16()))
        {
            AfterClose::Stop
        } else {
            AfterClose::Reconnect(Duration::ZERO)
        }
    }
}

#[cfg(all(test, feature = "std"))]
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
        assert_eq!(backoff.jitter(0.5).delay_with(1, 0.0), ms(100));
        assert_eq!(backoff.jitter(0.5).delay_with(1, 1.0), ms(50));
        assert_eq!(backoff.jitter(1.0).delay_with(0, 0.5), ms(25));
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
