//! What the line clients `client` and `tokio_client` share: the command
//! line (`URL [--linger MS]`) and how a received message is shown.

use std::time::Duration;

use wsproto::Message;

/// How long the server may stay quiet after the end of input before the
/// client closes.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(1000);

/// The URL and the linger, from the process's arguments.
pub fn args() -> Result<(String, Duration), String> {
    let mut url = None;
    let mut linger = DEFAULT_LINGER;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--linger" {
            let ms = args
                .next()
                .ok_or("--linger needs a value in milliseconds")?;
            let ms = ms
                .parse()
                .map_err(|_| format!("--linger {ms}: not a number of milliseconds"))?;
            linger = Duration::from_millis(ms);
        } else if url.is_none() {
            url = Some(arg);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok((url.ok_or("no URL")?, linger))
}

/// Prints a received message: text to stdout (the conversation), anything
/// else to stderr.
pub fn show(message: Message) {
    match message {
        Message::Text(text) => println!("{text}"),
        Message::Binary(data) => eprintln!("[binary, {} bytes: {}]", data.len(), hex(&data)),
        Message::Pong(label) => eprintln!("[pong: {}]", String::from_utf8_lossy(&label)),
        Message::Close(frame) if frame.code.as_u16() != 1000 => {
            eprintln!("closed by server: {} {}", frame.code.as_u16(), frame.reason);
        }
        // Pings are answered by the connection; a 1000 Close is the normal
        // end.
        _ => {}
    }
}

/// The first 16 bytes in hex, with `…` when there are more.
fn hex(data: &[u8]) -> String {
    let mut out: String = data.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if data.len() > 16 {
        out.push('…');
    }
    out
}
