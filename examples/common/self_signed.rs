//! A self-signed certificate, for the TLS server examples (`tls_echo_server`,
//! `axum_chat --tls`) run without PEM files.

use wsproto::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Makes a self-signed certificate for `localhost` and `127.0.0.1` (with
/// `rcgen`), writes it to the temporary directory as `PREFIX-PORT.pem` and
/// prints `certificate PATH`, so that a client can trust it; returns the
/// chain and the key for the server's configuration.
pub fn self_signed(
    prefix: &str,
    port: u16,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Box<dyn std::error::Error>> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let path = std::env::temp_dir().join(format!("{prefix}-{port}.pem"));
    std::fs::write(&path, certified.cert.pem())?;
    println!("certificate {}", path.display());
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}
