//! Opening a tunnel through a proxy, for every adapter: the exchange is the
//! core's [`TunnelHandshake`]; this writes, reads and keeps the deadline.

use std::future::poll_fn;
use std::io;
use std::time::Instant;

use super::error::Error;
use super::runtime::{ReadIo, WriteIo};
use super::write::write_all_by;
use crate::Parsed;
use crate::proxy::{ProxyError, TunnelHandshake};

/// Bytes read at a time from the proxy: its answers are short.
const READ: usize = 512;

/// Runs `tunnel` over `stream` until the proxy has opened it, by
/// `deadline` ([`ProxyError::Timeout`] after it).
pub(crate) async fn open_tunnel<S, R: ReadIo<S> + WriteIo<S>>(
    rt: &mut R,
    stream: &mut S,
    mut tunnel: TunnelHandshake,
    deadline: Instant,
) -> Result<(), Error> {
    let mut buf = Vec::new();
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            write_all_by(rt, stream, &bytes, deadline)
                .await
                .map_err(closed_or)?;
        }
        buf.clear();
        let read = poll_fn(|cx| rt.poll_read_vec(cx, stream, &mut buf, READ, Some(deadline)));
        match read.await {
            Ok(None) => return Err(ProxyError::Timeout.into()),
            Ok(Some(0)) => return Err(ProxyError::Closed.into()),
            Ok(Some(_)) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(closed_or(e)),
        }
        if let Parsed::Complete(()) = tunnel.receive_data(&buf)? {
            return Ok(());
        }
    }
}

/// A reset or abort by the proxy is its closing the connection; a write
/// that timed out is the proxy's timeout.
fn closed_or(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ProxyError::Closed.into(),
        _ if super::error::is_timeout(&e) => ProxyError::Timeout.into(),
        _ => e.into(),
    }
}
