//! The browser's `WebSocket` and its four event handlers. The handlers only
//! move what the browser says into [`Shared`] (a queue of messages, how
//! the connection ended) and wake whoever waits; the `poll_*` functions
//! take it out. Dropping the [`Socket`] closes the connection with 1000,
//! unhooks the handlers and frees their closures.

use core::cell::RefCell;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent};

use super::callback::Callback;
use super::error::{Error, Result};
use super::timer::{Sleep, sleep};
use crate::prelude::*;
use crate::{Bytes, CloseCode, CloseFrame, Message, UsageError, Utf8Bytes};

/// How often a send waiting for the browser's buffer to drain looks again
/// (the browser has no event for it).
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// How the connection ended, as the `close` event told.
#[derive(Debug, Clone)]
enum End {
    /// Before it opened: refused, or the upgrade failed.
    NeverOpened,
    /// A closing handshake (`wasClean`); its Close is in the queue.
    Clean,
    /// Without one; reported once by `poll_recv`.
    Lost {
        code: u16,
        reason: String,
        reported: bool,
    },
}

/// What the handlers write and the socket's users read.
#[derive(Default)]
struct Shared {
    opened: bool,
    queue: VecDeque<Message>,
    end: Option<End>,
    /// The task in `recv` (the reader: one at a time).
    reader: Option<Waker>,
    /// The task waiting for the connection to open.
    opener: Option<Waker>,
}

impl Shared {
    fn wake(&mut self) {
        for waker in [self.reader.take(), self.opener.take()]
            .into_iter()
            .flatten()
        {
            waker.wake();
        }
    }
}

/// One browser WebSocket with its handlers.
pub(crate) struct Socket {
    ws: web_sys::WebSocket,
    shared: Rc<RefCell<Shared>>,
    url: String,
    max_write_buffer: usize,
    _on_open: Callback<dyn FnMut(Event)>,
    _on_message: Callback<dyn FnMut(MessageEvent)>,
    _on_error: Callback<dyn FnMut(Event)>,
    _on_close: Callback<dyn FnMut(CloseEvent)>,
}

