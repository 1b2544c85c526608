//! TLS with rustls (feature `tls`): the configurations every adapter uses.
//!
//! - Clients: `connect` handles `wss://` with the Mozilla roots from
//!   `webpki-roots` ([`default_client_config`]); pass your own
//!   [`rustls::ClientConfig`] (custom roots, client certificates) to the
//!   client builder's `tls_config`.
//! - Servers: [`server_config`] builds a [`rustls::ServerConfig`] from a
//!   certificate chain and key; each adapter's `accept_tls`
//!   ([blocking](crate::blocking::accept_tls), [tokio](crate::tokio::accept_tls))
//!   runs the TLS handshake on an accepted socket and returns a stream for
//!   its `accept`.
//!
//! The `ring` provider is used explicitly (it builds with a plain C
//! compiler, unlike `aws-lc-rs`), so enabling another rustls provider
//! elsewhere in the build does not make the choice ambiguous.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ServerConfig};

use crate::driver::Error;

/// The rustls this crate is built on, for its configuration types.
pub use rustls;

/// The crypto provider: rustls with `ring`.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting the Mozilla root certificates shipped
/// by `webpki-roots`; built once and shared. Used by `wss://` URLs unless
/// the builder was given another.
pub fn default_client_config() -> Result<Arc<ClientConfig>, Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = client_config_with_roots(roots)?;
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// A client configuration trusting only `roots` (e.g. a private CA or a
/// self-signed test certificate).
pub fn client_config_with_roots(roots: rustls::RootCertStore) -> Result<Arc<ClientConfig>, Error> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A server configuration from a certificate chain (leaf first) and its
/// private key, without client authentication.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    Ok(Arc::new(config))
}

/// The TLS name of `host` (a DNS name or an IP address), for SNI and the
/// certificate check.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::InvalidRequest(crate::handshake::HandshakeUsageError::InvalidUrl(
            "host is not a valid TLS server name",
        ))
    })
}
