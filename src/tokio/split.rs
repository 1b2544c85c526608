//! Split halves (placeholder).

/// The reading half.
#[derive(Debug)]
pub struct WebSocketReader<S>(S);
/// The writing half.
#[derive(Debug)]
pub struct WebSocketWriter<S>(S);
