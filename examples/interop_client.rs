//! Interop check, client role: connects with permessage-deflate to an echo
//! server (e.g. Python `websockets`, see `scripts/interop_websockets.sh`),
//! sends text and binary messages of several sizes, and checks that each
//! comes back unchanged. Exits non-zero when deflate was not agreed or an
//! echo differs.
//!
//! Run with `cargo run --features deflate --example interop_client -- ws://127.0.0.1:8765`.

#[path = "common/driver.rs"]
mod driver;

use std::collections::VecDeque;

use wsproto::{Config, Event};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or("ws://127.0.0.1:8765".into());
    #[allow(unused_mut)] // without the `deflate` feature
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(wsproto::deflate::DeflateConfig::default());
    }
    let (mut stream, mut conn) = driver::connect(&url, config)?;
    let json: String = (0..20_000)
        .map(|i| format!("{{\"id\":{i},\"name\":\"user{}\"}},", i % 97))
        .collect();
    let mut expected: VecDeque<(bool, Vec<u8>)> = VecDeque::new();
    for text in ["", "Hello", "Hello", "héllo wörld ✓", &json[..1000], &json] {
        conn.send_text(text)?;
        expected.push_back((true, text.as_bytes().to_vec()));
    }
    for binary in [
        vec![],
        vec![0u8; 100_000],
        (0..=255u8).cycle().take(70_000).collect(),
    ] {
        conn.send_binary(binary.clone())?;
        expected.push_back((false, binary));
    }
    let mut failures = 0;
    driver::run(&mut stream, &mut conn, |conn, event| {
        let got = match event {
            Event::Text(t) => (true, t.as_bytes().to_vec()),
            Event::Binary(b) => (false, b.to_vec()),
            _ => return,
        };
        if expected.pop_front().as_ref() != Some(&got) {
            failures += 1;
        }
        if expected.is_empty() {
            let _ = conn.close(1000u16, "done");
        }
    })?;
    if failures > 0 || !expected.is_empty() {
        return Err(format!("{failures} echoes differed, {} missing", expected.len()).into());
    }
    println!("all echoes matched");
    Ok(())
}
