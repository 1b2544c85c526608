//! Interop check, client role: connects with permessage-deflate to an echo
//! server (e.g. Python `websockets`, see `scripts/interop_websockets.sh`)
//! through the blocking adapter, sends text and binary messages of several
//! sizes, and checks that each comes back unchanged. Exits non-zero when
//! deflate was not agreed (built with the `deflate` feature) or an echo
//! differs.
//!
//! Run with `cargo run --features deflate --example interop_client -- ws://127.0.0.1:8765`.

use std::collections::VecDeque;

use wsproto::Config;
use wsproto::blocking::{ClientBuilder, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or("ws://127.0.0.1:8765".into());
    let client = ClientBuilder::new(&url).config(Config::default());
    #[cfg(feature = "deflate")]
    let client = client.deflate(wsproto::deflate::DeflateConfig::default());
    let (mut ws, _established) = client.connect()?;
    #[cfg(feature = "deflate")]
    if _established.deflate().is_none() {
        return Err("the server did not agree to permessage-deflate".into());
    }
    let json: String = (0..20_000)
        .map(|i| format!("{{\"id\":{i},\"name\":\"user{}\"}},", i % 97))
        .collect();
    let mut expected: VecDeque<Message> = VecDeque::new();
    for text in ["", "Hello", "Hello", "héllo wörld ✓", &json[..1000], &json] {
        expected.push_back(Message::text(text));
    }
    for binary in [
        vec![],
        vec![0u8; 100_000],
        (0..=255u8).cycle().take(70_000).collect(),
    ] {
        expected.push_back(Message::binary(binary));
    }
    // All of them in flight at once, then the echoes.
    for message in &expected {
        ws.feed(message.clone())?;
    }
    ws.flush()?;
    let mut failures = 0;
    while !expected.is_empty() {
        let got = ws.read()?;
        if !got.is_data() {
            continue;
        }
        if expected.pop_front() != Some(got) {
            failures += 1;
        }
    }
    ws.close(1000, "done")?;
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(e) if e.is_closed() => break,
            Err(e) => return Err(e.into()),
        }
    }
    if failures > 0 {
        return Err(format!("{failures} echoes differed").into());
    }
    println!("all echoes matched");
    Ok(())
}
