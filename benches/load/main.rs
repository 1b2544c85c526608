//! Many connections over loopback (issue 19): wsproto's tokio and blocking
//! echo beside tokio-tungstenite, fastwebsockets and tokio-websockets, on
//! the workloads their authors publish, and a broadcast room.
//!
//! One binary in three roles:
//!
//! - `run` (the default): the orchestrator. For every row and every
//!   server it starts `server` pinned to CPU 0 and `gen` pinned to CPU 1
//!   (`taskset`), reads the generator's result line and prints the table
//!   (see docs/PERFORMANCE.md). `--quick` is the CI smoke (small N, short
//!   samples); `--only SUBSTRING` picks rows; `--rounds R` repeats each
//!   row R times (servers in a rotating order) and takes the medians.
//! - `server IMPL`: one echo (or room) server on a current-thread tokio
//!   runtime (wsproto-blocking: a thread per connection), printing its
//!   port on stdout.
//! - `gen MODE ...`: the neutral load generator: raw sockets through mio
//!   (epoll), frames built by hand, no WebSocket crate (see
//!   `generator.rs`).
//!
//! `cargo bench -p wsproto-benches --bench load -- [--quick] [--only ROW]`

mod generator;
mod run;
mod servers;
mod sys;

fn main() {
    // `cargo bench` passes `--bench`; the roles ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("server") => servers::main(&args[1..]),
        Some("gen") => generator::main(&args[1..]),
        Some("run") => run::main(&args[1..]),
        _ => run::main(&args),
    }
}
