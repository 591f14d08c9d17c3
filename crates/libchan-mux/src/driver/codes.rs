//! The one place that maps between wire codes and the errors users see.

use libchan_core::{ChannelError, ConnectionLoss, HandshakeError, Initiator, SessionError};

use crate::{Error as ProtoError, ErrorCode, Role};

/// The code a RESET carries for a channel that broke with `err` upstream
/// (a sender aborted, a forwarded channel's own session was lost, a queued
/// message could not be sent).
pub(crate) fn reset_code(err: &ChannelError) -> ErrorCode {
    match err {
        ChannelError::Aborted { .. } | ChannelError::SessionLost(_) => ErrorCode::ABORTED,
        ChannelError::Limit(_) => ErrorCode::LIMIT_EXCEEDED,
        ChannelError::Decode(_) => ErrorCode::DECODE_ERROR,
        ChannelError::Closed => ErrorCode::CANCEL,
        ChannelError::Reset { code, .. } => ErrorCode(*code),
        _ => ErrorCode::INTERNAL_ERROR,
    }
}

/// The reason text a RESET for `err` carries: an abort's own reason, else
/// the error's description with its causes.
pub(crate) fn reset_reason(err: &ChannelError) -> String {
    match err {
        ChannelError::Aborted { reason, .. } => reason.clone(),
        ChannelError::Reset { reason, .. } => reason.clone(),
        other => with_causes(other),
    }
}

/// `err` and its chain of sources, joined with ": ".
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// What a RESET from the peer means for the channel on that stream.
pub(crate) fn remote_reset(code: ErrorCode, reason: String) -> ChannelError {
    match code {
        ErrorCode::CANCEL => ChannelError::Closed,
        ErrorCode::ABORTED => ChannelError::Aborted {
            initiator: Initiator::Remote,
            reason,
        },
        code => ChannelError::Reset {
            initiator: Initiator::Remote,
            code: code.0,
            reason,
        },
    }
}

/// Maps a protocol failure to the error users see.
pub(crate) fn session_error(role: Role, err: &ProtoError) -> SessionError {
    match err {
        ProtoError::CodecMismatch { dialer, acceptor } => {
            let (local, remote) = match role {
                Role::Dialer => (dialer.clone(), acceptor.clone()),
                Role::Acceptor => (acceptor.clone(), dialer.clone()),
            };
            SessionError::CodecMismatch { local, remote }
        }
        ProtoError::BadMagic => SessionError::Handshake(HandshakeError::BadMagic),
        ProtoError::VersionMismatch { local, peer } => {
            SessionError::Handshake(HandshakeError::VersionMismatch {
                local: *local,
                peer: *peer,
            })
        }
        ProtoError::RoleConflict(role) => {
            SessionError::Handshake(HandshakeError::RoleConflict(match role {
                Role::Dialer => "dialer",
                Role::Acceptor => "acceptor",
            }))
        }
        ProtoError::HandshakeTimeout(d) => SessionError::Handshake(HandshakeError::Timeout(*d)),
        ProtoError::Remote {
            code: ErrorCode::ABORTED,
            reason,
        } => SessionError::Aborted {
            initiator: Initiator::Remote,
            reason: reason.clone(),
        },
        ProtoError::Remote { code, reason } => SessionError::Protocol {
            initiator: Initiator::Remote,
            code: code.0,
            reason: reason.clone(),
        },
        ProtoError::KeepaliveTimeout(d) => {
            SessionError::ConnectionLost(ConnectionLoss::KeepaliveTimeout(*d))
        }
        ProtoError::LingerTimeout { .. } => SessionError::Aborted {
            initiator: Initiator::Local,
            reason: err.to_string(),
        },
        other => SessionError::Protocol {
            initiator: Initiator::Local,
            code: other.code().0,
            reason: with_causes(other),
        },
    }
}
