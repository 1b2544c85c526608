//! [`WebSocket`] and its halves: the shapes of the tokio adapter's
//! (`recv`, `send`, `feed`, `flush`, `close`, `Stream`, `Sink`,
//! `into_split`) over a browser [`Socket`].

use core::pin::Pin;
use core::task::{Context, Poll};
use std::rc::Rc;

use super::error::{Error, Result};
use super::socket::Socket;
use super::timer::Sleep;
use crate::prelude::*;
use crate::{CloseCode, Message};

/// A browser WebSocket (`new WebSocket(url)`) with this crate's API; from
/// [`connect`](super::connect) or [`ClientBuilder`](super::ClientBuilder).
///
/// - [`recv`](Self::recv) returns text and binary messages as
///   [`Message`]; a clean end (a closing handshake, either side's) as
///   [`Message::Close`] with the code and reason the browser reports, then
///   `None`; an unclean one (`wasClean` false) as
///   [`Error::ConnectionLost`], then `None`.
/// - [`send`](Self::send) fails with [`Error::ConnectionClosed`] once the
///   connection is closing or closed (the browser would drop the message
///   silently), and waits while the browser's `bufferedAmount` is over the
///   builder's [`max_write_buffer`](super::ClientBuilder::max_write_buffer)
///   (back-pressure; the browser has no event for it, so it looks again
///   every 5 ms).
/// - Pings are the browser's business: received ones are answered by it
///   and never seen here; sending one is [`Error::Unsupported`].
/// - Dropping it (and every half of it) closes the connection with 1000
///   and frees its JavaScript callbacks.
///
/// **Cancel safety.** Every `async fn` may be dropped at any await point:
/// a dropped `recv` loses nothing (messages wait in the socket's queue); a
/// dropped `send` has handed its message to the browser whole, or not at
/// all.
///
/// It is also a [`futures_core::Stream`] of `Result<Message, Error>` and a
/// [`futures_sink::Sink<Message>`].
#[derive(Debug)]
pub struct WebSocket {
    socket: Rc<Socket>,
    sleep: Option<Sleep>,
}

impl WebSocket {
    pub(crate) fn new(socket: Socket) -> Self {
        WebSocket {
            socket: Rc::new(socket),
            sleep: None,
        }
    }

    /// The next message: `None` once the connection is over. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        core::future::poll_fn(|cx| self.socket.poll_recv(cx)).await
    }

    /// Sends a text or binary message, once the browser's buffer has room
    /// (see the type's docs). A [`Message::Close`] closes as
    /// [`close`](Self::close) does. Cancel-safe.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        self.socket.send(message.into()).await
    }

    /// The same as [`send`](Self::send): the browser keeps the queue, so
    /// there is nothing to hold back until [`flush`](Self::flush). Here for
    /// code written against the tokio adapter.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<()> {
        self.socket.send(message.into()).await
    }

    /// Waits until the browser has handed everything sent to the network
    /// (`bufferedAmount` 0). Cancel-safe.
    pub async fn flush(&mut self) -> Result<()> {
        self.socket.flush().await
    }

    /// Starts the closing handshake with `code` and `reason`; read on
    /// until `None` to see the server's answer ([`Message::Close`]).
    ///
    /// Checked before the browser would throw: the RFC's rules (as every
    /// adapter checks them: no 1005, 1006, 1015, nothing outside
    /// 1000–4999, a reason of at most 123 bytes), then the browser's
    /// stricter one, that a page may send only 1000 or 3000–4999: anything
    /// else is [`Error::Usage`]. [`Error::ConnectionClosed`] when it is
    /// already closing.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<()> {
        self.socket.close(code.into(), reason)
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<String> {
        self.socket.protocol()
    }

    /// The URL connected to.
    pub fn url(&self) -> &str {
        self.socket.url()
    }

    /// The bytes the browser holds, not yet sent (`bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.socket.buffered_amount()
    }

    /// The cap on [`buffered_amount`](Self::buffered_amount) that sends wait
    /// under.
    pub fn max_write_buffer(&self) -> usize {
        self.socket.max_write_buffer()
    }

    /// A reader and a cloneable writer on the same connection (one task
    /// reads while others send). The connection closes (1000) when both
    /// halves, and every clone of the writer, are dropped.
    pub fn into_split(self) -> (WebSocketReader, WebSocketWriter) {
        (
            WebSocketReader {
                socket: self.socket.clone(),
            },
            WebSocketWriter {
                socket: self.socket,
                sleep: None,
            },
        )
    }
}

/// The receiving half of a [`WebSocket`]: `recv` and `Stream`.
#[derive(Debug)]
pub struct WebSocketReader {
    socket: Rc<Socket>,
}

impl WebSocketReader {
    /// The next message, as [`WebSocket::recv`]. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        core::future::poll_fn(|cx| self.socket.poll_recv(cx)).await
    }
}

/// The sending half of a [`WebSocket`]; clones send on the same
/// connection. `send`, `flush`, `close` and `Sink`.
#[derive(Debug)]
pub struct WebSocketWriter {
    socket: Rc<Socket>,
    sleep: Option<Sleep>,
}

impl Clone for WebSocketWriter {
    fn clone(&self) -> Self {
        WebSocketWriter {
            socket: self.socket.clone(),
            sleep: None,
        }
    }
}

impl WebSocketWriter {
    /// As [`WebSocket::send`]. Cancel-safe.
    pub async fn send(&self, message: impl Into<Message>) -> Result<()> {
        self.socket.send(message.into()).await
    }

    /// As [`WebSocket::flush`]. Cancel-safe.
    pub async fn flush(&self) -> Result<()> {
        self.socket.flush().await
    }

    /// As [`WebSocket::close`].
    pub async fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<()> {
        self.socket.close(code.into(), reason)
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<String> {
        self.socket.protocol()
    }

    /// The bytes the browser holds, not yet sent (`bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.socket.buffered_amount()
    }
}

impl futures_core::Stream for WebSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.socket.poll_recv(cx)
    }
}

impl futures_core::Stream for WebSocketReader {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.socket.poll_recv(cx)
    }
}

/// The `Sink` of both [`WebSocket`] and [`WebSocketWriter`].
macro_rules! sink {
    ($type:ty) => {
        /// `poll_ready` waits for room under the cap, `start_send` hands
        /// the message to the browser, `poll_flush` waits until it sent
        /// everything, `poll_close` flushes and closes with 1000.
        impl futures_sink::Sink<Message> for $type {
            type Error = Error;

            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
                let this = self.get_mut();
                this.socket.poll_room(cx, 0, &mut this.sleep)
            }

            fn start_send(self: Pin<&mut Self>, message: Message) -> Result<()> {
                self.socket.send_now(message)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
                let this = self.get_mut();
                this.socket.poll_drained(cx, &mut this.sleep)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
                let this = self.get_mut();
                match this.socket.poll_drained(cx, &mut this.sleep) {
                    Poll::Pending => Poll::Pending,
                    // Closed already: nothing left to do.
                    Poll::Ready(Err(Error::ConnectionClosed)) => Poll::Ready(Ok(())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => match this.socket.close(CloseCode::NORMAL, "") {
                        Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
                        result => Poll::Ready(result),
                    },
                }
            }
        }
    };
}

sink!(WebSocket);
sink!(WebSocketWriter);
