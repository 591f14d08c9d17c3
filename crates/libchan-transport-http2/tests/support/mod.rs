//! Shared by the integration tests: throwaway certificates, bounded waits.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use libchan_transport_http2::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    RootCertStore,
};
use libchan_transport_http2::Connector;

/// Generous bound on any wait: it separates "slow" from "never".
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, the server
/// configuration that presents it, and a connector that trusts it.
pub mod haproxy;
#[cfg(feature = "nginx-tests")]
pub mod nginx;

pub struct Tls {
    pub server: Arc<rustls::ServerConfig>,
    pub connector: Connector,
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn tls() -> Tls {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a self-signed certificate");
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server certificate");
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("a valid root");
    Tls {
        server: Arc::new(server),
        connector: Connector::with_root_certificates(roots),
        cert,
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
    }
}
