//! Both adapters behind one blocking-style interface, so that a test of
//! what they share is written once and run against each.
//!
//! A test file lists such tests (plain `fn NAME()`, no `#[test]`) in
//! [`against_both_adapters!`], which makes each two tests,
//! `blocking::NAME` and `tokio::NAME` (with the `tokio` feature). Inside,
//! [`ClientBuilder`], [`ServerBuilder`], [`accept`], [`accept_with`] and
//! [`serve_one`] use the adapter of the test that runs
//! ([`Adapter::current`]), and every connection is a [`Ws`]: `send`,
//! `read` (the end of a connection is `Err(ConnectionClosed)` on both, as
//! the blocking adapter says it), `close`. On tokio, each thread drives
//! its connections on its own current-thread runtime; a [`Ws`] stays on
//! the thread that made it (it is not `Send`).
//!
//! Tests of what only one adapter has (the blocking split across
//! threads, tokio's paused clock, cancel safety) stay in that adapter's
//! files.

use std::cell::Cell;
use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use wsproto::handshake::{Established, OriginPolicy};
use wsproto::proxy::ProxyEnv;
use wsproto::{CloseCode, Config, State};

pub use wsproto::blocking::{Decision, Error, Message, Refusal, Request};

/// Which adapter a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `wsproto::blocking`.
    Blocking,
    /// `wsproto::tokio`.
    Tokio,
}

thread_local! {
    /// The adapter of the test running on this thread (and of the
    /// threads it started through [`Adapter::spawn`]).
    static CURRENT: Cell<Option<Adapter>> = const { Cell::new(None) };
}

impl Adapter {
    /// The adapter of the test running on this thread; panics outside
    /// [`against_both_adapters!`].
    pub fn current() -> Adapter {
        CURRENT.with(Cell::get).expect(
            "not in a test of against_both_adapters!, or in a thread not started by Adapter::spawn",
        )
    }

    /// Runs `test` with `self` as the current adapter.
    pub fn run(self, test: fn()) {
        CURRENT.with(|c| c.set(Some(self)));
        test();
    }

    /// A thread on the current adapter.
    pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        let adapter = Adapter::current();
        thread::spawn(move || {
            CURRENT.with(|c| c.set(Some(adapter)));
            f()
        })
    }
}

