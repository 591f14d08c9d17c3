//! TLS configuration for each side: built from PEM (files or bytes) or DER,
//! or taken from a ready rustls config.
//!
//! Both builders use rustls's `ring` provider and its safe defaults (TLS 1.3
//! and 1.2, its default cipher suites and key exchange groups), and set
//! libchan's ALPN protocol ([`ALPN`]).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::{TlsError, ALPN};

/// Where PEM comes from, for error messages.
enum Source<'a> {
    Bytes,
    File(&'a Path),
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes => f.write_str("PEM bytes"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

fn certificates(
    what: &str,
    source: Source<'_>,
    pem: Option<&[u8]>,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |e: &dyn fmt::Display| TlsError::Config(format!("{what} ({source}): {e}"));
    let certs: Vec<CertificateDer<'static>> = match (&source, pem) {
        (_, Some(bytes)) => CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?,
        (Source::File(path), None) => CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?,
        (Source::Bytes, None) => Vec::new(),
    };
    if certs.is_empty() {
        return Err(bad(&"no CERTIFICATE section found"));
    }
    Ok(certs)
}

fn private_key(source: Source<'_>, pem: Option<&[u8]>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let found = match (&source, pem) {
        (_, Some(bytes)) => PrivateKeyDer::from_pem_slice(bytes),
        (Source::File(path), None) => PrivateKeyDer::from_pem_file(path),
        (Source::Bytes, None) => Err(rustls::pki_types::pem::Error::NoItemsFound),
    };
    found.map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Config(format!(
            "private key ({source}): no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section found"
        )),
        other => TlsError::Config(format!("private key ({source}): {other}")),
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Checks a ready config's ALPN list: empty gets libchan's; a list
/// without it is refused (the handshake could only fail later).
fn alpn_checked(protocols: &mut Vec<Vec<u8>>) -> Result<(), TlsError> {
    if protocols.is_empty() {
        protocols.push(ALPN.to_vec());
        return Ok(());
    }
    if protocols.iter().any(|p| p == ALPN) {
        return Ok(());
    }
    let list: Vec<String> = protocols
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Err(TlsError::Config(format!(
        "the ALPN list {list:?} does not offer {:?}",
        String::from_utf8_lossy(ALPN)
    )))
}

/// A certificate chain and its private key, gathered by a builder.
#[derive(Default)]
struct Identity {
    chain: Option<Vec<CertificateDer<'static>>>,
    key: Option<PrivateKeyDer<'static>>,
}

/// The client side's TLS settings: which CAs to trust for servers, and an
/// optional client certificate. Cheap to clone; share one across connects
/// (it holds rustls's session cache, so later connections resume).
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl ClientTls {
    /// Starts a configuration: add trusted CAs, optionally a client
    /// certificate, then [`build`](ClientTlsBuilder::build).
    pub fn builder() -> ClientTlsBuilder {
        ClientTlsBuilder {
            roots: Vec::new(),
            identity: Identity::default(),
            error: None,
        }
    }

    /// Uses a ready rustls configuration (your own verifier, provider,
    /// versions). Its ALPN list must offer [`ALPN`]; an empty list gets it
    /// (on a copy of the config). Server authentication is whatever the
    /// config's verifier does.
    pub fn from_config(config: Arc<rustls::ClientConfig>) -> Result<Self, TlsError> {
        if config.alpn_protocols.iter().any(|p| p == ALPN) {
            return Ok(ClientTls { config });
        }
        let mut owned = (*config).clone();
        alpn_checked(&mut owned.alpn_protocols)?;
        Ok(ClientTls {
            config: Arc::new(owned),
        })
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("alpn", &self.config.alpn_protocols)
            .field(
                "client_certificate",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .finish()
    }
}

/// Builds a [`ClientTls`]. Methods that read PEM record the first error;
/// [`build`](Self::build) returns it.
pub struct ClientTlsBuilder {
    roots: Vec<CertificateDer<'static>>,
    identity: Identity,
    error: Option<TlsError>,
}

impl ClientTlsBuilder {
    fn record<T>(&mut self, r: Result<T, TlsError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Trusts every CA certificate in this PEM bundle to issue server
    /// certificates.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        let certs = certificates("CA bundle", Source::Bytes, Some(pem.as_ref()));
        if let Some(certs) = self.record(certs) {
            self.roots.extend(certs);
        }
        self
    }

    /// Trusts every CA certificate in the PEM file at `path`.
    pub fn ca_pem_file(mut self, path: impl AsRef<Path>) -> Self {
        let certs = certificates("CA bundle", Source::File(path.as_ref()), None);
        if let Some(certs) = self.record(certs) {
            self.roots.extend(certs);
        }
        self
    }

    /// Trusts one CA certificate given as DER.
    pub fn ca_der(mut self, cert: CertificateDer<'static>) -> Self {
        self.roots.push(cert);
        self
    }

    /// Presents this client certificate chain (leaf first) and its private
    /// key, both PEM, to servers that ask for one.
    pub fn identity_pem(mut self, chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        let chain = certificates("certificate chain", Source::Bytes, Some(chain.as_ref()));
        let key = private_key(Source::Bytes, Some(key.as_ref()));
        if let (Some(chain), Some(key)) = (self.record(chain), self.record(key)) {
            self.identity = Identity {
                chain: Some(chain),
                key: Some(key),
            };
        }
        self
    }

    /// [`identity_pem`](Self::identity_pem) from two PEM files (they may be
    /// the same file).
    pub fn identity_pem_files(mut self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        let chain = certificates("certificate chain", Source::File(chain.as_ref()), None);
        let key = private_key(Source::File(key.as_ref()), None);
        if let (Some(chain), Some(key)) = (self.record(chain), self.record(key)) {
            self.identity = Identity {
                chain: Some(chain),
                key: Some(key),
            };
        }
        self
    }

    /// Presents this client certificate chain (leaf first) and key, as DER.
    pub fn identity_der(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.identity = Identity {
            chain: Some(chain),
            key: Some(key),
        };
        self
    }

    /// Builds the configuration; fails on the first PEM error, on no
    /// trusted CA, or on a key that does not match its certificate.
    pub fn build(self) -> Result<ClientTls, TlsError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut roots = RootCertStore::empty();
        for cert in self.roots {
            roots
                .add(cert)
                .map_err(|e| TlsError::Config(format!("CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(TlsError::Config(
                "no trusted CA: add one with ca_pem, ca_pem_file or ca_der".into(),
            ));
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match (self.identity.chain, self.identity.key) {
            (Some(chain), Some(key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Config(format!("client certificate: {e}")))?,
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }
}

impl fmt::Debug for ClientTlsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsBuilder")
            .field("roots", &self.roots.len())
            .field("identity", &self.identity.chain.is_some())
            .field("error", &self.error)
            .finish()
    }
}

/// The server side's TLS settings: its certificate, and whether (and by
/// which CAs) clients must authenticate. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// Starts a configuration: the server's certificate chain and key,
    /// optionally client CAs, then [`build`](ServerTlsBuilder::build).
    pub fn builder() -> ServerTlsBuilder {
        ServerTlsBuilder {
            identity: Identity::default(),
            client_roots: Vec::new(),
            client_cert_optional: false,
            error: None,
        }
    }

    /// Uses a ready rustls configuration. Its ALPN list must offer
    /// [`ALPN`]; an empty list gets it (on a copy of the config).
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> Result<Self, TlsError> {
        if config.alpn_protocols.iter().any(|p| p == ALPN) {
            return Ok(ServerTls { config });
        }
        let mut owned = (*config).clone();
        alpn_checked(&mut owned.alpn_protocols)?;
        Ok(ServerTls {
            config: Arc::new(owned),
        })
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ServerTls`]. Methods that read PEM record the first error;
/// [`build`](Self::build) returns it.
pub struct ServerTlsBuilder {
    identity: Identity,
    client_roots: Vec<CertificateDer<'static>>,
    client_cert_optional: bool,
    error: Option<TlsError>,
}

impl ServerTlsBuilder {
    fn record<T>(&mut self, r: Result<T, TlsError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// The server's certificate chain (leaf first) and private key, PEM.
    pub fn identity_pem(mut self, chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        let chain = certificates("certificate chain", Source::Bytes, Some(chain.as_ref()));
        let key = private_key(Source::Bytes, Some(key.as_ref()));
        if let (Some(chain), Some(key)) = (self.record(chain), self.record(key)) {
            self.identity = Identity {
                chain: Some(chain),
                key: Some(key),
            };
        }
        self
    }

    /// [`identity_pem`](Self::identity_pem) from two PEM files (they may be
    /// the same file).
    pub fn identity_pem_files(mut self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        let chain = certificates("certificate chain", Source::File(chain.as_ref()), None);
        let key = private_key(Source::File(key.as_ref()), None);
        if let (Some(chain), Some(key)) = (self.record(chain), self.record(key)) {
            self.identity = Identity {
                chain: Some(chain),
                key: Some(key),
            };
        }
        self
    }

    /// The server's certificate chain (leaf first) and key, as DER.
    pub fn identity_der(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.identity = Identity {
            chain: Some(chain),
            key: Some(key),
        };
        self
    }

    /// Requires client certificates issued by a CA in this PEM bundle
    /// (mutual TLS). Call [`client_cert_optional`](Self::client_cert_optional)
    /// to also admit clients without one.
    pub fn client_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        let certs = certificates("client CA bundle", Source::Bytes, Some(pem.as_ref()));
        if let Some(certs) = self.record(certs) {
            self.client_roots.extend(certs);
        }
        self
    }

    /// [`client_ca_pem`](Self::client_ca_pem) from a PEM file.
    pub fn client_ca_pem_file(mut self, path: impl AsRef<Path>) -> Self {
        let certs = certificates("client CA bundle", Source::File(path.as_ref()), None);
        if let Some(certs) = self.record(certs) {
            self.client_roots.extend(certs);
        }
        self
    }

    /// [`client_ca_pem`](Self::client_ca_pem) with one DER certificate.
    pub fn client_ca_der(mut self, cert: CertificateDer<'static>) -> Self {
        self.client_roots.push(cert);
        self
    }

    /// Admits clients that present no certificate; those that present one
    /// must still chain to a client CA. Check
    /// [`TlsSession::peer_identity`](crate::TlsSession::peer_identity) to
    /// tell them apart.
    pub fn client_cert_optional(mut self) -> Self {
        self.client_cert_optional = true;
        self
    }

    /// Builds the configuration; fails on the first PEM error, on no
    /// server certificate, on a key that does not match it, or on
    /// `client_cert_optional` without any client CA.
    pub fn build(self) -> Result<ServerTls, TlsError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (Some(chain), Some(key)) = (self.identity.chain, self.identity.key) else {
            return Err(TlsError::Config(
                "no server certificate: add one with identity_pem, identity_pem_files or identity_der"
                    .into(),
            ));
        };
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = if self.client_roots.is_empty() {
            if self.client_cert_optional {
                return Err(TlsError::Config(
                    "client_cert_optional needs a client CA (client_ca_pem, client_ca_pem_file or client_ca_der)"
                        .into(),
                ));
            }
            builder.with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            for cert in self.client_roots {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::Config(format!("client CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if self.client_cert_optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Config(format!("client certificate verifier: {e}")))?,
            )
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(format!("server certificate: {e}")))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }
}

impl fmt::Debug for ServerTlsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTlsBuilder")
            .field("identity", &self.identity.chain.is_some())
            .field("client_roots", &self.client_roots.len())
            .field("client_cert_optional", &self.client_cert_optional)
            .field("error", &self.error)
            .finish()
    }
}
