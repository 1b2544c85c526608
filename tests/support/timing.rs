//! How long a timeout took: not before it was due, and not much after
//! (the bounds are generous, for a loaded 2-core machine running debug
//! builds).

use std::time::{Duration, Instant};

/// Asserts that `elapsed` lies in `at_least..at_most`.
#[track_caller]
pub fn assert_between(elapsed: Duration, at_least: Duration, at_most: Duration) {
    assert!(elapsed >= at_least, "fired early: {elapsed:?}");
    assert!(elapsed < at_most, "fired late: {elapsed:?}");
}

/// Asserts that a timeout of `timeout` fired `elapsed` after it was set:
/// not early, and within ten times the timeout.
#[track_caller]
pub fn assert_timed(elapsed: Duration, timeout: Duration) {
    assert_between(elapsed, timeout, timeout * 10);
}

/// Asserts `elapsed < limit`, prints the figure (`--nocapture`) and
/// returns it.
#[track_caller]
pub fn within(what: &str, started: Instant, limit: Duration) -> Duration {
    let elapsed = started.elapsed();
    println!("{what}: {elapsed:?}");
    assert!(elapsed < limit, "{what} took {elapsed:?} (limit {limit:?})");
    elapsed
}
