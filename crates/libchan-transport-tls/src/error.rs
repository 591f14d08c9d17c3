//! Errors of establishing a TLS session, and the one place where rustls
//! errors and TLS alerts become them.
//!
//! Every certificate failure is reported on both sides: the side that
//! rejected a certificate sees the rustls verification error
//! (`rejected_by: Initiator::Local`), the other side sees the alert it was
//! sent (`rejected_by: Initiator::Remote`). Both map to the same variant
//! where the alert says enough (unknown CA, expired, certificate required,
//! no application protocol); a rejected server name travels as the generic
//! `bad_certificate` alert, so the server sees [`TlsError::BadCertificate`]
//! while the client sees [`TlsError::NameMismatch`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libchan_core::{Initiator, SessionError};
use rustls::{AlertDescription, CertificateError};

/// The other end of a connection, as far as it is known: the address
/// dialled or accepted from, and the server name (the one dialled, or the
/// one the client asked for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remote {
    /// The socket address, when the connection is a socket this crate made
    /// or accepted (not for [`connect_over`](crate::connect_over)).
    pub addr: Option<SocketAddr>,
    /// The TLS server name: the one dialled, or the SNI a client sent.
    pub server_name: Option<String>,
}

impl Remote {
    pub(crate) fn new(addr: Option<SocketAddr>, server_name: Option<String>) -> Self {
        Remote { addr, server_name }
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.addr, &self.server_name) {
            (Some(a), Some(n)) => write!(f, "{a} (server name {n:?})"),
            (Some(a), None) => write!(f, "{a}"),
            (None, Some(n)) => write!(f, "server name {n:?}"),
            (None, None) => f.write_str("the peer"),
        }
    }
}

/// Why a TLS session could not be established (or configured).
///
/// `rejected_by` says who refused: [`Initiator::Local`] when this side
/// rejected what the peer presented, [`Initiator::Remote`] when the peer
/// rejected this side (we received its alert).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading or writing the connection failed, or it closed during the
    /// handshake.
    #[error("connection to {remote} failed")]
    Io {
        /// Who the connection was with.
        remote: Remote,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The TLS and libchan handshakes did not finish within the session's
    /// handshake timeout (`SessionConfig::limits.handshake_timeout`).
    #[error("handshake with {remote} did not finish within {timeout:?}")]
    HandshakeTimeout {
        /// Who the connection was with.
        remote: Remote,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// A certificate does not chain to a trusted CA.
    #[error("{}", certificate_message(remote, *rejected_by, "is not issued by a trusted CA"))]
    UnknownIssuer {
        /// Who the connection was with.
        remote: Remote,
        /// Who refused the certificate.
        rejected_by: Initiator,
    },
    /// A certificate has expired, or is not valid yet.
    #[error("{}", certificate_message(remote, *rejected_by, "has expired or is not valid yet"))]
    CertificateExpired {
        /// Who the connection was with.
        remote: Remote,
        /// Who refused the certificate.
        rejected_by: Initiator,
    },
    /// The server's certificate is not valid for the name dialled (always
    /// detected by the client; the server sees [`BadCertificate`](Self::BadCertificate)).
    #[error("the certificate of {remote} is not valid for that name (it names {presented:?})")]
    NameMismatch {
        /// Who the connection was with (its `server_name` is the name dialled).
        remote: Remote,
        /// The names the certificate is valid for, as far as rustls reports them.
        presented: Vec<String>,
    },
    /// A certificate was refused for another reason (bad encoding, wrong
    /// key usage, revoked, bad signature, rejected by a custom verifier, or
    /// a generic `bad_certificate` alert from the peer).
    #[error("{}", certificate_message(remote, *rejected_by, &format!("was refused: {reason}")))]
    BadCertificate {
        /// Who the connection was with.
        remote: Remote,
        /// Who refused the certificate.
        rejected_by: Initiator,
        /// What was wrong, as rustls or the peer's alert said.
        reason: String,
    },
    /// The server requires a client certificate and the client sent none.
    #[error("{}", match rejected_by {
        Initiator::Local => format!("{remote} presented no client certificate, and this server requires one"),
        Initiator::Remote => format!("{remote} requires a client certificate, and this side presented none"),
    })]
    ClientCertificateRequired {
        /// Who the connection was with.
        remote: Remote,
        /// Who required the certificate (`Local`: this server).
        rejected_by: Initiator,
    },
    /// The peer does not speak libchan's ALPN protocol ([`ALPN`](crate::ALPN)).
    #[error("{remote} does not speak {}: ALPN negotiated {}{}",
        String::from_utf8_lossy(crate::ALPN),
        negotiated.as_deref().map_or("nothing".to_string(), |p| format!("{p:?}")),
        if *rejected_by == Initiator::Remote { " (refused by the peer)" } else { "" })]
    AlpnMismatch {
        /// Who the connection was with.
        remote: Remote,
        /// Who refused the connection.
        rejected_by: Initiator,
        /// The protocol the handshake settled on, if any.
        negotiated: Option<String>,
    },
    /// The two sides share no TLS version, cipher suite or key exchange.
    #[error("{remote}: no TLS parameters in common ({reason}, detected by the {rejected_by})")]
    Incompatible {
        /// Who the connection was with.
        remote: Remote,
        /// Who gave up.
        rejected_by: Initiator,
        /// What did not match.
        reason: String,
    },
    /// Any other TLS failure: a peer that is not speaking TLS, a protocol
    /// violation, a failed decryption, an unexpected alert.
    #[error("TLS with {remote} failed (detected by the {rejected_by})")]
    Tls {
        /// Who the connection was with.
        remote: Remote,
        /// Who detected the failure.
        rejected_by: Initiator,
        /// rustls's error.
        #[source]
        error: rustls::Error,
    },
    /// The TLS configuration is unusable: unreadable or empty PEM, no
    /// private key, a key that does not match the certificate, an invalid
    /// server name, an ALPN list without libchan's protocol.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// TLS was established, then the libchan session failed (codec
    /// mismatch, not a libchan peer, invalid session configuration).
    #[error("libchan session with {remote} failed")]
    Session {
        /// Who the connection was with.
        remote: Remote,
        /// The session's error.
        #[source]
        source: SessionError,
    },
}

