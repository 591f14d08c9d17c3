//! Errors: what went wrong, and who is at fault.
//!
//! A clean close is never an error: [`Receiver::recv`](crate::Receiver::recv)
//! returns `Ok(None)` for it. Everything here means something broke, and says
//! whether the local side, the peer, or the connection between them is to
//! blame, so a finished stream can always be told apart from a crash.
//!
//! Each error's `Display` says what happened at its own level; a variant
//! that wraps another error returns it from `source()` and does not repeat
//! its text, so an error chain (`{:#}` with anyhow, or walking `source()`)
//! prints each cause once. Variants whose whole meaning is the inner error
//! (a [`LimitError`]) display as it.

use std::fmt;
use std::sync::Arc;

/// Boxed error source, shareable between every handle a failure reaches.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which side of a session started an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This process.
    Local,
    /// The peer at the other end of the session.
    Remote,
}

impl fmt::Display for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Initiator::Local => "local side",
            Initiator::Remote => "peer",
        })
    }
}

/// Why a channel operation failed.
///
/// Cloneable, because one failure (a lost session, say) reaches every handle
/// that depended on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The receiving end is gone (dropped locally, or cancelled by the peer);
    /// nothing sent from now on can be delivered.
    #[error("channel closed: the receiving end is gone")]
    Closed,
    /// The session carrying this channel ended before the channel finished
    /// (the [`SessionError`] says how: a lost connection, an abort, a codec
    /// mismatch, ...). A channel that fails because of its session always
    /// has this shape, whenever the failure shows; see
    /// [`session_error`](Self::session_error).
    #[error("channel broken: its session ended")]
    SessionLost(#[source] SessionError),
    /// One side reset this channel.
    #[error("channel reset by the {initiator} (code {code}): {reason}")]
    Reset {
        /// Who reset the channel.
        initiator: Initiator,
        /// The wire error code (see `docs/PROTOCOL.md`).
        code: u32,
        /// Human-readable reason sent with the reset.
        reason: String,
    },
    /// A message could not be encoded for the session's codec.
    #[error("could not encode a message")]
    Encode(#[source] Arc<CodecError>),
    /// A message from the peer could not be decoded.
    #[error("could not decode a message from the peer")]
    Decode(#[source] Arc<CodecError>),
    /// The responder dropped its reply channel without answering.
    #[error("no reply: the responder dropped the reply channel without answering")]
    NoReply,
    /// An end arrived whose element type is not the one the receiver asked for.
    #[error("type mismatch: expected a channel end of type `{expected}`")]
    TypeMismatch {
        /// The type the local code asked for.
        expected: &'static str,
    },
    /// A configured limit was exceeded.
    #[error(transparent)]
    Limit(LimitError),
    /// A sender ended the channel abruptly: it called
    /// [`Sender::abort`](crate::Sender::abort), or the last sender was
    /// dropped while its thread was panicking.
    #[error("channel aborted by the {initiator}: {reason}")]
    Aborted {
        /// Where the abort happened (`Remote`: in the peer's process).
        initiator: Initiator,
        /// The reason given to `abort`.
        reason: String,
    },
}

impl ChannelError {
    /// The session error behind a [`SessionLost`](Self::SessionLost): how
    /// the session ended. A codec mismatch, say, is
    /// `Some(SessionError::CodecMismatch { .. })` here whether it showed at
    /// the first `send`, in a `call`, or in a message that carried ends,
    /// and it is the error `open` and `accept` return.
    pub fn session_error(&self) -> Option<&SessionError> {
        match self {
            ChannelError::SessionLost(e) => Some(e),
            _ => None,
        }
    }

    /// True when the error means the peer or connection went away rather than
    /// a local mistake.
    pub fn is_broken(&self) -> bool {
        matches!(
            self,
            ChannelError::SessionLost(_)
                | ChannelError::Reset {
                    initiator: Initiator::Remote,
                    ..
                }
                | ChannelError::Aborted {
                    initiator: Initiator::Remote,
                    ..
                }
        )
    }
}

/// A configured limit that was hit, with the limit's name and value.
///
/// The name is the configuration field's (`max_frame_size`, `max_streams`,
/// ...), followed by whose limit it is when it is the peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit exceeded: {what} is limited to {limit} (got {actual})")]
pub struct LimitError {
    /// Which limit, by its configuration name (`"max_frame_size (the
    /// peer's MAX_FRAME_SIZE)"`, `"max_streams (the peer's MAX_STREAMS)"`,
    /// `"max_pending_accepts"`, ...).
    pub what: &'static str,
    /// The configured limit.
    pub limit: u64,
    /// The value that exceeded it.
    pub actual: u64,
}

mod byte_stream;
mod codec;
mod send;
mod session;

pub use byte_stream::ByteStreamError;
pub use codec::{CodecError, NestError};
pub use send::{SendError, TryRecvError, TrySendError};
pub use session::{ConnectionLoss, HandshakeError, SessionError};

#[cfg(test)]
mod tests {
    use super::*;

    /// No error in the chain repeats its source's text.
    fn assert_chain_says_each_cause_once(err: &(dyn std::error::Error + 'static)) {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(source) = e.source() {
                let (outer, inner) = (e.to_string(), source.to_string());
                assert!(
                    !outer.contains(&inner),
                    "{outer:?} repeats its source {inner:?}"
                );
            }
            current = e.source();
        }
    }

    #[test]
    fn display_does_not_repeat_the_source() {
        let io = || Arc::new(std::io::Error::other("boom"));
        let codec = || Arc::new(CodecError::format("json", "expected a string"));
        let limit = LimitError {
            what: "max_frame_size",
            limit: 1,
            actual: 2,
        };
        let session_errors = [
            SessionError::Io(io()),
            SessionError::Connect {
                addr: "127.0.0.1:1".into(),
                source: io(),
            },
            SessionError::config(std::io::Error::other("max_frame_size 1 is below 1024")),
            SessionError::Reference(NestError::NoSession("Sender")),
            SessionError::Limit(limit.clone()),
            SessionError::Handshake(HandshakeError::BadMagic),
            SessionError::ConnectionLost(ConnectionLoss::Closed),
        ];
        for e in &session_errors {
            assert_chain_says_each_cause_once(e);
            assert_chain_says_each_cause_once(&ChannelError::SessionLost(e.clone()));
            assert_chain_says_each_cause_once(&ByteStreamError::SessionLost(e.clone()));
        }
        for e in [
            ChannelError::Encode(codec()),
            ChannelError::Decode(codec()),
            ChannelError::Limit(limit),
        ] {
            assert_chain_says_each_cause_once(&e);
            assert_chain_says_each_cause_once(&SendError::new(1u8, e));
        }
    }

    #[test]
    fn handshake_and_lost_connections_are_matchable_and_say_why() {
        let e = SessionError::Handshake(HandshakeError::VersionMismatch { local: 1, peer: 2 });
        assert!(matches!(
            e,
            SessionError::Handshake(HandshakeError::VersionMismatch { peer: 2, .. })
        ));
        assert_eq!(
            e.to_string(),
            "handshake failed: protocol version mismatch: this side speaks version 1, the peer speaks version 2"
        );
        let e = SessionError::ConnectionLost(ConnectionLoss::KeepaliveTimeout(
            std::time::Duration::from_secs(30),
        ));
        assert!(e.to_string().contains("keepalive"), "{e}");
    }
}
