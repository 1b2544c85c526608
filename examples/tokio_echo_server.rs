//! An echo server on tokio: every text and binary message comes back
//! unchanged. A task per connection, default [`Config`](wsproto::Config).
//! The async twin of `echo_server`.
//!
//! ```text
//! cargo run --features tokio --example tokio_echo_server                   # 127.0.0.1:9001
//! cargo run --features tokio --example tokio_echo_server -- 127.0.0.1:0    # any free port
//! cargo run --features tokio --example tokio_echo_server -- --threads 4    # 4 worker threads
//! ```
//!
//! It prints `listening on ADDR` (the address actually bound) once it
//! accepts connections; try it with
//! `cargo run --features tokio --example tokio_client -- ws://ADDR/`.
//!
//! `--threads 1` (the default) runs everything on one thread (tokio's
//! current-thread runtime); `--threads N` with N > 1 runs the
//! multi-thread runtime with N workers. The runtime is built by hand, so
//! the example needs no macros.
//!
//! `SIGTERM` or Ctrl-C stops it well: it stops accepting, every client
//! gets a Close with 1001 (Going Away) after what was queued for it (each
//! task waiting in `recv` is woken), the closing handshakes are waited for
//! (at most 5 s, then the rest are cut), and it exits with status 0 after
//! printing `shutdown: N closed, M cut` on stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wsproto::adapter::MemoryBudget;
use wsproto::tokio::{ConnectionSet, Error, ServerBuilder};

/// How long the closing handshakes may take before the connections left
/// are cut: the process is gone well within the 10 s close timeout.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: tokio_echo_server [ADDR] [--threads N]";

fn main() -> ExitCode {
    let (addr, threads) = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(&addr)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The address and the number of threads.
fn args() -> Result<(String, usize), String> {
    let mut addr = None;
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--threads" {
            let n = args.next().ok_or("--threads needs a number")?;
            threads = match n.parse() {
                Ok(n @ 1..) => n,
                _ => return Err(format!("--threads {n}: not a number of threads")),
            };
        } else if addr.is_none() {
            addr = Some(arg);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok((addr.unwrap_or_else(|| "127.0.0.1:9001".into()), threads))
}

async fn run(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // Every connection accepted by `server` joins `set`.
    let set = ConnectionSet::new();
    // Bytes of messages still arriving, summed over every connection: a
    // peer that parks most of a large message cannot take the machine's
    // memory (README, "Memory that peers cannot exhaust").
    let budget = MemoryBudget::new(256 << 20);
    let server = ServerBuilder::new()
        .connection_set(&set)
        .memory_budget(&budget);
    let mut stop = std::pin::pin!(stop_signal());
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            signal = &mut stop => {
                eprintln!("shutdown: {}, closing {} connections", signal?, set.live());
                break;
            }
        };
        match accepted {
            Ok((stream, _)) => {
                let server = server.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(&server, stream).await {
                        eprintln!("connection: {e}");
                    }
                });
            }
            // Out of file descriptors, say: the next accept may succeed.
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    // 1001 to every connection; handshakes still under way are answered
    // 503 with `Retry-After`.
    drop(listener);
    set.shutdown();
    let report = set.wait_timeout(CLOSE_WAIT).await;
    eprintln!("shutdown: {} closed, {} cut", report.closed, report.cut);
    Ok(())
}

/// Waits for `SIGTERM` or Ctrl-C (`SIGINT`) and names it.
async fn stop_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => Ok("SIGTERM"),
        interrupted = tokio::signal::ctrl_c() => interrupted.map(|()| "SIGINT"),
    }
}

async fn serve(server: &ServerBuilder, stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = server.accept(stream).await?;
    // `None` once the closing handshake is over; Pings, the peer's Close
    // and a shutdown of the set are answered inside `recv`.
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            // Queued here and written by the next `recv` before it waits
            // for input: a burst of messages is echoed with one write.
            ws.feed(message).await?;
        }
    }
    Ok(())
}
