//! Why a session failed: the handshake, the connection, the protocol.

use std::sync::Arc;

use super::*;

/// Why a session (a connection between two peers) failed or ended.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session was closed cleanly (by either side) and can open no more
    /// channels.
    #[error("session closed")]
    Closed,
    /// Reading or writing the underlying connection failed.
    #[error("connection failed")]
    Io(#[source] Arc<std::io::Error>),
    /// Dialling failed: the address could not be resolved or connected to
    /// (refused, unreachable, timed out).
    #[error("could not connect to {addr}")]
    Connect {
        /// The address dialled, as given (or as resolved, when it resolved).
        addr: String,
        /// What the socket reported (`TimedOut` for a connect timeout).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The session configuration is invalid; nothing was dialled or
    /// spawned. The source is the transport's own configuration error
    /// (for the mux transports, `libchan_mux::ConfigError`).
    #[error("invalid session configuration")]
    Config(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The connection ended in the middle of the session, without a goodbye.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionLoss),
    /// A side broke the protocol; carries the wire code.
    #[error("protocol error raised by the {initiator} (code {code}): {reason}")]
    Protocol {
        /// Who detected the violation.
        initiator: Initiator,
        /// The wire error code (see `docs/PROTOCOL.md`).
        code: u32,
        /// What was wrong.
        reason: String,
    },
    /// The handshake failed: not a libchan peer, wrong version, role
    /// conflict, timeout. (No codec in common is
    /// [`CodecMismatch`](Self::CodecMismatch).)
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// The two sides speak no common codec. Reported in this one shape on
    /// both sides, by `open`/`accept` and inside
    /// [`ChannelError::SessionLost`] by every channel of the session.
    #[error("codec mismatch: this side speaks [{}], the peer speaks [{}]", local.join(", "), remote.join(", "))]
    CodecMismatch {
        /// Codecs this side offered.
        local: Vec<String>,
        /// Codecs the peer offered.
        remote: Vec<String>,
    },
    /// A session limit was exceeded.
    #[error(transparent)]
    Limit(LimitError),
    /// A received channel reference could not be resolved.
    #[error("bad channel reference")]
    Reference(#[source] NestError),
    /// A side ended the session abruptly (`Session::abort`), or its graceful
    /// close did not finish within the linger timeout.
    #[error("session aborted by the {initiator}: {reason}")]
    Aborted {
        /// Who aborted.
        initiator: Initiator,
        /// The reason given.
        reason: String,
    },
}

impl SessionError {
    /// A [`Config`](Self::Config) error from a transport's configuration error.
    pub fn config(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        SessionError::Config(Arc::new(error))
    }
}

/// Why a handshake failed, as a program can match it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's first bytes were not libchan's magic: it is not speaking
    /// libchan (a wrong port, an HTTP server, TLS on one side only).
    #[error("the peer is not speaking libchan (bad magic)")]
    BadMagic,
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: this side speaks version {local}, the peer speaks version {peer}")]
    VersionMismatch {
        /// Ours.
        local: u16,
        /// The peer's.
        peer: u16,
    },
    /// Both peers claim the same role (two dialers, or two acceptors).
    #[error("both peers claim to be the {0}")]
    RoleConflict(&'static str),
    /// The peer's handshake did not arrive in time.
    #[error("the peer's handshake did not arrive within {0:?}")]
    Timeout(std::time::Duration),
    /// The peer chose a codec this side did not offer.
    #[error("the peer chose codec {0:?}, which this side did not offer")]
    UnknownCodec(String),
    /// The peer sent a message before the handshake settled the codec.
    #[error("the peer sent a message before a codec was agreed")]
    DataBeforeHandshake,
}

/// How a connection was lost, as a program can match it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionLoss {
    /// The peer closed the connection (end of stream) without ending the
    /// session: it crashed, or something cut the connection cleanly.
    #[error("the peer closed the connection without ending the session")]
    Closed,
    /// Nothing arrived for two keepalive intervals.
    #[error("the peer sent nothing for two keepalive intervals of {0:?}")]
    KeepaliveTimeout(std::time::Duration),
}

impl From<std::io::Error> for SessionError {
    fn from(e: std::io::Error) -> Self {
        SessionError::Io(Arc::new(e))
    }
}

impl From<SessionError> for ChannelError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Limit(l) => ChannelError::Limit(l),
            other => ChannelError::SessionLost(other),
        }
    }
}
