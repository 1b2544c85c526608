//! [`WebSocket`]: one connection over an async stream, driving the sans-IO
//! [`Connection`].

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{self, ReadSide, ReadState, WriteState};
use crate::driver::Driver;
use crate::driver::error::Error;
use crate::{CloseCode, Config, Connection, Delivery, Message, PreparedMessage, Role, State};

/// A WebSocket connection over a tokio stream `S` (a `TcpStream`, a TLS
/// stream, hyper's upgraded connection, anything `AsyncRead + AsyncWrite`).
///
/// All protocol work (masking, validation, Pongs, the Close echo, limits,
/// deadlines) is done by the sans-IO [`Connection`] inside; this type
/// moves bytes and sleeps until the core's next deadline.
///
/// **Cancel safety.** Every method may be dropped at any await point
/// (in `tokio::select!`, under `tokio::time::timeout`) without losing a
/// byte or a message: the futures hold no protocol state, the
/// [`Connection`] does. [`recv`](Self::recv) dropped halfway through a
/// frame leaves it in the connection; [`send`](Self::send) and
/// [`feed`](Self::feed) have queued their message whole, or not at all
/// if dropped while waiting for room; what is queued goes out with the
/// next `send`, `flush`, `close` or `recv`.
///
/// It is also a [`futures_core::Stream`] of `Result<Message, Error>` and
/// a [`futures_sink::Sink<Message>`], for code written against
/// tokio-tungstenite or axum.
///
/// ```no_run
/// use wsproto::tokio::{connect, Message};
///
/// # async fn run() -> Result<(), wsproto::tokio::Error> {
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/").await?;
/// ws.send("hello").await?;
/// while let Some(message) = ws.recv().await {
///     if let Message::Text(text) = message? {
///         println!("{text}");
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(super) stream: S,
    pub(super) driver: Driver,
    pub(super) protocol: Option<String>,
    pub(super) read: ReadState,
    pub(super) write: WriteState,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done, with the given role
    /// and limits. `leftover` is what was read after the handshake's head
    /// (frames the peer sent right away); it is processed first.
    pub fn from_stream(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        WebSocket::from_connection(
            stream,
            Connection::new_at(role, config, driver::now()),
            None,
            leftover,
        )
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
        #[allow(unused_mut)]
        let mut conn = Connection::new_at(Role::Client, config, driver::now());
        #[cfg(feature = "deflate")]
        if let Some(params) = established.deflate() {
            conn.set_deflate(params);
        }
        let protocol = established.protocol().map(str::to_owned);
        WebSocket::from_connection(stream, conn, protocol, leftover)
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
        #[allow(unused_mut)]
        let mut conn = Connection::new_at(Role::Server, config, driver::now());
        #[cfg(feature = "deflate")]
        if let Some(params) = negotiated.deflate() {
            conn.set_deflate(params);
        }
        let protocol = negotiated.protocol().map(str::to_owned);
        WebSocket::from_connection(stream, conn, protocol, leftover)
    }

    pub(super) fn from_connection(
        stream: S,
        mut conn: Connection,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        // A protocol violation in the leftover is sticky in the core and
        // reported by the first `recv`.
        let _ = conn.receive_data(leftover);
        WebSocket {
            stream,
            driver: Driver::new(conn),
            protocol,
            read: ReadState::new(),
            write: WriteState::default(),
        }
    }

    /// Receives the next message, answering Pings and the peer's Close on
    /// the way. `None` once the connection has ended normally: after the
    /// peer's Close has come out as [`Message::Close`], the next call
    /// completes the closing handshake (a client waits for the server to
    /// close TCP, bounded by the close timeout) and returns `None`, as
    /// does every call after it. Any other end comes out once as an error
    /// ([`Error::ConnectionLost`], [`Error::Protocol`] after our Close
    /// with its code, [`Error::CloseTimeout`], [`Error::KeepaliveTimeout`],
    /// [`Error::Io`]), then `None`.
    ///
    /// Keepalive Pings, the pong timeout and the close timeout are kept
    /// while this waits; nothing else needs to be polled. Before it waits
    /// for input it writes whatever is queued, so a loop that answers with
    /// [`feed`](Self::feed) sends the answers to a whole batch of input in
    /// one write:
    ///
    /// ```no_run
    /// # async fn echo(mut ws: wsproto::tokio::WebSocket<tokio::net::TcpStream>) -> Result<(), wsproto::tokio::Error> {
    /// while let Some(message) = ws.recv().await {
    ///     let message = message?;
    ///     if message.is_data() {
    ///         ws.feed(message).await?; // written by the next `recv`
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// **Cancel safe**: dropping the future loses nothing; the next call
    /// goes on from the same byte.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let mut side = Unsplit {
            stream: &mut self.stream,
            driver: &mut self.driver,
            write: &mut self.write,
        };
        driver::poll_recv(cx, &mut side, &mut self.read)
    }

    /// Queues a message and writes everything queued. Waits first while
    /// more than [`Config::max_write_buffer`] is queued (the peer reads
    /// slower than we send); a peer that stops reading is dropped after
    /// [`Config::write_timeout`] ([`Error::Io`] with `TimedOut`, fatal).
    ///
    /// **Cancel safe**: the message is queued whole or not at all (dropped
    /// while waiting for room: not at all); once queued, it goes out with
    /// the next call that writes.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without writing more than needed to make room for
    /// it, to send several with one [`flush`](Self::flush).
    ///
    /// **Cancel safe**, as [`send`](Self::send).
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.driver.queue(message.into())
    }

    /// Queues a [`PreparedMessage`] (a frame encoded once and shared by
    /// every recipient, no copy) and writes everything queued: the way to
    /// broadcast to many connections. Server connections only
    /// ([`UsageError::PreparedByClient`](crate::UsageError::PreparedByClient)).
    ///
    /// It never waits for room: when more than
    /// [`Config::max_write_buffer`] is already queued the peer is too slow
    /// for the room, so the connection starts closing with 1013 (Try
    /// Again Later) and this returns [`Delivery::Dropped`] at once,
    /// without writing; keep calling [`recv`](Self::recv) to finish the
    /// closing handshake (bounded by [`Config::close_timeout`]) or drop
    /// the socket. See [`Connection::send_prepared`], also for
    /// permessage-deflate (prepared messages go uncompressed).
    ///
    /// A chat member's task waits for its input and the room at once, and
    /// queues with [`feed_prepared`](Self::feed_prepared), which never
    /// waits for a slow socket (`recv` writes what is queued):
    ///
    /// ```no_run
    /// use tokio::sync::broadcast;
    /// use wsproto::tokio::{Message, WebSocket};
    /// use wsproto::{Delivery, PreparedMessage};
    ///
    /// async fn member(
    ///     mut ws: WebSocket<tokio::net::TcpStream>,
    ///     room: broadcast::Sender<PreparedMessage>,
    /// ) -> Result<(), wsproto::tokio::Error> {
    ///     let mut feed = room.subscribe();
    ///     loop {
    ///         tokio::select! {
    ///             message = ws.recv() => match message.transpose()? {
    ///                 // Framed once here, shared by every member.
    ///                 Some(Message::Text(text)) => {
    ///                     let _ = room.send(PreparedMessage::text(text));
    ///                 }
    ///                 Some(_) => {}
    ///                 None => return Ok(()),
    ///             },
    ///             Ok(prepared) = feed.recv() => {
    ///                 if ws.feed_prepared(&prepared)? == Delivery::Dropped {
    ///                     // Too slow: closing with 1013; finish the handshake.
    ///                     while let Some(message) = ws.recv().await {
    ///                         message?;
    ///                     }
    ///                     return Ok(());
    ///                 }
    ///             }
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// **Cancel safe**: queued whole before the first await.
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<Delivery, Error> {
        let delivery = self.feed_prepared(message)?;
        if delivery == Delivery::Queued {
            self.flush().await?;
        }
        Ok(delivery)
    }

    /// Queues a [`PreparedMessage`] without writing, as
    /// [`send_prepared`](Self::send_prepared) does (dropping a reader too
    /// slow); the next `recv`, `flush` or send writes it. Never waits.
    pub fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<Delivery, Error> {
        self.driver.queue_prepared(message, 0)
    }

    /// Sends a Ping with up to 125 bytes of `payload`; the peer's Pong
    /// comes out of [`recv`](Self::recv). **Cancel safe**, as
    /// [`send`](Self::send).
    pub async fn send_ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        if let Err(e) = self.driver.conn.send_ping(payload) {
            return Err(self.driver.refused(e));
        }
        self.flush().await
    }

    /// Writes everything queued (messages, Pongs, a Close) and flushes the
    /// stream. A write that fails or times out ends the connection (a
    /// frame may be half written); later calls report
    /// [`Error::ConnectionLost`]. **Cancel safe**: what is not written yet
    /// stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Starts the closing handshake: queues a Close with `code` and
    /// `reason` (at most 123 bytes) and writes it. Keep calling
    /// [`recv`](Self::recv): messages already in flight arrive, then the
    /// peer's Close, then `None` (or [`Error::CloseTimeout`] when the peer
    /// does not answer within [`Config::close_timeout`]). **Cancel safe**:
    /// the Close is queued at once.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        if let Err(e) = self.driver.conn.close(code, reason) {
            return Err(self.driver.refused(e));
        }
        self.flush().await
    }

    /// Ready when a message may be queued: writes while more than
    /// [`Config::max_write_buffer`] waits.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let limit = self.driver.conn.config().max_write_buffer;
        while self.driver.conn.buffered_amount() > limit {
            ready!(self.poll_flush(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// The poll form of [`flush`](Self::flush).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        driver::poll_write(cx, &mut self.stream, &mut self.driver, &mut self.write)
    }

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
}

/// The unsplit socket as the driver sees it: the connection owned, reads
/// straight into the core's buffer.
struct Unsplit<'a, S> {
    stream: &'a mut S,
    driver: &'a mut Driver,
    write: &'a mut WriteState,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadSide for Unsplit<'_, S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver) -> R) -> R {
        f(self.driver)
    }

    fn poll_write_owed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        driver::poll_write(cx, self.stream, self.driver, self.write)
    }

    fn poll_read_into_core(
        &mut self,
        cx: &mut Context<'_>,
        size: usize,
    ) -> Poll<io::Result<usize>> {
        driver::poll_read_direct(cx, self.stream, self.driver, size)
    }

    fn backpressure(&self) -> bool {
        true
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().driver.queue(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush(cx)
    }

    /// Sends a Close (1000) unless one was sent, and flushes. The peer's
    /// answer comes out of the stream side.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.driver.conn.state() == State::Open {
            if let Err(e) = this.driver.conn.close(CloseCode::NORMAL, "") {
                return Poll::Ready(Err(this.driver.refused(e)));
            }
        }
        match ready!(this.poll_flush(cx)) {
            // The connection ending is what closing asked for.
            Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }
}