fn certificate_message(remote: &Remote, by: Initiator, what: &str) -> String {
    match by {
        Initiator::Local => format!("the certificate of {remote} {what}"),
        Initiator::Remote => format!("{remote} refused this side's certificate: it {what}"),
    }
}

impl TlsError {
    /// Who the error concerns, when it concerns a connection.
    pub fn remote(&self) -> Option<&Remote> {
        match self {
            TlsError::Io { remote, .. }
            | TlsError::HandshakeTimeout { remote, .. }
            | TlsError::UnknownIssuer { remote, .. }
            | TlsError::CertificateExpired { remote, .. }
            | TlsError::NameMismatch { remote, .. }
            | TlsError::BadCertificate { remote, .. }
            | TlsError::ClientCertificateRequired { remote, .. }
            | TlsError::AlpnMismatch { remote, .. }
            | TlsError::Incompatible { remote, .. }
            | TlsError::Tls { remote, .. }
            | TlsError::Session { remote, .. } => Some(remote),
            TlsError::Config(_) => None,
        }
    }

    /// The rustls error inside a session error, if a TLS failure is what
    /// broke the session (for example a `ChannelError::SessionLost` whose
    /// connection failed on a bad record).
    pub fn rustls_cause(err: &SessionError) -> Option<&rustls::Error> {
        match err {
            SessionError::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
            _ => None,
        }
    }

    pub(crate) fn io(remote: &Remote, err: io::Error) -> TlsError {
        match err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(tls) => from_rustls(remote, tls),
            None => TlsError::Io {
                remote: remote.clone(),
                source: Arc::new(err),
            },
        }
    }

    /// A libchan handshake failure; a TLS alert that arrived after the TLS
    /// handshake (the TLS 1.3 server refusing a client certificate) is
    /// reported as the TLS error it is.
    pub(crate) fn session(remote: &Remote, err: SessionError) -> TlsError {
        if let Some(tls) = TlsError::rustls_cause(&err) {
            return from_rustls(remote, tls);
        }
        if let SessionError::Io(source) = err {
            return TlsError::Io {
                remote: remote.clone(),
                source,
            };
        }
        TlsError::Session {
            remote: remote.clone(),
            source: err,
        }
    }
}

