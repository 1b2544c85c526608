//! Real proxies for the proxy tests: Debian's `tinyproxy` (HTTP CONNECT)
//! and `microsocks` (SOCKS5), each started on a loopback port with a
//! generated configuration, waited for until it listens, and killed when
//! dropped. `.ci/run` installs both; without them a test fails under
//! `CI=true` and is skipped (with the reason printed) otherwise.
//!
//! The port is held by the proxy itself from the start: microsocks binds
//! port 0 and its port is read from `/proc` (the listening socket among
//! its own descriptors). tinyproxy refuses port 0, so it is given a port
//! outside the kernel's ephemeral range (which no port-0 bind or outgoing
//! connection is handed), and started again on another if that one is
//! taken; it counts as started only when its own process holds the
//! listening socket, so another program on the port is never mistaken for
//! it.
//!
//! Also an echo server (plain or TLS with a self-signed certificate for
//! `localhost`) that serves any number of clients and records the TLS
//! server name each one asked for.

// Without the `tls` feature `TlsServerConfig` is `()`, which is `Copy`.
#![allow(clippy::clone_on_copy)]

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wsproto::blocking::{Error, accept};
use wsproto::proxy::ProxyError;

use super::blocking::echo;
use super::child::wait_listening;
use super::net::candidate_port;
#[cfg(feature = "tls")]
pub use super::tls::{certified, pki, trusting};

/// The credentials of the proxies the tests start with authentication.
pub const AUTH: (&str, &str) = ("alice", "pw-s3cret");

/// The proxy's refusal or failure inside `e`; panics on any other error.
pub fn proxy_error(e: Error) -> ProxyError {
    match e {
        Error::Proxy(p) => p,
        other => panic!("not a proxy error: {other:?}"),
    }
}

/// The address tinyproxy connects to targets from (`Bind`): a server
/// that sees it was reached through the proxy.
pub const TINYPROXY_OUT: &str = "127.0.0.2";
/// The address microsocks connects to targets from (`-b`).
pub const MICROSOCKS_OUT: &str = "127.0.0.3";

/// A proxy process on 127.0.0.1, killed on drop.
pub struct ProxyProcess {
    child: Child,
    port: u16,
    dir: PathBuf,
    name: &'static str,
}

