//! Child processes: killed (and reaped) when dropped; a program that
//! needs a port number on its command line, started without a race; the
//! examples' binaries.
//!
//! The benchmarks use this file too (`benches/support/mod.rs`).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use super::net::candidate_port;
use super::procfs::listening_ports;

/// A child process, killed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the command `make` builds for a port until the child itself
/// listens on 127.0.0.1 at that port: the port comes from
/// [`candidate_port`] (outside the ephemeral range), and a child that
/// exits because the port is taken is started again on another. Returns
/// the child and its port.
pub fn start_on_a_port(name: &str, make: impl Fn(u16) -> Command) -> (Child, u16) {
    for _ in 0..10 {
        let port = candidate_port();
        let mut child = make(port)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        if wait_listening(&mut child, port, name).is_some() {
            return (child, port);
        }
    }
    panic!("{name} did not start: no port it could bind");
}

/// Waits until `child` itself (its own descriptors, see
/// [`listening_ports`]) listens on 127.0.0.1:`port`, or on any port when
/// `port` is 0; returns that port, or `None` if the child exited first (a
/// port taken). Panics after 10 s.
pub fn wait_listening(child: &mut Child, port: u16, name: &str) -> Option<u16> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        let ports = listening_ports(child.id());
        if port == 0 {
            if let Some(&port) = ports.first() {
                return Some(port);
            }
        } else if ports.contains(&port) {
            return Some(port);
        }
        thread::sleep(Duration::from_millis(10)); // a poll interval
    }
    panic!("{name} not listening on port {port} after 10 s");
}

/// `target/<profile>/examples/<name>`, next to this binary's
/// `target/<profile>/deps/`: the example as `cargo test` (or `cargo
/// build --examples`) built it, with the same profile.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo test` (which builds the examples) or `cargo build --examples`, \
         with the same features and profile",
        path.display()
    );
    path
}
