//! [`WebSocket`]: one connection over an async stream.

use crate::Connection;

/// A WebSocket connection over a tokio stream `S` (placeholder while the
/// adapter is written).
#[derive(Debug)]
pub struct WebSocket<S> {
    #[allow(dead_code)]
    stream: S,
    #[allow(dead_code)]
    conn: Connection,
}