/// Makes each listed test function (a plain `fn NAME()`, no `#[test]`)
/// into two tests, `blocking::NAME` and `tokio::NAME` (with the `tokio`
/// feature), each with its adapter current (see the module docs). A test
/// written `#[cfg(...)] NAME` is there only with that configuration; one
/// written `#[tokio_ignore = "why"] NAME` is ignored on tokio, with the
/// reason: `cargo test -- --ignored` still runs it.
#[macro_export]
macro_rules! against_both_adapters {
    ($($(#[cfg($cfg:meta)])? $(#[tokio_ignore = $why:literal])? $test:ident),* $(,)?) => {
        mod blocking {
            $(
                $(#[cfg($cfg)])?
                #[test]
                fn $test() {
                    $crate::support::adapter::Adapter::Blocking.run(super::$test);
                }
            )*
        }
        #[cfg(feature = "tokio")]
        mod tokio {
            $(
                $(#[cfg($cfg)])?
                #[test]
                $(#[ignore = $why])?
                fn $test() {
                    $crate::support::adapter::Adapter::Tokio.run(super::$test);
                }
            )*
        }
    };
}

/// Runs `future` on this thread's tokio runtime (current-thread, made on
/// first use): what a tokio connection of this thread is driven by.
#[cfg(feature = "tokio")]
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A std socket as the tokio adapter takes it, registered with this
/// thread's runtime.
#[cfg(feature = "tokio")]
fn tokio_tcp(tcp: TcpStream) -> tokio::net::TcpStream {
    tcp.set_nonblocking(true).unwrap();
    block_on(async { tokio::net::TcpStream::from_std(tcp).unwrap() })
}

/// Whether a stream is TLS (a plain TCP stream never is).
trait Tls {
    fn is_tls(&self) -> bool;
}

impl Tls for TcpStream {
    fn is_tls(&self) -> bool {
        false
    }
}

impl<S> Tls for wsproto::blocking::MaybeTlsStream<S> {
    fn is_tls(&self) -> bool {
        wsproto::blocking::MaybeTlsStream::is_tls(self)
    }
}

#[cfg(feature = "tokio")]
impl Tls for tokio::net::TcpStream {
    fn is_tls(&self) -> bool {
        false
    }
}

#[cfg(feature = "tokio")]
impl<S> Tls for wsproto::tokio::MaybeTlsStream<S> {
    fn is_tls(&self) -> bool {
        wsproto::tokio::MaybeTlsStream::is_tls(self)
    }
}

/// One adapter's WebSocket, driven to completion on this thread.
trait Connection {
    fn send(&mut self, message: Message) -> Result<(), Error>;
    fn read(&mut self) -> Result<Message, Error>;
    fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error>;
    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error>;
    fn protocol(&self) -> Option<&str>;
    fn state(&self) -> State;
    fn is_tls(&self) -> bool;
}

impl<S: wsproto::blocking::Stream + Tls> Connection for wsproto::blocking::WebSocket<S> {
    fn send(&mut self, message: Message) -> Result<(), Error> {
        wsproto::blocking::WebSocket::send(self, message)
    }
    fn read(&mut self) -> Result<Message, Error> {
        wsproto::blocking::WebSocket::read(self)
    }
    fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        wsproto::blocking::WebSocket::send_ping(self, payload)
    }
    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        wsproto::blocking::WebSocket::close(self, code, reason)
    }
    fn protocol(&self) -> Option<&str> {
        wsproto::blocking::WebSocket::protocol(self)
    }
    fn state(&self) -> State {
        wsproto::blocking::WebSocket::state(self)
    }
    fn is_tls(&self) -> bool {
        self.get_ref().is_tls()
    }
}

#[cfg(feature = "tokio")]
impl<S> Connection for wsproto::tokio::WebSocket<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Tls,
{
    fn send(&mut self, message: Message) -> Result<(), Error> {
        block_on(wsproto::tokio::WebSocket::send(self, message))
    }
    fn read(&mut self) -> Result<Message, Error> {
        block_on(self.recv()).unwrap_or(Err(Error::ConnectionClosed))
    }
    fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        block_on(wsproto::tokio::WebSocket::send_ping(self, payload))
    }
    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        block_on(wsproto::tokio::WebSocket::close(self, code, reason))
    }
    fn protocol(&self) -> Option<&str> {
        wsproto::tokio::WebSocket::protocol(self)
    }
    fn state(&self) -> State {
        wsproto::tokio::WebSocket::state(self)
    }
    fn is_tls(&self) -> bool {
        self.get_ref().is_tls()
    }
}

/// A WebSocket of either adapter, used as a blocking one.
pub struct Ws(Box<dyn Connection>);

impl Ws {
    fn new(connection: impl Connection + 'static) -> Ws {
        Ws(Box::new(connection))
    }

    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.0.send(message.into())
    }

    /// The next message; the end of the connection is an error,
    /// `ConnectionClosed` after a normal close.
    pub fn read(&mut self) -> Result<Message, Error> {
        self.0.read()
    }

    pub fn send_ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.0.send_ping(payload.as_ref())
    }

    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        self.0.close(code.into(), reason)
    }

    pub fn protocol(&self) -> Option<&str> {
        self.0.protocol()
    }

    pub fn state(&self) -> State {
        self.0.state()
    }

    pub fn is_tls(&self) -> bool {
        self.0.is_tls()
    }

    /// Echoes data messages until the connection ends (or a send
    /// fails); returns how it ended and how many messages were echoed.
    pub fn echo(&mut self) -> (Error, usize) {
        let mut count = 0;
        loop {
            match self.read() {
                Ok(message) if message.is_data() => {
                    if let Err(e) = self.send(message) {
                        return (e, count);
                    }
                    count += 1;
                }
                Ok(_) => {}
                Err(e) => return (e, count),
            }
        }
    }

    /// Reads until the end of the connection: the messages seen on the
    /// way and the final error.
    pub fn drain(&mut self) -> (Vec<Message>, Error) {
        let mut seen = Vec::new();
        loop {
            match self.read() {
                Ok(message) => seen.push(message),
                Err(e) => return (seen, e),
            }
        }
    }
}

/// A client builder of the current adapter: the same settings, set in
/// the same order, on `wsproto::blocking::ClientBuilder` or
/// `wsproto::tokio::ClientBuilder`. `Debug` is the adapter builder's.
#[derive(Debug, Clone)]
pub enum ClientBuilder {
    Blocking(wsproto::blocking::ClientBuilder),
    #[cfg(feature = "tokio")]
    Tokio(wsproto::tokio::ClientBuilder),
}

