//! [`WebSocket`]: one connection over one stream, for every adapter. What
//! does not wait is here, written once; `wsproto::blocking` and
//! `wsproto::tokio` add the methods that wait (blocking calls, or
//! `async fn`s), each a line or two over the shared `poll_*` functions.

use std::io;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::Upgraded;
use super::error::Error;
use super::recv::{self, Outcome, ReadSide, ReadState};
use super::runtime::{Read, ReadIo, Runtime, WriteIo};
use super::state::Driver;
use super::write::{Shutdown, poll_write_all};
use crate::{CloseCode, Config, Connection, Delivery, Message, PreparedMessage, Role, State};

/// A WebSocket connection over a stream `S`, driven by the runtime `R`
/// (the waiting state kept beside the stream: socket timeouts for
/// [`Blocking`](crate::blocking::Blocking), timers for
/// [`Tokio`](crate::tokio::Tokio)).
///
/// Name it through an adapter — `wsproto::blocking::WebSocket<S>` or
/// `wsproto::tokio::WebSocket<S>` — which picks `R` and adds the methods
/// that wait: `recv`, `send`, `feed`, `flush`, `close`, …, blocking calls
/// in one, `async fn`s in the other, with the same names and meaning. All
/// protocol work (masking, validation, Pongs, the Close echo, limits,
/// deadlines) is done by the sans-IO [`Connection`] inside.
#[derive(Debug)]
pub struct WebSocket<S, R> {
    pub(crate) stream: S,
    pub(crate) rt: R,
    pub(crate) driver: Driver,
    pub(crate) protocol: Option<String>,
    pub(crate) read: ReadState,
    pub(crate) shutdown: Shutdown,
    pub(crate) write_timeout: Option<Duration>,
}

/// What does not wait, the same for every adapter.
impl<S, R> WebSocket<S, R> {
    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.driver.conn.state()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The sans-IO connection inside, for what this type does not expose
    /// (the close frame, the buffered amount, the config).
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably. Reading or writing it directly corrupts the
    /// connection; this is for socket options.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Takes the stream back (anything still queued is dropped).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Bounds each write that makes no progress (a peer that stopped
    /// reading): past it the write fails with `TimedOut` and the
    /// connection is lost (a frame may be half written). Until then the
    /// peer is simply back-pressured, and memory stays within
    /// [`Config::max_write_buffer`]. Default 30 s (or the builder's
    /// `write_timeout`); `None` waits as long as the peer does. Once the
    /// connection is closing, writes are bounded by the close timeout too.
    pub fn set_write_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.write_timeout = timeout;
    }

    /// Queues a [`PreparedMessage`] (a frame encoded once and shared by
    /// every recipient, no copy) without writing it: the way to broadcast
    /// to many connections; the next call that writes sends it. Server
    /// connections only
    /// ([`UsageError::PreparedByClient`](crate::UsageError::PreparedByClient)).
    ///
    /// It never waits for room: when more than
    /// [`Config::max_write_buffer`] is already queued the peer is too slow
    /// for the room, so the connection starts closing with 1013 (Try
    /// Again Later) and this returns [`Delivery::Dropped`] at once; keep
    /// receiving to finish the closing handshake (bounded by
    /// [`Config::close_timeout`]) or drop the socket. See
    /// [`Connection::send_prepared`], also for permessage-deflate
    /// (prepared messages go uncompressed).
    pub fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<Delivery, Error> {
        self.driver.queue_prepared(message, 0)
    }
}

/// Making one, for every adapter.
impl<S, R: Runtime> WebSocket<S, R> {
    /// Wraps a stream whose opening handshake is done; `leftover` is what
    /// was read after the handshake's head (frames the peer sent at once),
    /// processed first: a violation in it is reported by the first read.
    pub(crate) fn from_connection(
        stream: S,
        rt: R,
        mut conn: Connection,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        let _ = conn.receive_data(leftover);
        WebSocket {
            stream,
            rt,
            write_timeout: Some(super::DEFAULT_WRITE_TIMEOUT),
            driver: Driver::new(conn),
            protocol,
            read: ReadState::new(),
            shutdown: Shutdown::NotYet,
        }
    }

