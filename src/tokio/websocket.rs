//! The methods of the tokio [`WebSocket`] and its split halves that wait:
//! each is an `async fn` (or a `poll_*` form) over the shared driver.
//!
//! **Cancel safety.** Every method may be dropped at any await point (in
//! `tokio::select!`, under `tokio::time::timeout`) without losing a byte or
//! a message: the futures hold no protocol state, the `Connection` does.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use super::runtime::Tokio;
use super::{WebSocket, WebSocketReader, WebSocketWriter};
use crate::driver::recv::{Outcome, Received};
use crate::driver::{Error, split};
use crate::{CloseCode, Delivery, Message, PreparedMessage};

/// What `recv` returns: the message, `None` once the connection has ended
/// normally (and after any end has been reported once), the other ends
/// once as an error.
impl Outcome for Option<Result<Message, Error>> {
    #[inline]
    fn message(message: Message) -> Self {
        Some(Ok(message))
    }

    fn other(received: Received) -> Self {
        match received {
            Received::Message(message) => Some(Ok(message)),
            Received::Ended {
                error: Error::ConnectionClosed,
                ..
            }
            | Received::Ended { first: false, .. }
            | Received::Idle => None,
            Received::Ended { error, .. } | Received::Failed(error) => Some(Err(error)),
            Received::WouldBlock(e) => Some(Err(Error::Io(e))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
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
    // `poll_fn` itself, not an `async fn` around it: one state machine
    // fewer on every call.
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> {
        poll_fn(|cx| self.poll_recv(cx))
    }

    /// The poll form of [`recv`](Self::recv).
    #[inline]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.poll_next(cx, None)
    }

    /// Queues a message and writes everything queued. Waits first while
    /// more than [`Config::max_write_buffer`](crate::Config::max_write_buffer)
    /// is queued (the peer reads slower than we send); a peer that stops
    /// reading is dropped after [the write timeout](crate::adapter::WebSocket::set_write_timeout)
    /// ([`Error::Io`] with `TimedOut`, fatal).
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
    pub fn feed(&mut self, message: impl Into<Message>) -> impl Future<Output = Result<(), Error>> {
        Feed {
            ws: self,
            message: Some(message.into()),
        }
    }

    /// Queues a [`PreparedMessage`] and writes everything queued: see
    /// [`feed_prepared`](Self::feed_prepared), which never waits for a
    /// slow socket.
    ///
    /// A chat member's task waits for its input and the room at once, and
    /// queues with `feed_prepared` (`recv` writes what is queued):
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

    /// Sends a Ping with up to 125 bytes of `payload`; the peer's Pong
    /// comes out of [`recv`](Self::recv). **Cancel safe**, as
    /// [`send`](Self::send).
    pub async fn send_ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.driver.command(|conn| conn.send_ping(payload))?;
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
    /// does not answer within [`Config::close_timeout`](crate::Config::close_timeout)).
    /// **Cancel safe**: the Close is queued at once.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.queue_close(code.into(), reason)?;
        self.flush().await
    }

    /// Ready when a message may be queued: writes while more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer) waits.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    /// The poll form of [`flush`](Self::flush).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_out(cx)
    }

    /// Splits the connection into a reader and a writer for several tasks:
    /// one receives while others send. The writer is `Clone` and `Send`
    /// (for a `Send` stream); its clones send on the same connection, in
    /// the order their calls take the write lock.
    ///
    /// No lock is held across an await: the connection's lock is taken
    /// for the few instructions of a core call, the write lock for one
    /// poll of the stream. The reader answers Pings and the peer's Close
    /// itself when no writer is busy, so a task that only reads stays
    /// conformant; it keeps the keepalive and close deadlines, so it
    /// should be polled while the connection lives (as any reader is).
    ///
    /// Named as tokio's `TcpStream::into_split`, so that it does not
    /// shadow [`StreamExt::split`](https://docs.rs/futures/latest/futures/stream/trait.StreamExt.html#method.split)
    /// (which also works on this type, through a lock, and gives axum's
    /// `SplitSink` / `SplitStream` pair).
    #[doc(alias = "split")]
    pub fn into_split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        match self.split_with(|stream| Ok::<_, std::convert::Infallible>(tokio::io::split(stream)))
        {
            Ok(halves) => halves,
            Err(never) => match never {},
        }
    }
}

/// The future of [`WebSocket::feed`]: a type of its own, not an `async
/// fn`, so that the message goes from the call into the queue without
/// being copied into a state machine's locals first, and its `poll` can
/// be inlined into the caller's.
struct Feed<'a, S> {
    ws: &'a mut WebSocket<S>,
    message: Option<Message>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Feed<'_, S> {
    type Output = Result<(), Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        ready!(this.ws.poll_room(cx))?;
        let message = this
            .message
            .take()
            .expect("`feed` polled after it completed");
        Poll::Ready(this.ws.queue_message(message))
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
        self.get_mut().poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().queue_message(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx)
    }

    /// Sends a Close (1000) unless one was sent, and flushes. The peer's
    /// answer comes out of the stream side.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_sink(cx)
    }
}

/// The receiving half: `R` and `W` are tokio's halves of `S`.
type Reader<S> = split::WebSocketReader<ReadHalf<S>, WriteHalf<S>, Tokio>;
/// The sending half.
type Writer<S> = split::WebSocketWriter<WriteHalf<S>, Tokio>;

impl<S: AsyncRead + AsyncWrite> Reader<S> {
    /// Receives the next message, as [`WebSocket::recv`] does (Pings and
    /// the peer's Close answered on the way, `None` after a normal end).
    /// **Cancel safe.**
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> {
        poll_fn(|cx| self.poll_recv(cx))
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.poll_next(cx, None)
    }
}

impl<S: AsyncRead + AsyncWrite> futures_core::Stream for Reader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: AsyncWrite> Writer<S> {
    /// Queues a message and writes everything queued, as
    /// [`WebSocket::send`] does (waits while more than
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer) is
    /// queued). **Cancel safe**: queued whole or not at all.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message, writing only what makes room for it.
    /// **Cancel safe**, as [`send`](Self::send).
    pub async fn feed(&self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.queue_message(message.into())
    }

    /// Queues a [`PreparedMessage`] (shared, not copied) and writes
    /// everything queued, as [`WebSocket::send_prepared`] does.
    /// **Cancel safe**: queued whole before the first await.
    pub async fn send_prepared(&self, message: &PreparedMessage) -> Result<Delivery, Error> {
        let delivery = self.feed_prepared(message)?;
        if delivery == Delivery::Queued {
            self.flush().await?;
        }
        Ok(delivery)
    }

    /// Sends a Ping with up to 125 bytes of `payload`.
    pub async fn send_ping(&self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(Message::ping(payload.as_ref())).await
    }

    /// Writes everything queued. **Cancel safe.**
    pub async fn flush(&self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Starts the closing handshake (a Close with `code` and `reason`);
    /// the reader receives the peer's answer and then `None`.
    pub async fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.queue_close(code.into(), reason)?;
        self.flush().await
    }

    /// Ready when a message may be queued.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    /// The poll form of [`flush`](Self::flush).
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_out(cx)
    }
}

impl<S: AsyncWrite> futures_sink::Sink<Message> for Writer<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.queue_message(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_out(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_close_sink(cx))?;
        Poll::Ready(Ok(()))
    }
}
