//! [`ReconnectingClient`] for the browser: the same [`Backoff`] and
//! [`ReconnectPolicy`] as the blocking and tokio clients (the core's
//! `backoff` module), with the browser's timers and `Math.random()` for
//! the jitter.

use core::time::Duration;

use super::client::ClientBuilder;
use super::error::{Error, Result};
use super::timer::sleep;
use super::websocket::WebSocket;
use crate::backoff::{AfterClose, Backoff, ReconnectPolicy};
use crate::prelude::*;
use crate::{CloseCode, Message};

/// What the `on_retry` hook is told: the attempt number (from 1), its
/// error and the delay.
type RetryHook = Box<dyn FnMut(u32, &Error, Duration)>;

/// A browser client that reconnects by itself: after a lost connection it
/// reconnects with [`Backoff`] (timers from the browser, jitter from
/// `Math.random()`) and runs the `on_connect` hook on the new connection
/// before going on — the place to authenticate or resubscribe. The hook
/// runs on the first connection too. After the server's Close, the
/// [`ReconnectPolicy`] decides (by default 1001 and 1012 come back soon,
/// 1011/1013/1014 after a backoff delay, 1002/1003/1007–1010 and 4000–4999
/// stop with [`Error::ServerClosed`]).
///
/// Not retried: an invalid URL ([`Error::InvalidRequest`]). A refused
/// upgrade is retried like an unreachable server (the browser does not
/// tell them apart): bound it with
/// [`Backoff::max_attempts`](crate::wasm::Backoff::max_attempts). A send
/// on a dropped connection returns the error (the message is not resent);
/// the next call reconnects.
///
/// ```no_run
/// use wsproto::wasm::{ClientBuilder, Error, Message, ReconnectingClient, WebSocket};
///
/// # async fn run() -> Result<(), Error> {
/// let builder = ClientBuilder::new("wss://example.com/feed");
/// let mut client = ReconnectingClient::new(builder, async |ws: &mut WebSocket| {
///     ws.send("subscribe prices").await
/// });
/// while let Some(message) = client.recv().await {
///     if let Message::Text(text) = message? {
///         // …
/// #       let _ = text;
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct ReconnectingClient<F> {
    builder: ClientBuilder,
    backoff: Backoff,
    policy: ReconnectPolicy,
    /// The delay before the next connection's first attempt, set by the
    /// last connection's end.
    pause: Duration,
    on_connect: F,
    on_retry: Option<RetryHook>,
    ws: Option<WebSocket>,
    connects: u64,
    closing: bool,
}

impl<F> core::fmt::Debug for ReconnectingClient<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReconnectingClient")
            .field("url", &self.builder.url())
            .field("backoff", &self.backoff)
            .field("connected", &self.ws.is_some())
            .field("connects", &self.connects)
            .finish_non_exhaustive()
    }
}

/// A random number in `0.0..1.0` from the browser.
fn random() -> f64 {
    js_sys::Math::random()
}

impl<F> ReconnectingClient<F>
where
    F: AsyncFnMut(&mut WebSocket) -> Result<()>,
{
    /// A client for the builder's URL and settings; it connects on the
    /// first call that needs a connection.
    pub fn new(builder: ClientBuilder, on_connect: F) -> Self {
        ReconnectingClient {
            builder,
            backoff: Backoff::default(),
            policy: ReconnectPolicy::default(),
            pause: Duration::ZERO,
            on_connect,
            on_retry: None,
            ws: None,
            connects: 0,
            closing: false,
        }
    }

    /// The backoff between attempts.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// What to do after the server closes with a given code.
    #[must_use]
    pub fn policy(mut self, policy: ReconnectPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Called before each wait between attempts with the attempt number
    /// (from 1), its error and the delay: for logging and metrics.
    #[must_use]
    pub fn on_retry(mut self, hook: impl FnMut(u32, &Error, Duration) + 'static) -> Self {
        self.on_retry = Some(Box::new(hook));
        self
    }

    /// How many connections have been established (the first included).
    pub fn connects(&self) -> u64 {
        self.connects
    }

    /// The current connection, if any.
    pub fn get_ref(&self) -> Option<&WebSocket> {
        self.ws.as_ref()
    }

    /// The current connection, connecting first (retrying with the
    /// backoff, then running the hook) unless connected.
    pub async fn connect(&mut self) -> Result<&mut WebSocket> {
        if self.closing {
            return self.ws.as_mut().ok_or(Error::ConnectionClosed);
        }
        if self.ws.is_none() {
            let pause = core::mem::take(&mut self.pause);
            if !pause.is_zero() {
                sleep(pause).await;
            }
            let mut failures = 0u32;
            loop {
                let error = match self.builder.connect().await {
                    Ok(mut ws) => match (self.on_connect)(&mut ws).await {
                        Ok(()) => {
                            self.connects += 1;
                            self.ws = Some(ws);
                            break;
                        }
                        Err(e) => e,
                    },
                    Err(e) => e,
                };
                failures += 1;
                let permanent = matches!(
                    error,
                    Error::InvalidRequest(_) | Error::Usage(_) | Error::Unsupported(_)
                );
                if permanent || self.backoff.max_attempts.is_some_and(|m| failures >= m) {
                    return Err(error);
                }
                let delay = self.backoff.delay_with(failures - 1, random());
                if let Some(hook) = &mut self.on_retry {
                    hook(failures, &error, delay);
                }
                sleep(delay).await;
            }
        }
        self.ws.as_mut().ok_or(Error::ConnectionClosed)
    }

    /// The next message, reconnecting as often as needed (the server's
    /// Close is not handed out: the policy acts on it). After
    /// [`close`](Self::close), the end of that connection, then `None`.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        loop {
            if self.closing {
                let ws = self.ws.as_mut()?;
                let next = ws.recv().await;
                if next.is_none() {
                    self.ws = None;
                }
                return next;
            }
            let ws = match self.connect().await {
                Ok(ws) => ws,
                Err(error) => return Some(Err(error)),
            };
            match ws.recv().await {
                Some(Ok(Message::Close(frame))) => {
                    self.ws = None;
                    match self.policy.after_with(frame.code, &self.backoff, random()) {
                        AfterClose::Reconnect(pause) => self.pause = pause,
                        AfterClose::Stop => {
                            self.closing = true;
                            return Some(Err(Error::ServerClosed(frame)));
                        }
                    }
                }
                Some(Ok(message)) => return Some(Ok(message)),
                // Lost: come back at once (then with the backoff).
                Some(Err(_)) | None => self.ws = None,
            }
        }
    }

    /// Sends on the current connection, connecting first if needed.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        let result = self.connect().await?.send(message).await;
        if result.as_ref().is_err_and(Error::is_fatal) {
            self.ws = None;
        }
        result
    }

    /// Closes the current connection for good: no more reconnecting. Read
    /// on with [`recv`](Self::recv) until `None` for the server's answer.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<()> {
        self.closing = true;
        match self.ws.as_mut() {
            Some(ws) => ws.close(code, reason).await,
            None => Ok(()),
        }
    }
}
