//! Opening a tunnel through a proxy on an async stream: the exchange is
//! the core's [`TunnelHandshake`]; this only writes, reads and keeps the
//! deadline (on tokio's clock).

use std::io;
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::Parsed;
use crate::driver::error::Error;
use crate::proxy::{ProxyError, TunnelHandshake};

/// Bytes read at a time from the proxy: its answers are short.
const READ: usize = 512;

/// Runs `tunnel` over `stream` until the proxy has opened it, by
/// `deadline` ([`ProxyError::Timeout`] after it).
pub(super) async fn open_tunnel<S>(
    stream: &mut S,
    mut tunnel: TunnelHandshake,
    deadline: Instant,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        let mut buf = [0u8; READ];
        loop {
            while let Some(bytes) = tunnel.poll_transmit() {
                stream.write_all(&bytes).await.map_err(closed_or)?;
                stream.flush().await.map_err(closed_or)?;
            }
            let n = stream.read(&mut buf).await.map_err(closed_or)?;
            if n == 0 {
                return Err(ProxyError::Closed.into());
            }
            if let Parsed::Complete(()) = tunnel.receive_data(&buf[..n])? {
                return Ok(());
            }
        }
    };
    match timeout_at(deadline, exchange).await {
        Err(_elapsed) => Err(ProxyError::Timeout.into()),
        Ok(result) => result,
    }
}

/// A reset or abort by the proxy is its closing the connection.
fn closed_or(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ProxyError::Closed.into(),
        _ => e.into(),
    }
}

/// The first address of `host`, for a proxy that wants one
/// (`socks5://`).
pub(super) async fn resolve(host: &str, port: u16) -> Result<IpAddr, Error> {
    match tokio::net::lookup_host((host, port)).await?.next() {
        Some(addr) => Ok(addr.ip()),
        None => Err(crate::driver::connect_error(None)),
    }
}
