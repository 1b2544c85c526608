//! The hostile-peer suites' server and raw peer: a real server on
//! 127.0.0.1 (port 0; the blocking adapter with a thread per connection,
//! or the tokio adapter with a task per connection on a current-thread
//! runtime), a raw TCP peer that writes hand-built bytes, and the three
//! checks every case makes: the answer, the time it took, and a
//! well-behaved client served afterwards.
//!
//! Each test file lists its tests in [`against_both_adapters!`], which
//! runs every one against both servers (`blocking::NAME`, `tokio::NAME`):
//! the tests call [`Server::start`] or [`Server::with`] and get the
//! server of the run they are in.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wsproto::Parsed;
use wsproto::blocking::{ClientBuilder, Error, Message};
use wsproto::frame::{FrameHeader, OpCode};

pub use super::adapter::{Adapter, ServerBuilder};
pub use super::procfs::{rss_kib, status_kib};
pub use super::timing::within;
pub use super::wire::*;

/// Upper bound for anything that should be instant, generous enough for a
/// loaded 2-core machine running debug builds.
pub const INSTANT: Duration = Duration::from_secs(5);

/// How a server-side connection ended: the handshake error, or the error
/// that ended the echo loop after a successful handshake.
#[derive(Debug)]
pub enum Outcome {
    Refused(Error),
    Ended(Error),
}

impl Outcome {
    pub fn error(&self) -> &Error {
        match self {
            Outcome::Refused(e) | Outcome::Ended(e) => e,
        }
    }
}

/// A server on 127.0.0.1:0 on the adapter of the running test (see
/// [`against_both_adapters!`]), each connection echoing data messages
/// until it ends. Every connection's outcome is reported in the order
/// the connections end.
pub struct Server {
    pub addr: SocketAddr,
    outcomes: Mutex<mpsc::Receiver<(SocketAddr, Outcome)>>,
    /// Client addresses of [`Server::assert_serves`], whose outcomes
    /// [`Server::outcome`] skips.
    friendly: Mutex<HashSet<SocketAddr>>,
    stop: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// The default server: default settings and config.
    pub fn start() -> Server {
        Server::with(ServerBuilder::new())
    }

    /// A server built by `builder` (of the current adapter).
    pub fn with(builder: ServerBuilder) -> Server {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(AtomicUsize::new(0));
        let (addr, acceptor) = match Adapter::current() {
            Adapter::Blocking => {
                blocking_server(builder.blocking(), tx, stop.clone(), live.clone())
            }
            #[cfg(feature = "tokio")]
            Adapter::Tokio => tokio_server::start(builder.tokio(), tx, stop.clone(), live.clone()),
            #[cfg(not(feature = "tokio"))]
            Adapter::Tokio => unreachable!("tokio tests need the tokio feature"),
        };
        Server {
            addr,
            outcomes: Mutex::new(rx),
            friendly: Mutex::new(HashSet::new()),
            stop,
            live,
            acceptor: Some(acceptor),
        }
    }

    /// The outcome of the next connection to end (bounded wait), other
    /// than the well-behaved clients of [`Server::assert_serves`].
    pub fn outcome(&self) -> Outcome {
        let outcomes = self.outcomes.lock().unwrap();
        loop {
            let (peer, outcome) = outcomes
                .recv_timeout(INSTANT * 3)
                .expect("a server connection did not end in time");
            if !self.friendly.lock().unwrap().contains(&peer) {
                return outcome;
            }
        }
    }

    /// Connection threads still running.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// A well-behaved client gets an echo, promptly; returns how long the
    /// whole exchange took. [`Server::outcome`] skips its server-side
    /// outcome.
    pub fn assert_serves(&self) -> Duration {
        let started = Instant::now();
        let (mut ws, _) = ClientBuilder::new(format!("ws://{}/", self.addr))
            .handshake_timeout(INSTANT)
            .connect()
            .expect("a well-behaved client must still be served");
        let local = ws.get_ref().get_ref().local_addr().unwrap();
        self.friendly.lock().unwrap().insert(local);
        ws.get_ref()
            .get_ref()
            .set_read_timeout(Some(INSTANT))
            .unwrap();
        ws.send("still there?").unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("still there?"));
        ws.close(1000, "").unwrap();
        loop {
            match ws.read() {
                Ok(_) => {}
                Err(e) if e.is_closed() => break,
                Err(e) => panic!("closing: {e:?}"),
            }
        }
        let elapsed = started.elapsed();
        assert!(elapsed < INSTANT, "echo took {elapsed:?}");
        elapsed
    }
}

type Outcomes = mpsc::Sender<(SocketAddr, Outcome)>;

/// The blocking server: an acceptor thread and a thread per connection.
fn blocking_server(
    builder: wsproto::blocking::ServerBuilder,
    tx: Outcomes,
    stop: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = thread::spawn(move || {
        for tcp in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(tcp) = tcp else { continue };
            let Ok(peer) = tcp.peer_addr() else { continue };
            let builder = builder.clone();
            let tx = tx.clone();
            let live = live.clone();
            live.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                let outcome = match builder.accept(tcp) {
                    Err(e) => Outcome::Refused(e),
                    Ok(mut ws) => Outcome::Ended(super::blocking::echo(&mut ws).0),
                };
                live.fetch_sub(1, Ordering::SeqCst);
                let _ = tx.send((peer, outcome));
            });
        }
    });
    (addr, acceptor)
}