/// Maps a rustls error: the one place where TLS failures get their variant.
fn from_rustls(remote: &Remote, err: &rustls::Error) -> TlsError {
    use Initiator::{Local, Remote as Peer};
    let remote = remote.clone();
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsError::UnknownIssuer {
                remote,
                rejected_by: Local,
            },
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsError::CertificateExpired {
                remote,
                rejected_by: Local,
            },
            CertificateError::NotValidForName => TlsError::NameMismatch {
                remote,
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext { presented, .. } => TlsError::NameMismatch {
                remote,
                presented: presented.clone(),
            },
            other => TlsError::BadCertificate {
                remote,
                rejected_by: Local,
                reason: other.to_string(),
            },
        },
        rustls::Error::NoCertificatesPresented => TlsError::ClientCertificateRequired {
            remote,
            rejected_by: Local,
        },
        rustls::Error::NoApplicationProtocol => TlsError::AlpnMismatch {
            remote,
            rejected_by: Local,
            negotiated: None,
        },
        rustls::Error::PeerIncompatible(why) => TlsError::Incompatible {
            remote,
            rejected_by: Local,
            reason: format!("{why:?}"),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::UnknownCA => TlsError::UnknownIssuer {
                remote,
                rejected_by: Peer,
            },
            AlertDescription::CertificateExpired => TlsError::CertificateExpired {
                remote,
                rejected_by: Peer,
            },
            AlertDescription::CertificateRequired => TlsError::ClientCertificateRequired {
                remote,
                rejected_by: Peer,
            },
            AlertDescription::NoApplicationProtocol => TlsError::AlpnMismatch {
                remote,
                rejected_by: Peer,
                negotiated: None,
            },
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied => TlsError::BadCertificate {
                remote,
                rejected_by: Peer,
                reason: format!("the peer sent the alert {alert:?}"),
            },
            AlertDescription::ProtocolVersion
            | AlertDescription::HandshakeFailure
            | AlertDescription::InsufficientSecurity => TlsError::Incompatible {
                remote,
                rejected_by: Peer,
                reason: format!("the peer sent the alert {alert:?}"),
            },
            _ => TlsError::Tls {
                remote,
                rejected_by: Peer,
                error: err.clone(),
            },
        },
        other => TlsError::Tls {
            remote,
            rejected_by: Local,
            error: other.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> Remote {
        Remote::new(
            Some("127.0.0.1:4433".parse().expect("addr")),
            Some("db.internal".into()),
        )
    }

    #[test]
    fn display_names_the_address_dialled() {
        let err = from_rustls(
            &remote(),
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let text = err.to_string();
        assert!(text.contains("127.0.0.1:4433"), "{text}");
        assert!(text.contains("db.internal"), "{text}");
        assert!(text.contains("trusted CA"), "{text}");
    }

    #[test]
    fn alerts_are_rejections_by_the_peer() {
        for (alert, check) in [
            (
                AlertDescription::UnknownCA,
                (|e: &TlsError| {
                    matches!(
                        e,
                        TlsError::UnknownIssuer {
                            rejected_by: Initiator::Remote,
                            ..
                        }
                    )
                }) as fn(&TlsError) -> bool,
            ),
            (AlertDescription::CertificateExpired, |e| {
                matches!(
                    e,
                    TlsError::CertificateExpired {
                        rejected_by: Initiator::Remote,
                        ..
                    }
                )
            }),
            (AlertDescription::CertificateRequired, |e| {
                matches!(
                    e,
                    TlsError::ClientCertificateRequired {
                        rejected_by: Initiator::Remote,
                        ..
                    }
                )
            }),
            (AlertDescription::NoApplicationProtocol, |e| {
                matches!(
                    e,
                    TlsError::AlpnMismatch {
                        rejected_by: Initiator::Remote,
                        ..
                    }
                )
            }),
            (AlertDescription::BadCertificate, |e| {
                matches!(
                    e,
                    TlsError::BadCertificate {
                        rejected_by: Initiator::Remote,
                        ..
                    }
                )
            }),
            (AlertDescription::DecodeError, |e| {
                matches!(
                    e,
                    TlsError::Tls {
                        rejected_by: Initiator::Remote,
                        ..
                    }
                )
            }),
        ] {
            let err = from_rustls(&remote(), &rustls::Error::AlertReceived(alert));
            assert!(check(&err), "{alert:?} mapped to {err:?}");
        }
    }

    #[test]
    fn a_rustls_error_inside_io_is_unwrapped() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert!(matches!(
            TlsError::io(&remote(), io),
            TlsError::CertificateExpired {
                rejected_by: Initiator::Local,
                ..
            }
        ));
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert!(matches!(
            TlsError::io(&remote(), plain),
            TlsError::Io { .. }
        ));
    }

    #[test]
    fn session_errors_keep_tls_and_io_causes_visible() {
        let alert = SessionError::from(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        ));
        assert!(matches!(
            TlsError::session(&remote(), alert),
            TlsError::ClientCertificateRequired {
                rejected_by: Initiator::Remote,
                ..
            }
        ));
        let reset = SessionError::from(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        assert!(matches!(
            TlsError::session(&remote(), reset),
            TlsError::Io { .. }
        ));
        let mismatch = SessionError::CodecMismatch {
            local: vec!["json".into()],
            remote: vec!["xml".into()],
        };
        assert!(matches!(
            TlsError::session(&remote(), mismatch),
            TlsError::Session { .. }
        ));
    }
}
