//! The Autobahn TestSuite testee, client role: asks the fuzzing server how
//! many cases there are, runs each one echoing every text and binary
//! message, then asks it to write its reports. Default [`Config`] (plus
//! permessage-deflate when built with the `deflate` feature). See
//! `scripts/autobahn.sh`.
//!
//! Run with `cargo run --release --example autobahn_client -- ws://127.0.0.1:9002 wsproto`.

#[path = "common/driver.rs"]
mod driver;

use wsproto::{Config, Connection, Event};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or("ws://127.0.0.1:9002".into());
    let agent = args.next().unwrap_or("wsproto".into());

    let mut count = None;
    session(&format!("{base}/getCaseCount"), |_, event| {
        if let Event::Text(text) = event {
            count = text.trim().parse::<u32>().ok();
        }
    })?;
    let count = count.ok_or("getCaseCount: no number received")?;
    println!("running {count} cases as {agent}");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = session(&url, driver::echo) {
            eprintln!("case {case}: {e}");
        }
    }
    session(&format!("{base}/updateReports?agent={agent}"), |_, _| {})?;
    println!("reports updated");
    Ok(())
}

/// One connection, run to its end.
fn session(url: &str, on_event: impl FnMut(&mut Connection, Event)) -> Result<()> {
    let (mut stream, mut conn) = driver::connect(url, config())?;
    driver::run(&mut stream, &mut conn, on_event)?;
    Ok(())
}

/// Default limits; permessage-deflate when built with the `deflate`
/// feature (Autobahn groups 12 and 13).
fn config() -> Config {
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        let mut deflate = wsproto::deflate::DeflateConfig::default();
        // The offer carries `client_no_context_takeover` (RFC 7692
        // §7.1.1.2: a promise that we will not use context takeover), as
        // Autobahn's own client does by default: its fuzzing server agrees
        // to `client_no_context_takeover` (cases 13.2, 13.5, 13.6) only
        // when the offer has it.
        deflate.client_no_context_takeover = true;
        config.deflate = Some(deflate);
    }
    config
}