/// The tokio server: a current-thread runtime on its own thread, a task
/// per connection.
#[cfg(feature = "tokio")]
mod tokio_server {
    use super::*;

    pub(super) fn start(
        builder: wsproto::tokio::ServerBuilder,
        tx: Outcomes,
        stop: Arc<AtomicBool>,
        live: Arc<AtomicUsize>,
    ) -> (SocketAddr, JoinHandle<()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Bound here so that the address is known when `start` returns.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = listener.accept().await;
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok((tcp, peer)) = accepted else { continue };
                    let builder = builder.clone();
                    let tx = tx.clone();
                    let live = live.clone();
                    live.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let outcome = match builder.accept(tcp).await {
                            Err(e) => Outcome::Refused(e),
                            // A normal end (`recv` gives `None` after the
                            // closing handshake) is reported as the
                            // blocking adapter reports it.
                            Ok(mut ws) => Outcome::Ended(
                                super::super::tokio_ws::echo(&mut ws)
                                    .await
                                    .err()
                                    .unwrap_or(Error::ConnectionClosed),
                            ),
                        };
                        live.fetch_sub(1, Ordering::SeqCst);
                        let _ = tx.send((peer, outcome));
                    });
                }
            });
            // Dropping the runtime here drops the tasks still running.
        });
        (addr, acceptor)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A raw TCP peer with read and write timeouts, so nothing blocks forever.
pub fn raw(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(INSTANT)).unwrap();
    tcp.set_write_timeout(Some(INSTANT)).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}

/// A valid upgrade request for `/chat` with `extra` header lines (each
/// ending in CRLF) before the blank line.
pub fn request_with(extra: &str) -> String {
    upgrade_request("/chat", extra)
}

/// Writes bytes, ignoring a reset: a server may refuse and close while we
/// are still writing.
pub fn write_lossy(tcp: &mut TcpStream, bytes: &[u8]) {
    let _ = tcp.write_all(bytes);
}

/// Reads until end of stream (or a reset, or `cap` bytes).
pub fn read_to_end(tcp: &mut TcpStream, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < cap {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => panic!("no end of stream within the read timeout"),
            Err(_) => break,
        }
    }
    out
}

pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The status code of the HTTP response the peer sent, read until end of
/// stream (a refusal is followed by the server closing).
pub fn http_status(tcp: &mut TcpStream) -> u16 {
    let answer = read_to_end(tcp, 1 << 20);
    let text = String::from_utf8_lossy(&answer);
    let line = text.lines().next().unwrap_or("");
    assert!(
        line.starts_with("HTTP/1.1 "),
        "not an HTTP answer: {text:?}"
    );
    line[9..12].parse().unwrap()
}

/// Reads the server's head up to the blank line and asserts `101`; returns
/// bytes that came after the head.
pub fn read_101(tcp: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tcp.read(&mut buf).expect("reading the 101");
        assert!(n > 0, "end of stream before the 101");
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(
                head.starts_with(b"HTTP/1.1 101 "),
                "{:?}",
                String::from_utf8_lossy(&head)
            );
            return head[end + 4..].to_vec();
        }
    }
}

/// A raw client past a valid handshake.
pub struct RawWs {
    pub tcp: TcpStream,
    pub pending: Vec<u8>,
}

impl RawWs {
    pub fn connect(addr: SocketAddr) -> RawWs {
        let mut tcp = raw(addr);
        tcp.write_all(request_with("").as_bytes()).unwrap();
        let pending = read_101(&mut tcp);
        RawWs { tcp, pending }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        write_lossy(&mut self.tcp, bytes);
    }

    /// The next frame from the server: (opcode, fin, payload).
    pub fn next_frame(&mut self) -> Option<(OpCode, bool, Vec<u8>)> {
        let mut buf = [0u8; 8192];
        loop {
            if let Ok(Parsed::Complete((header, used))) = FrameHeader::decode(&self.pending) {
                let len = header.payload_len as usize;
                if self.pending.len() >= used + len {
                    let payload = self.pending[used..used + len].to_vec();
                    self.pending.drain(..used + len);
                    assert!(header.mask.is_none(), "server frames are not masked");
                    return Some((header.opcode, header.fin, payload));
                }
            }
            match self.tcp.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => panic!("no frame within the read timeout"),
                Err(_) => return None,
            }
        }
    }

    /// Reads frames until the server's Close; returns its code.
    pub fn close_code(&mut self) -> u16 {
        loop {
            match self.next_frame() {
                Some((OpCode::Close, _, payload)) => {
                    assert!(payload.len() >= 2, "close without a code");
                    return u16::from_be_bytes([payload[0], payload[1]]);
                }
                Some(_) => {}
                None => panic!("end of stream without a Close frame"),
            }
        }
    }

    /// After the server's Close, it ends the TCP connection (RFC 6455 §7.1.1:
    /// the server closes first).
    pub fn expect_eof(&mut self) {
        while self.next_frame().is_some() {}
    }
}

/// The server's close code, as the protocol error on its side.
pub fn protocol_code(outcome: &Outcome) -> Option<u16> {
    match outcome.error() {
        Error::Protocol(p) => Some(p.close_code().as_u16()),
        _ => None,
    }
}

/// Shuts the connection down both ways (ignoring errors).
pub fn hang_up(tcp: &TcpStream) {
    let _ = tcp.shutdown(Shutdown::Both);
}
