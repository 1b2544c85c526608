//! [`ConnectionSet`]'s waiting, on this thread.

use std::time::{Duration, Instant};

use super::ConnectionSet;
use crate::adapter::ShutdownReport;

impl ConnectionSet {
    /// Waits until every connection of the set has finished its closing
    /// handshake, at most `timeout`; then cuts the ones left (their
    /// threads see the connection lost within a fraction of a second) and
    /// reports how many ended each way. Call after
    /// [`shutdown`](crate::adapter::ConnectionSet::shutdown).
    pub fn wait_timeout(&self, timeout: Duration) -> ShutdownReport {
        self.wait_blocking(Instant::now() + timeout)
    }

    /// [`wait_timeout`](Self::wait_timeout) with the default close timeout
    /// (10 s).
    pub fn wait(&self) -> ShutdownReport {
        self.wait_timeout(Self::default_deadline())
    }
}
