//! What the handshake established about the peer: its verified certificate
//! chain and the names in it, for the application to authorise on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

/// The peer's certificate chain, as verified during the handshake, and the
/// names its end-entity certificate carries.
///
/// The chain was verified by the session's verifier (with this crate's
/// builders: it chains to a trusted CA, is within its validity period and,
/// for a server, valid for the name dialled) before any of this is
/// readable. The names are read from the end-entity certificate; one that
/// cannot be parsed (possible only with a custom verifier accepting it)
/// yields no names rather than an error, so an authorisation check on names
/// fails closed.
///
/// ```
/// # fn check(identity: &libchan_transport_tls::PeerIdentity) -> bool {
/// // Authorise a client by a DNS name in its certificate.
/// identity.dns_names().iter().any(|n| n == "worker-1.internal")
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    chain: Vec<CertificateDer<'static>>,
    subject: Option<String>,
    common_name: Option<String>,
    dns_names: Vec<String>,
    ip_addresses: Vec<IpAddr>,
    uris: Vec<String>,
}

impl PeerIdentity {
    /// Reads the names of `chain[0]`; `None` for an empty chain.
    pub(crate) fn from_chain(chain: &[CertificateDer<'static>]) -> Option<Self> {
        let leaf = chain.first()?;
        let mut identity = PeerIdentity {
            chain: chain.to_vec(),
            subject: None,
            common_name: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            uris: Vec::new(),
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
            return Some(identity);
        };
        identity.subject = Some(cert.subject().to_string());
        identity.common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => identity.dns_names.push((*dns).to_owned()),
                    GeneralName::URI(uri) => identity.uris.push((*uri).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            identity.ip_addresses.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(identity)
    }

    /// The verified chain, end-entity certificate first.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The peer's own (end-entity) certificate.
    pub fn end_entity(&self) -> &CertificateDer<'static> {
        // `from_chain` refuses an empty chain.
        &self.chain[0]
    }

    /// The subject's distinguished name, RFC 4514 style (`CN=worker-1, O=Example`).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The subject's first common name (`CN`), if any.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// DNS names of the subject alternative name extension.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// IP addresses of the subject alternative name extension.
    pub fn ip_addresses(&self) -> &[IpAddr] {
        &self.ip_addresses
    }

    /// URIs of the subject alternative name extension (SPIFFE ids, say).
    pub fn uris(&self) -> &[String] {
        &self.uris
    }
}

/// A SAN iPAddress is 4 or 16 raw bytes; anything else is not an address.
fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Some(IpAddr::V6(Ipv6Addr::from(v6)));
    }
    None
}

/// What one session's TLS handshake settled.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The peer's verified identity: always there for a server (as seen by
    /// the client); for a client, only when it presented a certificate.
    pub peer_identity: Option<PeerIdentity>,
    /// The TLS server name: the one dialled (client), or the SNI the client
    /// sent (server; `None` when it sent none, e.g. when dialling an IP).
    pub server_name: Option<String>,
    /// The peer's socket address, when this crate made or accepted the socket.
    pub peer_addr: Option<SocketAddr>,
    /// The negotiated TLS version.
    pub protocol_version: Option<rustls::ProtocolVersion>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<rustls::CipherSuite>,
}

impl TlsInfo {
    pub(crate) fn from_connection(
        conn: &rustls::CommonState,
        server_name: Option<String>,
        peer_addr: Option<SocketAddr>,
    ) -> Self {
        TlsInfo {
            peer_identity: conn.peer_certificates().and_then(PeerIdentity::from_chain),
            server_name,
            peer_addr,
            protocol_version: conn.protocol_version(),
            cipher_suite: conn.negotiated_cipher_suite().map(|s| s.suite()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_ip_bytes_of_the_wrong_length_are_ignored() {
        assert_eq!(
            ip_from_bytes(&[127, 0, 0, 1]),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
        assert!(ip_from_bytes(&[0; 16]).is_some_and(|ip| ip.is_ipv6()));
    }

    #[test]
    fn garbage_instead_of_a_certificate_gives_no_names() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
        let id = PeerIdentity::from_chain(&[junk]).expect("a chain");
        assert_eq!(id.subject(), None);
        assert!(id.dns_names().is_empty());
        assert_eq!(id.certificates().len(), 1);
        assert!(PeerIdentity::from_chain(&[]).is_none());
    }
}
