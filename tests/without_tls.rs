//! What exists only without the `tls` feature: a `wss://` URL is refused
//! with `Error::TlsUnavailable` before anything is sent, against the
//! blocking adapter and the tokio one (`against_both_adapters!`). A
//! binary of its own, small, so that CI builds little beside the library
//! to run it with the default features (`cargo test --test
//! without_tls`); with `tls` on it is empty.

#![cfg(all(feature = "blocking", not(feature = "tls")))]

mod support;

use support::adapter::{Error, connect};

fn wss_needs_the_tls_feature() {
    let error = connect("wss://127.0.0.1:1/").map(|_| ()).unwrap_err();
    assert!(matches!(error, Error::TlsUnavailable), "{error:?}");
}

against_both_adapters!(wss_needs_the_tls_feature);
