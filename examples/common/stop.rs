//! Stopping a blocking accept loop on `SIGTERM` or Ctrl-C (`SIGINT`),
//! shared by the blocking example servers (`echo_server`, `chat_server`,
//! `tls_echo_server`, `auth_server`).
//!
//! A thread of its own waits for the signal (the handler itself, inside
//! `signal-hook`, only writes to a pipe), marks the server stopped, then
//! wakes the loop blocked in `accept` with a connection of its own to the
//! listener. The loop looks at [`Stop::requested`] after every `accept`
//! and stops. That is free of races: the mark is set before the wake-up
//! connection is made, so the `accept` that returns it (or any earlier
//! one that returns later) sees the mark. The server then shuts its
//! `ConnectionSet` down and waits for it. A second signal ends the
//! process at once.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long the closing handshakes may take before the connections left
/// are cut: the process is gone well within the 10 s close timeout.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Whether a signal asked the server to stop.
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Handles `SIGTERM` and `SIGINT` from now on for the accept loop of
    /// `listener` (see the module's docs).
    pub fn on_signals(listener: &TcpListener) -> io::Result<Stop> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let wake = wake_address(listener.local_addr()?);
        let stopped = Arc::new(AtomicBool::new(false));
        let mark = stopped.clone();
        thread::spawn(move || {
            let mut signals = signals.forever();
            let Some(signal) = signals.next() else { return };
            let name = if signal == SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            eprintln!("shutdown: {name}");
            mark.store(true, Ordering::Release);
            // Wakes the accept loop, which then sees the mark.
            if let Err(e) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
                eprintln!("shutdown: cannot wake the accept loop ({e}): exiting now");
                std::process::exit(1);
            }
            if signals.next().is_some() {
                eprintln!("shutdown: second signal, exiting now");
                std::process::exit(1);
            }
        });
        Ok(Stop(stopped))
    }

    /// Whether the server should stop accepting: look after every
    /// `accept`.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Where to connect to reach a listener bound to `addr`: its loopback
/// address when it listens on every address.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}