/// Whether `program` can be run; if not, fails under CI and otherwise
/// prints why the test is skipped.
pub fn available(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if !found {
        let why = format!(
            "{program} is not installed (Debian: apt-get install -y tinyproxy microsocks; .ci/run installs it)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
    }
    found
}

/// A scratch directory for one proxy's configuration and log.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wsproto-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// How a proxy gets its port.
#[derive(Clone, Copy)]
enum Port {
    /// It binds port 0; the port is read from `/proc` once it listens.
    Zero,
    /// It needs a number: [`candidate_port`], another if that one turns
    /// out to be taken.
    Chosen,
}

impl ProxyProcess {
    /// tinyproxy allowing CONNECT to any port from 127.0.0.1, with Basic
    /// authentication when `auth` is given.
    pub fn tinyproxy(auth: Option<(&str, &str)>) -> Option<Self> {
        Self::tinyproxy_with(auth, "Allow 127.0.0.1")
    }

    /// tinyproxy that refuses every client (403): its ACL allows only an
    /// address that is not ours.
    pub fn tinyproxy_denying_all() -> Option<Self> {
        Self::tinyproxy_with(None, "Allow 192.0.2.1")
    }

    fn tinyproxy_with(auth: Option<(&str, &str)>, allow: &str) -> Option<Self> {
        if !available("tinyproxy") {
            return None;
        }
        let dir = scratch("tinyproxy");
        let auth = auth.map_or(String::new(), |(u, p)| format!("BasicAuth {u} {p}\n"));
        Some(Self::start("tinyproxy", dir, Port::Chosen, |dir, port| {
            let config = dir.join("tinyproxy.conf");
            fs::write(
                &config,
                format!(
                    "Port {port}\nListen 127.0.0.1\nBind {TINYPROXY_OUT}\nTimeout 30\nMaxClients 64\n{allow}\n\
                     LogLevel Info\nLogFile \"{log}\"\nPidFile \"{pid}\"\n{auth}",
                    log = dir.join("log").display(),
                    pid = dir.join("pid").display(),
                ),
            )
            .unwrap();
            let mut command = Command::new("tinyproxy");
            command.arg("-d").arg("-c").arg(config);
            command
        }))
    }

    /// microsocks, with username/password when `auth` is given.
    pub fn microsocks(auth: Option<(&str, &str)>) -> Option<Self> {
        if !available("microsocks") {
            return None;
        }
        let auth = auth.map(|(u, p)| (u.to_owned(), p.to_owned()));
        Some(Self::start(
            "microsocks",
            scratch("microsocks"),
            Port::Zero,
            |_, port| {
                let mut command = Command::new("microsocks");
                command.args([
                    "-i",
                    "127.0.0.1",
                    "-b",
                    MICROSOCKS_OUT,
                    "-p",
                    &port.to_string(),
                ]);
                if let Some((u, p)) = &auth {
                    command.args(["-u", u, "-P", p]);
                }
                command
            },
        ))
    }

    /// Starts the command `make` builds for a port (0 for [`Port::Zero`])
    /// and waits until it listens; a few tries for a [`Port::Chosen`]
    /// taken by someone else.
    fn start(
        name: &'static str,
        dir: PathBuf,
        port: Port,
        make: impl Fn(&Path, u16) -> Command,
    ) -> Self {
        for _ in 0..10 {
            let number = match port {
                Port::Zero => 0,
                Port::Chosen => candidate_port(),
            };
            let out = fs::File::create(dir.join("output")).unwrap();
            let child = make(&dir, number)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            let mut proxy = ProxyProcess {
                child,
                port: number,
                dir: dir.clone(),
                name,
            };
            if proxy.wait_listening() {
                return proxy;
            }
        }
        panic!("{name} did not start; see {}", dir.display());
    }

    /// Waits until the process itself listens on its port (on some port,
    /// which becomes its port, when it was given 0); false if it ended
    /// first (the port was taken).
    fn wait_listening(&mut self) -> bool {
        match wait_listening(&mut self.child, self.port, self.name) {
            Some(port) => {
                self.port = port;
                true
            }
            None => false,
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://[user:password@]127.0.0.1:port`.
    pub fn url(&self, scheme: &str, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((u, p)) => format!("{scheme}://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// Stops the process (SIGSTOP) without closing its socket: the kernel
    /// still accepts connections, and nothing answers them.
    pub fn pause(&self) {
        let status = Command::new("kill")
            .args(["-STOP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// What the proxy logged (tinyproxy's log file, microsocks' output).
    pub fn output(&self) -> String {
        let mut text = String::new();
        for file in ["log", "output"] {
            if let Ok(mut f) = fs::File::open(self.dir.join(file)) {
                let _ = f.read_to_string(&mut text);
            }
        }
        text
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// An echo server on 127.0.0.1 (and on ::1 at the same port when it can
/// be had, for a `localhost` that resolves to it): every connection in a
/// thread, TLS when configured. Records the TLS server name (SNI) each
/// TLS client sent.
pub struct EchoServer {
    pub port: u16,
    pub server_names: Arc<Mutex<Vec<Option<String>>>>,
    pub connections: Arc<AtomicUsize>,
    /// The address each client came from.
    pub peers: Arc<Mutex<Vec<String>>>,
}

#[cfg(feature = "tls")]
pub type TlsServerConfig = Arc<wsproto::tls::rustls::ServerConfig>;
#[cfg(not(feature = "tls"))]
pub type TlsServerConfig = ();

impl EchoServer {
    pub fn start(tls: Option<TlsServerConfig>) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = EchoServer {
            port,
            server_names: Arc::default(),
            connections: Arc::default(),
            peers: Arc::default(),
        };
        let mut listeners = vec![listener];
        if let Ok(v6) = TcpListener::bind(("::1", port)) {
            listeners.push(v6);
        }
        for listener in listeners {
            let names = server.server_names.clone();
            let count = server.connections.clone();
            let peers = server.peers.clone();
            let tls = tls.clone();
            thread::spawn(move || {
                for tcp in listener.incoming() {
                    let Ok(tcp) = tcp else { continue };
                    if let Ok(peer) = tcp.peer_addr() {
                        peers.lock().unwrap().push(peer.ip().to_string());
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let names = names.clone();
                    let tls = tls.clone();
                    thread::spawn(move || serve(tcp, tls, &names));
                }
            });
        }
        server
    }

    /// The addresses clients came from, in order.
    pub fn peers(&self) -> Vec<String> {
        self.peers.lock().unwrap().clone()
    }
}

#[cfg(feature = "tls")]
fn serve(tcp: TcpStream, tls: Option<TlsServerConfig>, names: &Mutex<Vec<Option<String>>>) {
    use wsproto::blocking::MaybeTlsStream;
    use wsproto::tls::rustls::Connection;
    let stream = match tls {
        None => MaybeTlsStream::Plain(tcp),
        Some(config) => {
            let Ok(stream) = wsproto::blocking::accept_tls(tcp, config, Duration::from_secs(10))
            else {
                return;
            };
            if let MaybeTlsStream::Tls(t) = &stream {
                if let Connection::Server(s) = t.connection() {
                    names
                        .lock()
                        .unwrap()
                        .push(s.server_name().map(str::to_owned));
                }
            }
            stream
        }
    };
    if let Ok(mut ws) = accept(stream) {
        let _ = echo(&mut ws);
    }
}

#[cfg(not(feature = "tls"))]
fn serve(tcp: TcpStream, _tls: Option<TlsServerConfig>, _names: &Mutex<Vec<Option<String>>>) {
    if let Ok(mut ws) = accept(tcp) {
        let _ = echo(&mut ws);
    }
}

/// An `https://` proxy made of two real parts: a TLS front on 127.0.0.1
/// (this crate's blocking TLS server) that forwards the plaintext both
/// ways to a tinyproxy on `to_port`. Records the TLS server name each
/// client asked for.
#[cfg(feature = "tls")]
pub struct TlsFront {
    pub port: u16,
    pub server_names: Arc<Mutex<Vec<Option<String>>>>,
}

#[cfg(feature = "tls")]
impl TlsFront {
    pub fn start(config: TlsServerConfig, to_port: u16) -> TlsFront {
        use std::io::Write;
        use std::net::Shutdown;
        use wsproto::blocking::{MaybeTlsStream, SplitStream};
        use wsproto::tls::rustls::Connection;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = TlsFront {
            port: listener.local_addr().unwrap().port(),
            server_names: Arc::default(),
        };
        let names = front.server_names.clone();
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                let names = names.clone();
                thread::spawn(move || {
                    let Ok(tls) =
                        wsproto::blocking::accept_tls(tcp, config, Duration::from_secs(10))
                    else {
                        return;
                    };
                    if let MaybeTlsStream::Tls(t) = &tls {
                        if let Connection::Server(s) = t.connection() {
                            names
                                .lock()
                                .unwrap()
                                .push(s.server_name().map(str::to_owned));
                        }
                    }
                    let upstream = TcpStream::connect(("127.0.0.1", to_port)).unwrap();
                    let (mut from_client, mut to_client) = tls.split_stream().unwrap();
                    let mut to_proxy = upstream.try_clone().unwrap();
                    thread::spawn(move || {
                        let _ = std::io::copy(&mut from_client, &mut to_proxy);
                        let _ = to_proxy.shutdown(Shutdown::Write);
                    });
                    let mut from_proxy = upstream;
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(n @ 1..) = from_proxy.read(&mut buf) {
                        if to_client
                            .write_all(&buf[..n])
                            .and_then(|()| to_client.flush())
                            .is_err()
                        {
                            break;
                        }
                    }
                    let _ = wsproto::blocking::WriteHalf::shutdown_write(&mut to_client);
                });
            }
        });
        front
    }
}

/// A fake proxy for what the real ones will not do on demand: a listener
/// on 127.0.0.1 that runs `f` on each connection (answer a fixed status,
/// close at once, or stall).
pub fn scripted_proxy(f: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let f = Arc::new(f);
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let f = f.clone();
            thread::spawn(move || f(tcp));
        }
    });
    port
}

/// Reads a request head (up to the blank line) from `tcp`.
pub fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}
