//! The tokio adapter's side of the tests: echo and drain loops.

use tokio::io::{AsyncRead, AsyncWrite};
use wsproto::tokio::{Error, WebSocket};

/// Echoes data messages until the connection ends: `Ok` at a normal
/// close, else the error that ended it (a failed send too).
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Receives until the end: `Ok` after a normal close.
pub async fn drain<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await {
        message?;
    }
    Ok(())
}