    /// Wraps a stream whose opening handshake is done, with the given role
    /// and limits. `leftover` is what was read after the handshake's head
    /// (frames the peer sent right away); it is processed first.
    pub fn from_stream(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        let conn = Connection::new_at(role, config, R::now());
        WebSocket::from_connection(stream, R::default(), conn, None, leftover)
    }

    /// Wraps a stream whose client handshake was done by another HTTP
    /// client (hyper's, with [`ClientRequest::build_http`] and
    /// [`ClientHandshake::check_http_response`]): a client connection with
    /// what the server agreed to (the subprotocol, permessage-deflate).
    /// `leftover` is anything read past the response's head.
    ///
    /// [`ClientRequest::build_http`]: crate::handshake::ClientRequest::build_http
    /// [`ClientHandshake::check_http_response`]: crate::handshake::ClientHandshake::check_http_response
    pub fn from_established(
        stream: S,
        config: Config,
        established: &crate::handshake::Established,
        leftover: &[u8],
    ) -> Self {
        Upgraded::from_established(config, established).into_socket(stream, R::default(), leftover)
    }

    /// Wraps a stream whose server handshake another HTTP server answered
    /// (hyper's, with [`UpgradeRequest::accept_http`]; the axum extractor
    /// does this): a server connection with what was agreed (the
    /// subprotocol, permessage-deflate). `leftover` is anything read past
    /// the request's head (hyper's upgraded IO replays it itself).
    ///
    /// [`UpgradeRequest::accept_http`]: crate::handshake::UpgradeRequest::accept_http
    pub fn from_negotiated(
        stream: S,
        config: Config,
        negotiated: &crate::handshake::Negotiated,
        leftover: &[u8],
    ) -> Self {
        Upgraded::from_negotiated(config, negotiated).into_socket(stream, R::default(), leftover)
    }

    /// Makes this socket a member of the set that gave `admission` (see
    /// [`ConnectionSet::admit`]): for a socket upgraded elsewhere, such as
    /// behind hyper with [`from_negotiated`](Self::from_negotiated). If
    /// the set is already shutting down, its next read starts the closing
    /// handshake.
    ///
    /// [`ConnectionSet::admit`]: crate::adapter::ConnectionSet::admit
    pub fn join_set(&mut self, admission: super::shutdown::Admission) {
        self.driver.member = Some(admission.0);
    }

    /// Counts what this socket holds of unfinished messages against a
    /// server's `budget` (see [`MemoryBudget`](crate::adapter::MemoryBudget)):
    /// for a socket built with [`from_negotiated`](Self::from_negotiated)
    /// (the server builders and the axum extractor do this themselves).
    pub fn join_budget(&mut self, budget: &super::budget::MemoryBudget) {
        self.driver.budget = Some(budget.join());
    }

    /// Queues a message on the core (refused: the reason, nothing queued).
    #[inline]
    pub(crate) fn queue_message(&mut self, message: Message) -> Result<(), Error> {
        self.driver.queue(message)
    }

    /// Queues a Close with `code` and `reason`.
    pub(crate) fn queue_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.driver.command(|conn| conn.close(code, reason))
    }
}

// Crate-internal methods only: the bounds name the driver's own traits.
#[allow(private_bounds)]
impl<S, R: ReadIo<S> + WriteIo<S>> WebSocket<S, R> {
    /// The next message, or how the connection ended; `until` bounds the
    /// wait.
    pub(crate) fn poll_next<O: Outcome>(
        &mut self,
        cx: &mut Context<'_>,
        until: Option<Instant>,
    ) -> Poll<O> {
        recv::poll_recv(cx, &mut Unsplit { ws: self }, until)
    }

