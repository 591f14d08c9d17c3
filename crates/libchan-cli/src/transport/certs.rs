//! Certificates and keys for the TLS-capable transports: the options read
//! from PEM files, and a certificate made for a loopback run.

use std::fmt;

use libchan::BoxError;

/// Certificates and keys, as PEM text. The same options serve both roles:
/// a server presents `cert`/`key` and, with `ca`, requires client
/// certificates signed by it; a client checks the server against `ca`
/// (the name `server_name`, else the host it dials) and presents
/// `cert`/`key` if given (mutual TLS).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// This side's certificate chain.
    pub cert: Option<String>,
    /// This side's private key.
    pub key: Option<String>,
    /// The CA certificate(s) the peer's certificate must chain to.
    pub ca: Option<String>,
    /// The name the server's certificate must carry (clients only).
    pub server_name: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.is_some())
            .field("ca", &self.ca.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsOptions {
    /// Reads the PEM files named on the command line.
    pub fn from_files(
        cert: Option<&std::path::Path>,
        key: Option<&std::path::Path>,
        ca: Option<&std::path::Path>,
        server_name: Option<String>,
    ) -> Result<Self, BoxError> {
        let read = |p: Option<&std::path::Path>| -> Result<Option<String>, BoxError> {
            p.map(|p| {
                std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            })
            .transpose()
            .map_err(Into::into)
        };
        Ok(TlsOptions {
            cert: read(cert)?,
            key: read(key)?,
            ca: read(ca)?,
            server_name,
        })
    }

    pub(super) fn server(&self) -> Result<libchan::tls::ServerTls, BoxError> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err("a TLS server needs --cert and --key".into());
        };
        let mut b = libchan::tls::ServerTls::builder().identity_pem(cert, key);
        if let Some(ca) = &self.ca {
            b = b.client_ca_pem(ca);
        }
        Ok(b.build()?)
    }

    pub(super) fn client(&self) -> Result<libchan::tls::ClientTls, BoxError> {
        let Some(ca) = &self.ca else {
            return Err("a TLS client needs --ca, the certificate that signed the server's".into());
        };
        let mut b = libchan::tls::ClientTls::builder().ca_pem(ca);
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => b = b.identity_pem(cert, key),
            (None, None) => {}
            _ => return Err("a client certificate needs both --cert and --key".into()),
        }
        Ok(b.build()?)
    }

    /// True when this side is configured for TLS at all.
    pub(super) fn any(&self) -> bool {
        self.cert.is_some() || self.ca.is_some()
    }
}

/// A certificate for `localhost` made for this run, and the options each
/// side of a loopback TLS or wss session uses with it.
#[derive(Debug, Clone)]
pub struct GeneratedTls {
    /// The server's options: the certificate and its key.
    pub server: TlsOptions,
    /// The client's options: the same certificate as the trusted CA.
    pub client: TlsOptions,
}

impl GeneratedTls {
    /// Makes a self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Result<Self, BoxError> {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])?;
        let cert = generated.cert.pem();
        let key = generated.signing_key.serialize_pem();
        Ok(GeneratedTls {
            server: TlsOptions {
                cert: Some(cert.clone()),
                key: Some(key),
                ca: None,
                server_name: None,
            },
            client: TlsOptions {
                cert: None,
                key: None,
                ca: Some(cert),
                server_name: Some("localhost".into()),
            },
        })
    }
}
