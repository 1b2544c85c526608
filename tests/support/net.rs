//! Ports held by whoever uses them: a server binds port 0 and keeps its
//! listener, and a port that must refuse connections stays bound (not
//! listening) for as long as a test needs it refused. No port is chosen by
//! binding and letting go, which another test could take in between; a
//! program that needs a number on its command line gets one outside the
//! kernel's ephemeral range ([`candidate_port`]) and is watched until it
//! holds it (`child::start_on_a_port`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

use socket2::{Domain, Socket, Type};

/// A port on 127.0.0.1 that refuses connections: bound, never listening,
/// so that no other socket can take it while this lives (a connection to
/// it is answered with a reset: "connection refused").
pub struct RefusedPort {
    socket: Socket,
    addr: SocketAddr,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        RefusedPort { socket, addr }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Binds 127.0.0.1:0 and runs `f` on the first accepted connection in a
/// thread.
pub fn serve_one<R, F>(f: F) -> (SocketAddr, JoinHandle<R>)
where
    R: Send + 'static,
    F: FnOnce(TcpStream) -> R + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        f(stream)
    });
    (addr, handle)
}

/// `ws://ADDR/`.
pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// A port for a program that needs a number: below the kernel's
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), from
/// 20,000 up, so that no port-0 bind and no outgoing connection of any
/// process is handed it; spread by process and call, so that parallel
/// tests rarely try the same one (when they do, the second program fails
/// to bind and is started again on another).
pub fn candidate_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let low: usize = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let base = 20_000;
    let span = low.saturating_sub(base).max(1000);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (base + (std::process::id() as usize * 7919 + n * 104_729) % span) as u16
}