    /// Writes everything queued (then the shutdown once the core asks),
    /// and flushes. A failure or a stall past the write limit ends the
    /// connection.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_flush(
            cx,
            &mut self.stream,
            &mut self.rt,
            &mut self.driver,
            &mut self.shutdown,
            self.write_timeout,
        )
    }

    /// Ready when a message may be queued: writes while more than
    /// [`Config::max_write_buffer`] waits.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let limit = self.driver.conn.config().max_write_buffer;
        while self.driver.conn.buffered_amount() > limit {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues a Close (1000) unless one was sent, and flushes: the end of
    /// a `Sink`. The connection ending is what closing asked for.
    // The end of a `Sink`: the async adapters only.
    #[allow(dead_code)]
    pub(crate) fn poll_close_sink(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.driver.conn.state() == State::Open {
            self.queue_close(CloseCode::NORMAL, "")?;
        }
        match ready!(self.poll_write_out(cx)) {
            Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }
}

/// Writes what the core has queued to the stream of one socket.
#[inline]
fn poll_flush<S, R: WriteIo<S>>(
    cx: &mut Context<'_>,
    stream: &mut S,
    rt: &mut R,
    driver: &mut Driver,
    shutdown: &mut Shutdown,
    write_timeout: Option<Duration>,
) -> Poll<Result<(), Error>> {
    if driver.is_failed() {
        return Poll::Ready(Err(Error::ConnectionLost));
    }
    let limit = driver.write_limit(write_timeout);
    let mut result = ready!(poll_write_all(
        cx,
        rt,
        stream,
        &mut driver.conn,
        shutdown,
        limit
    ));
    if result.is_ok() && *shutdown == Shutdown::NotYet && driver.shutdown_due() {
        *shutdown = Shutdown::Due;
        result = ready!(poll_write_shutdown(
            cx,
            rt,
            stream,
            &mut driver.conn,
            shutdown,
            limit
        ));
    }
    Poll::Ready(result.map_err(|e| driver.write_failed(e)))
}

/// The write once the core asked for the shutdown: once per connection,
/// out of line so that the write of every message above is inlined.
#[cold]
fn poll_write_shutdown<S, R: WriteIo<S>>(
    cx: &mut Context<'_>,
    rt: &mut R,
    stream: &mut S,
    conn: &mut Connection,
    shutdown: &mut Shutdown,
    limit: super::runtime::WriteLimit,
) -> Poll<io::Result<()>> {
    poll_write_all(cx, rt, stream, conn, shutdown, limit)
}

/// One socket as the read loop sees it: the connection owned, reads
/// straight into the core's buffer. One pointer: the read loop's steps
/// reach each field through it, instead of a view of five built at every
/// poll.
struct Unsplit<'a, S, R> {
    ws: &'a mut WebSocket<S, R>,
}

impl<S, R: ReadIo<S> + WriteIo<S>> ReadSide for Unsplit<'_, S, R> {
    #[inline]
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver) -> T) -> T {
        f(&mut self.ws.driver)
    }

    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let ws = &mut *self.ws;
        poll_flush(
            cx,
            &mut ws.stream,
            &mut ws.rt,
            &mut ws.driver,
            &mut ws.shutdown,
            ws.write_timeout,
        )
    }

    #[inline]
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        size: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<Read>> {
        let ws = &mut *self.ws;
        let deadline = match ws.driver.wait_cap(cx.waker(), R::reads_are_woken()) {
            Some(wait) => [deadline, Some(R::now() + wait)]
                .into_iter()
                .flatten()
                .min(),
            None => deadline,
        };
        let conn = &mut ws.driver.conn;
        let read = ready!(
            ws.rt
                .poll_read_core(cx, &mut ws.stream, conn, size, deadline)
        );
        if let Ok(Some(0)) = read {
            conn.receive_eof();
        }
        ws.driver.settle_budget();
        Poll::Ready(read)
    }

    type Rt = R;

    fn rt(&mut self) -> &mut R {
        &mut self.ws.rt
    }

    fn read_state(&mut self) -> &mut ReadState {
        &mut self.ws.read
    }

    fn backpressure(&self) -> bool {
        true
    }
}
