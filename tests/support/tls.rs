//! Self-signed certificates made in the test (with `rcgen`) and the
//! rustls configs that serve them and trust them.

use std::sync::Arc;

use wsproto::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wsproto::tls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use wsproto::tls::{client_config_with_roots, server_config};

/// A certificate for `names` served by the first config, and a client
/// config that trusts it (and nothing else).
pub fn pki(names: &[&str]) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let (server, cert) = certified(names);
    (server, trusting(vec![cert]))
}

/// A server config with a self-signed certificate for `names` (IP
/// addresses become IP names), and the certificate.
pub fn certified(names: &[&str]) -> (Arc<ServerConfig>, CertificateDer<'static>) {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = server_config(vec![cert.clone()], key).unwrap();
    (server, cert)
}

/// A client config trusting exactly `certs`.
pub fn trusting(certs: Vec<CertificateDer<'static>>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).unwrap();
    }
    client_config_with_roots(roots).unwrap()
}
