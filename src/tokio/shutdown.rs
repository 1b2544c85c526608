//! [`ConnectionSet`]'s waiting, as `async fn`s on tokio's clock.

use std::future::poll_fn;
use std::time::Duration;

use super::{ConnectionSet, Tokio};
use crate::adapter::{Runtime, ShutdownReport};

impl ConnectionSet {
    /// Waits until every connection of the set has finished its closing
    /// handshake, at most `timeout`; then cuts the ones left (their tasks
    /// are woken and see the connection lost) and reports how many ended
    /// each way. Call after
    /// [`shutdown`](crate::adapter::ConnectionSet::shutdown).
    pub async fn wait_timeout(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Tokio::now() + timeout;
        let mut rt = Tokio::default();
        poll_fn(|cx| self.poll_wait(cx, &mut rt, deadline)).await
    }

    /// [`wait_timeout`](Self::wait_timeout) with the default close timeout
    /// (10 s).
    pub async fn wait(&self) -> ShutdownReport {
        self.wait_timeout(Self::default_deadline()).await
    }
}
