//! Time as the core sees it: a point on whatever clock the driver has.
//!
//! The core never reads a clock; every deadline is an instant the driver
//! passed in plus a [`Duration`] from the [`Config`](crate::Config). So
//! all it needs of a time type is to be copied, ordered and moved forward:
//! [`Moment`]. With `std` (the default) that is `std::time::Instant`, and
//! nothing changes for a std driver: `Connection` means
//! `Connection<std::time::Instant>`. The tokio adapter converts
//! `tokio::time::Instant` (`into_std`). Without `std`, an embedded loop
//! uses [`Duration`] since boot (a millisecond tick counter is
//! `Duration::from_millis(ticks)`), or implements `Moment` for its own
//! type (a newtype around embassy's `Instant`).

use core::fmt::Debug;
use core::time::Duration;

/// A point in time on the driver's clock, monotonic (it never goes back).
pub trait Moment: Copy + Ord + Debug {
    /// The moment `duration` later, or `None` when it cannot be
    /// represented (a deadline that is never reached).
    fn checked_add(self, duration: Duration) -> Option<Self>;
}

#[cfg(feature = "std")]
impl Moment for std::time::Instant {
    fn checked_add(self, duration: Duration) -> Option<Self> {
        std::time::Instant::checked_add(&self, duration)
    }
}

/// Time since an epoch of the driver's choosing (boot, the first tick).
impl Moment for Duration {
    fn checked_add(self, duration: Duration) -> Option<Self> {
        Duration::checked_add(self, duration)
    }
}

/// The clock `Connection` uses when none is named: `std::time::Instant`.
#[cfg(feature = "std")]
pub type DefaultMoment = std::time::Instant;

/// The clock `Connection` uses when none is named. Without `std` there is
/// no default: name yours, as in `Connection<Duration>`. This type has no
/// values, so a `Connection` that names no clock cannot be made.
#[cfg(not(feature = "std"))]
pub type DefaultMoment = NoClock;

/// No clock: the default of `Connection`'s clock parameter without `std`,
/// which cannot be used (this type has no values).
#[cfg(not(feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoClock {}

#[cfg(not(feature = "std"))]
impl Moment for NoClock {
    fn checked_add(self, _: Duration) -> Option<Self> {
        match self {}
    }
}
