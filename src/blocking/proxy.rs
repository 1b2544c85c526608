//! Opening a tunnel through a proxy on a blocking stream: the exchange is
//! the core's [`TunnelHandshake`]; this only writes, reads and keeps the
//! deadline.

use std::io;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Instant;

use super::stream::Stream;
use crate::Parsed;
use crate::driver::error::{Error, is_timeout};
use crate::proxy::{ProxyError, TunnelHandshake};

/// Bytes read per system call from the proxy: its answers are short.
const READ: usize = 512;

/// Runs `tunnel` over `stream` until the proxy has opened it, by
/// `deadline` ([`ProxyError::Timeout`] after it).
pub(super) fn open_tunnel<S: Stream>(
    stream: &mut S,
    mut tunnel: TunnelHandshake,
    deadline: Instant,
) -> Result<(), Error> {
    let mut buf = [0u8; READ];
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            stream.set_write_timeout(Some(left(deadline)?))?;
            match stream.write_all(&bytes).and_then(|()| stream.flush()) {
                Err(e) if is_timeout(&e) => return Err(ProxyError::Timeout.into()),
                Err(e) => return Err(closed_or(e)),
                Ok(()) => {}
            }
        }
        stream.set_read_timeout(Some(left(deadline)?))?;
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err(ProxyError::Closed.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => continue,
            Err(e) => return Err(closed_or(e)),
        };
        if let Parsed::Complete(()) = tunnel.receive_data(&buf[..n])? {
            stream.set_read_timeout(None)?;
            stream.set_write_timeout(None)?;
            return Ok(());
        }
    }
}

/// What is left until `deadline`, or the proxy's timeout.
fn left(deadline: Instant) -> Result<std::time::Duration, Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ProxyError::Timeout.into());
    }
    Ok(left)
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
pub(super) fn resolve(host: &str, port: u16) -> Result<IpAddr, Error> {
    match (host, port).to_socket_addrs()?.next() {
        Some(addr) => Ok(addr.ip()),
        None => Err(crate::driver::connect_error(None)),
    }
}
