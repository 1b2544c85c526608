//! The Autobahn TestSuite testee, client role: asks the fuzzing server how
//! many cases there are, runs each one echoing every text and binary
//! message, then asks it to write its reports. Default [`Config`] (plus
//! permessage-deflate when built with the `deflate` feature). See
//! `scripts/autobahn.sh`.
//!
//! The cases run on the public blocking adapters, what users run:
//! `--adapter blocking` (the default, [`wsproto::blocking::WebSocket`]) or
//! `--adapter split` (a reader thread and a writer thread per connection);
//! `--adapter tokio` (with the `tokio` feature) runs
//! [`wsproto::tokio::WebSocket`] on a current-thread runtime;
//! `--adapter sans-io` runs the core alone under the hand-written driver
//! of `common/driver.rs`. See `common/echo.rs`.
//!
//! Run with `cargo run --release --example autobahn_client -- ws://127.0.0.1:9002 wsproto --adapter split`.

#[path = "common/driver.rs"]
mod driver;
#[path = "common/echo.rs"]
mod echo;

use echo::Adapter;
use wsproto::Config;
use wsproto::blocking::{ClientBuilder, Error, Message};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let (args, adapter) = echo::args()?;
    let base = args.first().map_or("ws://127.0.0.1:9002", String::as_str);
    let agent = args.get(1).map_or("wsproto", String::as_str);

    let count = read_all(&format!("{base}/getCaseCount"))?
        .iter()
        .find_map(|message| message.as_text()?.trim().parse::<u32>().ok())
        .ok_or("getCaseCount: no number received")?;
    println!("running {count} cases as {agent} ({adapter} adapter)");
    #[cfg(feature = "tokio")]
    let runtime = echo::tokio_runtime()?;
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        #[cfg(feature = "tokio")]
        if adapter == Adapter::Tokio {
            if let Err(e) = runtime.block_on(run_case_tokio(&url)) {
                eprintln!("case {case}: {e}");
            }
            continue;
        }
        if let Err(e) = run_case(&url, adapter) {
            eprintln!("case {case}: {e}");
        }
    }
    // The fuzzing server writes its reports and exits without a Close.
    match read_all(&format!("{base}/updateReports?agent={agent}")) {
        Err(e) if matches!(e.downcast_ref(), Some(Error::ConnectionLost)) => {}
        other => drop(other?),
    }
    println!("reports updated");
    Ok(())
}

/// One case: a connection that echoes until it ends.
fn run_case(url: &str, adapter: Adapter) -> Result<()> {
    if adapter == Adapter::SansIo {
        let (mut stream, mut conn) = driver::connect(url, Config::default(), sans_io_offer())?;
        driver::run(&mut stream, &mut conn, driver::echo)?;
    } else {
        let (ws, _) = client(url).connect()?;
        echo::echo(ws, adapter)?;
    }
    Ok(())
}

/// One case on the tokio adapter.
#[cfg(feature = "tokio")]
async fn run_case_tokio(url: &str) -> Result<()> {
    let (ws, _) = tokio_client(url).connect().await?;
    echo::echo_tokio(ws).await?;
    Ok(())
}

/// The messages of a connection the server ends (a control URL).
fn read_all(url: &str) -> Result<Vec<Message>> {
    let (mut ws, _) = client(url).connect()?;
    let mut messages = Vec::new();
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => messages.push(message),
            Ok(_) => {}
            Err(e) if e.is_closed() => return Ok(messages),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The blocking client of a case: default limits, and permessage-deflate
/// when built with the `deflate` feature (Autobahn groups 12 and 13).
fn client(url: &str) -> ClientBuilder {
    let builder = ClientBuilder::new(url);
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(offer());
    builder
}

/// The tokio client of a case, as [`client`].
#[cfg(feature = "tokio")]
fn tokio_client(url: &str) -> wsproto::tokio::ClientBuilder {
    let builder = wsproto::tokio::ClientBuilder::new(url);
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(offer());
    builder
}

/// The permessage-deflate offer of the testee.
#[cfg(feature = "deflate")]
fn offer() -> wsproto::deflate::DeflateConfig {
    let mut deflate = wsproto::deflate::DeflateConfig::default();
    // The offer carries `client_no_context_takeover` (RFC 7692
    // §7.1.1.2: a promise that we will not use context takeover), as
    // Autobahn's own client does by default: its fuzzing server agrees
    // to `client_no_context_takeover` (cases 13.2, 13.5, 13.6) only
    // when the offer has it.
    deflate.client_no_context_takeover = true;
    // Every message through the compressor, whatever its size (see
    // autobahn_server.rs: kosoku 0.1.0 mishandles an uncompressed
    // text message in a deflate case).
    deflate.threshold = 0;
    deflate
}

/// The sans-IO client's offer.
fn sans_io_offer() -> driver::Deflate {
    #[cfg(feature = "deflate")]
    return Some(offer());
    #[cfg(not(feature = "deflate"))]
    ()
}