impl core::fmt::Debug for Socket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Socket")
            .field("url", &self.url)
            .field("ready_state", &self.ws.ready_state())
            .field("buffered_amount", &self.ws.buffered_amount())
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// Starts connecting (`new WebSocket(url, protocols)`); see
    /// [`opened`](Self::opened).
    pub(crate) fn open(url: &str, protocols: &[String], max_write_buffer: usize) -> Result<Socket> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("ws" | "wss")) {
            return Err(Error::InvalidRequest(format!(
                "{url}: the scheme must be ws:// or wss://"
            )));
        }
        let list = js_sys::Array::new();
        for protocol in protocols {
            list.push(&protocol.as_str().into());
        }
        // SyntaxError: a malformed URL, a fragment, a protocol that is not
        // a token or offered twice.
        let ws =
            web_sys::WebSocket::new_with_str_sequence(url, &list).map_err(|e| {
                match Error::js(e) {
                    Error::Js(message) => Error::InvalidRequest(message),
                    other => other,
                }
            })?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(Shared::default()));

        let s = shared.clone();
        let on_open = Callback::new(Closure::<dyn FnMut(Event)>::new(move |_| {
            let mut shared = s.borrow_mut();
            shared.opened = true;
            shared.wake();
        }));
        let s = shared.clone();
        let on_message = Callback::new(Closure::<dyn FnMut(MessageEvent)>::new(
            move |event: MessageEvent| {
                let data = event.data();
                let message = if let Some(text) = data.as_string() {
                    Message::Text(Utf8Bytes::from(text))
                } else if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                    Message::Binary(Bytes::from(js_sys::Uint8Array::new(buffer).to_vec()))
                } else {
                    // binaryType is "arraybuffer": nothing else arrives.
                    return;
                };
                let mut shared = s.borrow_mut();
                shared.queue.push_back(message);
                shared.wake();
            },
        ));
        // An `error` event says nothing (the `close` event that always
        // follows does): wake, so that nobody waits on a dead socket.
        let s = shared.clone();
        let on_error = Callback::new(Closure::<dyn FnMut(Event)>::new(move |_| {
            s.borrow_mut().wake();
        }));
        let s = shared.clone();
        let on_close = Callback::new(Closure::<dyn FnMut(CloseEvent)>::new(
            move |event: CloseEvent| {
                let mut shared = s.borrow_mut();
                let end = if !shared.opened {
                    End::NeverOpened
                } else if event.was_clean() {
                    // The server's Close (or its echo of ours), as the
                    // crate's `Message::Close`: 1005 when it had no code.
                    shared.queue.push_back(Message::Close(CloseFrame {
                        code: CloseCode::new(event.code()),
                        reason: Utf8Bytes::from(event.reason()),
                    }));
                    End::Clean
                } else {
                    End::Lost {
                        code: event.code(),
                        reason: event.reason(),
                        reported: false,
                    }
                };
                shared.end = Some(end);
                shared.wake();
            },
        ));
        ws.set_onopen(Some(on_open.function()));
        ws.set_onmessage(Some(on_message.function()));
        ws.set_onerror(Some(on_error.function()));
        ws.set_onclose(Some(on_close.function()));
        Ok(Socket {
            ws,
            shared,
            url: url.to_owned(),
            max_write_buffer,
            _on_open: on_open,
            _on_message: on_message,
            _on_error: on_error,
            _on_close: on_close,
        })
    }

    /// Ready once the connection is open, or failed to open.
    pub(crate) fn poll_opened(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut shared = self.shared.borrow_mut();
        if shared.opened {
            Poll::Ready(Ok(()))
        } else if shared.end.is_some() {
            Poll::Ready(Err(Error::ConnectFailed {
                url: self.url.clone(),
            }))
        } else {
            shared.opener = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// The next message; `None` after the Close of a clean end (and after
    /// the error of an unclean one).
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        let mut shared = self.shared.borrow_mut();
        if let Some(message) = shared.queue.pop_front() {
            return Poll::Ready(Some(Ok(message)));
        }
        match &mut shared.end {
            None => {
                shared.reader = Some(cx.waker().clone());
                Poll::Pending
            }
            Some(End::Lost {
                code,
                reason,
                reported,
            }) if !*reported => {
                *reported = true;
                Poll::Ready(Some(Err(Error::ConnectionLost {
                    code: *code,
                    reason: core::mem::take(reason),
                })))
            }
            Some(_) => Poll::Ready(None),
        }
    }

    /// The subprotocol the server chose (`None` when none).
    pub(crate) fn protocol(&self) -> Option<String> {
        Some(self.ws.protocol()).filter(|p| !p.is_empty())
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// What the browser holds, not yet sent (`bufferedAmount`).
    pub(crate) fn buffered_amount(&self) -> usize {
        self.ws.buffered_amount() as usize
    }

    pub(crate) fn max_write_buffer(&self) -> usize {
        self.max_write_buffer
    }

    /// Err([`Error::ConnectionClosed`]) unless the connection is open: the
    /// browser would drop a message sent now without a word.
    fn check_open(&self) -> Result<()> {
        if self.ws.ready_state() != web_sys::WebSocket::OPEN || self.shared.borrow().end.is_some() {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    /// Ready when the browser's buffer has room for `len` more bytes under
    /// the cap (any message goes when it is empty), or the connection
    /// ended; `sleep` is the caller's, kept between polls.
    pub(crate) fn poll_room(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        sleep: &mut Option<Sleep>,
    ) -> Poll<Result<()>> {
        self.poll_until(cx, sleep, |buffered| {
            buffered == 0 || buffered.saturating_add(len) <= self.max_write_buffer
        })
    }

    /// Ready when the browser has handed everything to the network.
    pub(crate) fn poll_drained(
        &self,
        cx: &mut Context<'_>,
        sleep: &mut Option<Sleep>,
    ) -> Poll<Result<()>> {
        self.poll_until(cx, sleep, |buffered| buffered == 0)
    }

    fn poll_until(
        &self,
        cx: &mut Context<'_>,
        sleep: &mut Option<Sleep>,
        done: impl Fn(usize) -> bool,
    ) -> Poll<Result<()>> {
        loop {
            if let Err(e) = self.check_open() {
                *sleep = None;
                return Poll::Ready(Err(e));
            }
            if done(self.buffered_amount()) {
                *sleep = None;
                return Poll::Ready(Ok(()));
            }
            let timer = sleep.get_or_insert_with(|| self::sleep(DRAIN_POLL));
            match Pin::new(timer).poll(cx) {
                Poll::Ready(()) => *sleep = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Hands `message` to the browser now (no waiting for room).
    pub(crate) fn send_now(&self, message: Message) -> Result<()> {
        if let Message::Close(frame) = message {
            return self.close(frame.code, frame.reason.as_str());
        }
        self.check_open()?;
        match message {
            Message::Text(text) => self.ws.send_with_str(text.as_str()),
            Message::Binary(bytes) => self.ws.send_with_u8_array(&bytes),
            Message::Ping(_) => return Err(Error::Unsupported("sending a Ping")),
            Message::Pong(_) => return Err(Error::Unsupported("sending a Pong")),
            _ => return Err(Error::Unsupported("this kind of message")),
        }
        .map_err(Error::js)
    }

    /// Sends `message`, first waiting for room in the browser's buffer.
    pub(crate) async fn send(&self, message: Message) -> Result<()> {
        let len = match &message {
            Message::Text(_) | Message::Binary(_) => message.len(),
            _ => 0,
        };
        let mut sleep = None;
        core::future::poll_fn(|cx| self.poll_room(cx, len, &mut sleep)).await?;
        self.send_now(message)
    }

    /// Waits until the browser has sent everything.
    pub(crate) async fn flush(&self) -> Result<()> {
        let mut sleep = None;
        core::future::poll_fn(|cx| self.poll_drained(cx, &mut sleep)).await
    }

    /// Starts the closing handshake, after checking the code and reason
    /// against the RFC's rules and then the browser's.
    pub(crate) fn close(&self, code: CloseCode, reason: &str) -> Result<()> {
        check_close(code, reason)?;
        if self.ws.ready_state() != web_sys::WebSocket::OPEN || self.shared.borrow().end.is_some() {
            return Err(Error::ConnectionClosed);
        }
        self.ws
            .close_with_code_and_reason(code.as_u16(), reason)
            .map_err(Error::js)
    }
}

/// The close codes and reasons a page may send: the RFC's rules (the
/// crate's, as for every adapter), then the browser's stricter one (WHATWG
/// WebSockets, `close()`: "If code is present, but is neither an integer
/// equal to 1000 nor an integer in the range 3000 to 4999, inclusive,
/// throw an InvalidAccessError"; a reason over 123 bytes is a
/// SyntaxError).
pub(crate) fn check_close(code: CloseCode, reason: &str) -> Result<(), UsageError> {
    CloseFrame::check_sendable(code, reason)?;
    if !(code == CloseCode::NORMAL || (3000..=4999).contains(&code.as_u16())) {
        return Err(UsageError::InvalidCloseCode(code.as_u16()));
    }
    Ok(())
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Unhook first: the browser must not call a freed closure.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
        let state = self.ws.ready_state();
        if state == web_sys::WebSocket::CONNECTING || state == web_sys::WebSocket::OPEN {
            let _ = self.ws.close_with_code(CloseCode::NORMAL.as_u16());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_rules_are_the_rfcs_then_the_browsers() {
        for code in [1000, 3000, 4000, 4999] {
            assert_eq!(check_close(CloseCode::new(code), ""), Ok(()), "{code}");
        }
        for code in [0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000] {
            assert_eq!(
                check_close(CloseCode::new(code), ""),
                Err(UsageError::InvalidCloseCode(code)),
                "{code}"
            );
        }
        assert_eq!(check_close(CloseCode::NORMAL, &"é".repeat(61)), Ok(()));
        assert_eq!(
            check_close(CloseCode::NORMAL, &"x".repeat(124)),
            Err(UsageError::CloseReasonTooLong(124))
        );
    }
}
