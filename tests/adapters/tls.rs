//! `wss://` with a self-signed certificate made in the test, against the
//! blocking adapter and the tokio one (`against_both_adapters!`): a round
//! trip through `ClientBuilder` with a custom root store to a server that
//! accepts TLS, and an untrusted certificate. The split over TLS is in
//! `tests/blocking/tls.rs` and `tests/tokio/echo.rs`.

#![cfg(feature = "tls")]

use crate::support;

use std::time::Duration;

use support::adapter::{ClientBuilder, Error, Message, accept_tls, serve_one};
use support::blocking::payload;
use support::tls::pki;

fn wss_round_trip_with_a_self_signed_certificate() {
    let (server_config, client_config) = pki(&["localhost"]);
    let (addr, server) = serve_one(move |tcp| {
        let mut ws = accept_tls(tcp, server_config, Duration::from_secs(10)).unwrap();
        assert!(ws.is_tls());
        ws.echo()
    });
    let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
        .tls_config(client_config)
        .connect()
        .unwrap();
    assert!(ws.is_tls());
    for (i, size) in [0usize, 5, 1000, 70_000, 1 << 20].into_iter().enumerate() {
        let data = payload(size, i as u32);
        ws.send(Message::binary(data.clone())).unwrap();
        assert_eq!(ws.read().unwrap().as_bytes(), data);
    }
    ws.send("über TLS").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("über TLS"));
    ws.close(1000, "").unwrap();
    let (_, end) = ws.drain();
    assert!(end.is_closed(), "{end:?}");
    let (end, count) = server.join().unwrap();
    assert!(end.is_closed(), "{end:?}");
    assert_eq!(count, 6);
}

fn an_untrusted_certificate_is_a_tls_error() {
    let (server_config, _) = pki(&["localhost"]);
    let (addr, server) =
        serve_one(move |tcp| accept_tls(tcp, server_config, Duration::from_secs(10)).map(drop));
    // The default roots (webpki-roots) do not know our certificate.
    let error = ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
        .connect()
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(server.join().unwrap().is_err());
}

crate::against_both_adapters!(
    wss_round_trip_with_a_self_signed_certificate,
    an_untrusted_certificate_is_a_tls_error,
);