/// `$e` applied to the adapter builder `$b` inside `$self`, whichever
/// adapter's it is (their methods have the same names).
macro_rules! each {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            Self::Blocking($b) => Self::Blocking($e),
            #[cfg(feature = "tokio")]
            Self::Tokio($b) => Self::Tokio($e),
        }
    };
}

impl ClientBuilder {
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        match Adapter::current() {
            Adapter::Blocking => {
                ClientBuilder::Blocking(wsproto::blocking::ClientBuilder::new(url))
            }
            #[cfg(feature = "tokio")]
            Adapter::Tokio => ClientBuilder::Tokio(wsproto::tokio::ClientBuilder::new(url)),
            #[cfg(not(feature = "tokio"))]
            Adapter::Tokio => unreachable!("tokio tests need the tokio feature"),
        }
    }

    pub fn config(self, config: Config) -> Self {
        each!(self, b => b.config(config))
    }

    pub fn handshake_limits(self, limits: wsproto::HandshakeLimits) -> Self {
        each!(self, b => b.handshake_limits(limits))
    }

    pub fn handshake_timeout(self, timeout: Duration) -> Self {
        each!(self, b => b.handshake_timeout(timeout))
    }

    pub fn proxy_env(self, env: ProxyEnv) -> Self {
        each!(self, b => b.proxy_env(env))
    }

    pub fn no_proxy(self) -> Self {
        each!(self, b => b.no_proxy())
    }

    pub fn protocol(self, protocol: &str) -> Self {
        each!(self, b => b.protocol(protocol))
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        each!(self, b => b.header(name, value))
    }

    pub fn origin(self, origin: &str) -> Self {
        each!(self, b => b.origin(origin))
    }

    pub fn proxy(self, url: impl AsRef<str>) -> Self {
        each!(self, b => b.proxy(url.as_ref()))
    }

    #[cfg(feature = "tls")]
    pub fn tls_config(self, config: std::sync::Arc<wsproto::tls::rustls::ClientConfig>) -> Self {
        each!(self, b => b.tls_config(config))
    }

    /// Connects: TCP (through the proxy, if any), TLS for `wss://`, the
    /// opening handshake.
    pub fn connect(&self) -> Result<(Ws, Established), Error> {
        match self {
            Self::Blocking(b) => b.connect().map(|(ws, e)| (Ws::new(ws), e)),
            #[cfg(feature = "tokio")]
            Self::Tokio(t) => block_on(t.connect()).map(|(ws, e)| (Ws::new(ws), e)),
        }
    }

    /// The first error of a reconnecting client built on this builder,
    /// which must come without a retry (a retry panics).
    pub fn reconnect_error_without_retry(self) -> Error {
        match self {
            Self::Blocking(b) => {
                let mut client = wsproto::blocking::ReconnectingClient::new(b, |_, _| Ok(()))
                    .on_retry(|_, e, _| panic!("retried after {e:?}"));
                client.read().unwrap_err()
            }
            #[cfg(feature = "tokio")]
            Self::Tokio(t) => {
                let mut client = wsproto::tokio::ReconnectingClient::new(t, async |_, _| Ok(()))
                    .on_retry(|_, e, _| panic!("retried after {e:?}"));
                block_on(client.recv()).unwrap().unwrap_err()
            }
        }
    }
}

/// `ClientBuilder::new(url).connect()`.
pub fn connect(url: &str) -> Result<(Ws, Established), Error> {
    ClientBuilder::new(url).connect()
}

/// The client's opening handshake over a stream the caller connected.
pub fn client_handshake(
    tcp: TcpStream,
    request: wsproto::handshake::ClientRequest,
) -> Result<(Ws, Established), Error> {
    match Adapter::current() {
        Adapter::Blocking => {
            wsproto::blocking::client_handshake(tcp, request).map(|(ws, e)| (Ws::new(ws), e))
        }
        #[cfg(feature = "tokio")]
        Adapter::Tokio => block_on(wsproto::tokio::client_handshake(tokio_tcp(tcp), request))
            .map(|(ws, e)| (Ws::new(ws), e)),
        #[cfg(not(feature = "tokio"))]
        Adapter::Tokio => unreachable!("tokio tests need the tokio feature"),
    }
}

/// A server builder of the current adapter, as [`ClientBuilder`].
#[derive(Debug, Clone)]
pub enum ServerBuilder {
    Blocking(wsproto::blocking::ServerBuilder),
    #[cfg(feature = "tokio")]
    Tokio(wsproto::tokio::ServerBuilder),
}

