//! How an adapter waits: the only part of driving a connection that differs
//! between runtimes, behind three small traits (the shape quinn uses over
//! quinn-proto). Everything else — the read loop, the write engine, the
//! split halves, the handshakes, the connect and accept plans, reconnecting
//! — is written once, in this module's siblings, as `poll_*` functions and
//! `async fn`s over these traits.
//!
//! A runtime is a small value kept beside each stream (or each half of a
//! split one): the waiting state it needs, such as the timers of tokio or
//! the socket timeouts last set on a blocking socket. The blocking runtime
//! never returns `Pending`: its operations block the thread (bounded by
//! the deadline they are given) and the shared code runs to completion in
//! one poll; the tokio runtime returns `Pending` with the task's waker
//! registered and a timer armed at the deadline.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::Connection;

/// What a read that can time out brings: bytes (`Some(0)` is the end of
/// stream), or `None` when the deadline passed first.
pub(crate) type Read = Option<usize>;

/// How long a write may make no progress before it fails: for the opening
/// handshake, until a deadline; for a connection, a bound on each stall
/// ([the write timeout](crate::adapter::WebSocket::set_write_timeout), the close
/// timeout once closing), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteLimit {
    /// Block as long as the peer does.
    None,
    /// Fail when this much time passes without progress.
    Stall(Duration),
    /// Fail at this instant.
    Deadline(Instant),
}

/// How an adapter waits: its clock and timers. Implemented by
/// [`Blocking`](crate::blocking::Blocking) and
/// [`Tokio`](crate::tokio::Tokio), and sealed: the adapters' types
/// ([`WebSocket`](crate::adapter::WebSocket), [`ServerBuilder`](crate::adapter::ServerBuilder),
/// …) are written once, generic over it, and each adapter names them with
/// its runtime. A value of it lives beside each stream, holding what that
/// stream needs to wait (socket timeouts last set, timers).
pub trait Runtime: sealed::Sealed + Default + Send + 'static {
    /// The current time on the runtime's clock (tokio's can be paused in
    /// tests).
    #[doc(hidden)]
    fn now() -> Instant;
    /// Ready once `deadline` has passed; otherwise the waker is registered
    /// for it. The blocking runtime, whose reads carry their deadline,
    /// never waits here.
    #[doc(hidden)]
    fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()>;
    /// Whether a reader waiting for input is woken by another thread's
    /// waker. When not (a thread blocked in `read(2)`), the read loop caps
    /// each wait so that what another thread asks of it (a Close queued by
    /// a split writer, a shutdown of its set) is seen in time.
    #[doc(hidden)]
    fn reads_are_woken() -> bool {
        true
    }
}

/// Only this crate's runtimes implement [`Runtime`].
pub(crate) mod sealed {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// Reading from a stream `S` (a whole stream or a read half).
pub(crate) trait ReadIo<S>: Runtime {
    /// One read into the core: at most `size` bytes, committed with
    /// [`Connection::receive_commit`] (or fed with
    /// [`Connection::receive_data`]; the runtime chooses how to hold as
    /// little as possible while it waits). The end of stream is *not* told
    /// to the core. `Ok(None)` when `deadline` passed first.
    fn poll_read_core(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        conn: &mut Connection,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>>;

    /// One read of at most `size` bytes into a buffer of the runtime's,
    /// whose bytes go to `feed`
    /// (the split reader, which holds no lock while it reads). `Ok(None)`
    /// when `deadline` passed first; `Some(0)` is the end of stream
    /// (`feed` not called).
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        size: usize,
        deadline: Option<Instant>,
        feed: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<Read>>;

    /// One read appended to `buf` (at most `max` bytes): the opening
    /// handshake's head, a proxy's answer, a refused client's leftovers.
    fn poll_read_vec(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>>;
}

/// Writing to a stream `S` (a whole stream or a write half).
pub(crate) trait WriteIo<S>: Runtime {
    /// Writes some of `slices` (one slice by plain `write`).
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        slices: &[IoSlice<'_>],
        limit: WriteLimit,
    ) -> Poll<io::Result<usize>>;
    /// Flushes what the stream buffers (a TLS record).
    fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>>;
    /// Ends our side of the stream (TCP `shutdown(Write)`, TLS
    /// `close_notify`), keeping the read side open.
    fn poll_shutdown(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        limit: WriteLimit,
    ) -> Poll<io::Result<()>>;
}

/// Opening connections: name resolution, TCP, and TLS layered on a stream
/// (the target's, or the proxy's and the target's inside it).
pub(crate) trait Connect: ReadIo<Self::Stream> + WriteIo<Self::Stream> {
    /// Sleeps for `delay` (between reconnection attempts).
    async fn sleep(delay: Duration);
    /// The runtime's TCP stream.
    type Tcp;
    /// What a client connects with: plain or TLS, over `Tcp`.
    type Stream;
    /// The addresses of `host`.
    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
    /// One TCP connection attempt, bounded by `timeout` when given.
    async fn tcp_connect(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<Self::Tcp>;
    /// A plain stream over a fresh TCP connection (Nagle off: frames are
    /// written whole, and a small message should not wait for the
    /// previous one's ACK).
    fn plain(tcp: Self::Tcp) -> io::Result<Self::Stream>;
    /// Runs the client side of TLS for `host` over `stream` by `deadline`:
    /// a plain stream becomes TLS, a TLS one (to a proxy) TLS in TLS.
    #[cfg(feature = "tls")]
    async fn tls(
        stream: Self::Stream,
        host: &str,
        config: std::sync::Arc<rustls::ClientConfig>,
        deadline: Instant,
    ) -> Result<Self::Stream, super::Error>;
}
