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

use std::io::Write;
use std::process::ExitCode;

use tokio::net::{TcpListener, TcpStream};
use wsproto::tokio::{Error, accept};

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
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    if let Err(e) = serve(stream).await {
                        eprintln!("connection: {e}");
                    }
                });
            }
            // Out of file descriptors, say: the next accept may succeed.
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

async fn serve(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = accept(stream).await?;
    // `None` once the closing handshake is over; Pings and the peer's
    // Close are answered inside `recv`.
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
