//! The command line of the line clients `client` and `tokio_client`:
//! `URL [--linger MS]`, parsed the same way for both.

use std::time::Duration;

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