impl ServerBuilder {
    pub fn new() -> ServerBuilder {
        match Adapter::current() {
            Adapter::Blocking => ServerBuilder::Blocking(wsproto::blocking::ServerBuilder::new()),
            #[cfg(feature = "tokio")]
            Adapter::Tokio => ServerBuilder::Tokio(wsproto::tokio::ServerBuilder::new()),
            #[cfg(not(feature = "tokio"))]
            Adapter::Tokio => unreachable!("tokio tests need the tokio feature"),
        }
    }

    pub fn config(self, config: Config) -> Self {
        each!(self, b => b.config(config))
    }

    pub fn handshake_timeout(self, timeout: Duration) -> Self {
        each!(self, b => b.handshake_timeout(timeout))
    }

    pub fn origin_policy(self, policy: OriginPolicy) -> Self {
        each!(self, b => b.origin_policy(policy))
    }

    pub fn write_timeout(self, timeout: Option<Duration>) -> Self {
        each!(self, b => b.write_timeout(timeout))
    }

    /// The blocking adapter's builder; panics on another adapter's.
    pub fn blocking(&self) -> wsproto::blocking::ServerBuilder {
        match self {
            Self::Blocking(b) => b.clone(),
            #[cfg(feature = "tokio")]
            Self::Tokio(_) => panic!("a tokio server builder"),
        }
    }

    /// The tokio adapter's builder; panics on another adapter's.
    #[cfg(feature = "tokio")]
    pub fn tokio(&self) -> wsproto::tokio::ServerBuilder {
        match self {
            Self::Tokio(t) => t.clone(),
            Self::Blocking(_) => panic!("a blocking server builder"),
        }
    }

    pub fn accept(&self, tcp: TcpStream) -> Result<Ws, Error> {
        self.accept_with(tcp, |_| Decision::accept())
    }

    pub fn accept_with(
        &self,
        tcp: TcpStream,
        decide: impl FnOnce(Request<'_>) -> Decision,
    ) -> Result<Ws, Error> {
        match self {
            Self::Blocking(b) => b.accept_with(tcp, decide).map(Ws::new),
            #[cfg(feature = "tokio")]
            Self::Tokio(t) => block_on(t.accept_with(tokio_tcp(tcp), decide)).map(Ws::new),
        }
    }
}

/// TLS with `config` on `tcp` (given up on after `timeout`), then a
/// WebSocket inside it, with the current adapter's defaults.
#[cfg(feature = "tls")]
pub fn accept_tls(
    tcp: TcpStream,
    config: std::sync::Arc<wsproto::tls::rustls::ServerConfig>,
    timeout: Duration,
) -> Result<Ws, Error> {
    match Adapter::current() {
        Adapter::Blocking => {
            let tls = wsproto::blocking::accept_tls(tcp, config, timeout)?;
            wsproto::blocking::accept(tls).map(Ws::new)
        }
        #[cfg(feature = "tokio")]
        Adapter::Tokio => {
            let tcp = tokio_tcp(tcp);
            block_on(async {
                let tls = wsproto::tokio::accept_tls(tcp, config, timeout).await?;
                wsproto::tokio::accept(tls).await
            })
            .map(Ws::new)
        }
        #[cfg(not(feature = "tokio"))]
        Adapter::Tokio => unreachable!("tokio tests need the tokio feature"),
    }
}

/// Accepts a WebSocket on `tcp` with the current adapter's defaults.
pub fn accept(tcp: TcpStream) -> Result<Ws, Error> {
    ServerBuilder::new().accept(tcp)
}

/// [`accept`] with a decision on the request.
pub fn accept_with(
    tcp: TcpStream,
    decide: impl FnOnce(Request<'_>) -> Decision,
) -> Result<Ws, Error> {
    ServerBuilder::new().accept_with(tcp, decide)
}

/// Binds 127.0.0.1:0 and runs `f` on the first accepted connection, in a
/// thread on the current adapter.
pub fn serve_one<R, F>(f: F) -> (SocketAddr, JoinHandle<R>)
where
    R: Send + 'static,
    F: FnOnce(TcpStream) -> R + Send + 'static,
{
    let adapter = Adapter::current();
    super::net::serve_one(move |tcp| {
        CURRENT.with(|c| c.set(Some(adapter)));
        f(tcp)
    })
}
