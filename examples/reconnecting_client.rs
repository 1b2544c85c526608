//! A client that stays connected: it reconnects with exponential backoff
//! and jitter when the connection drops, sends its authentication message
//! again on every new connection, and pings the server when it goes quiet
//! (dropping a connection whose server stops answering).
//!
//! ```text
//! cargo run --example auth_server &
//! cargo run --example reconnecting_client -- ws://127.0.0.1:9002/ secret
//! ```
//!
//! Stop and restart the server: the client reconnects and authenticates
//! again. Messages go to stdout; connection events to stderr.

use std::time::Duration;

use wsproto::blocking::{Backoff, ClientBuilder, Message, ReconnectingClient};

fn main() -> Result<(), wsproto::blocking::Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or("ws://127.0.0.1:9002/".into());
    let token = args.next().unwrap_or("secret".into());

    let mut backoff = Backoff::default();
    backoff.initial = Duration::from_millis(200);
    backoff.max = Duration::from_secs(5);

    let mut client = ReconnectingClient::new(ClientBuilder::new(url), move |ws, _response| {
        eprintln!("connected; authenticating");
        // Runs on every (re)connection, before any read.
        ws.send(format!("AUTH {token}"))
    })
    .backoff(backoff)
    .heartbeat(Duration::from_secs(15), Duration::from_secs(5))
    .on_retry(|attempt, error, delay| {
        eprintln!("attempt {attempt} failed ({error}); retrying in {delay:.1?}");
    });

    loop {
        // `read` reconnects by itself; it fails only for errors that
        // retrying would not fix (a 4xx refusal, an invalid URL).
        match client.read()? {
            Message::Text(text) => println!("{text}"),
            Message::Close(frame) => eprintln!("server closed: {} {}", frame.code, frame.reason),
            _ => {}
        }
    }
}
