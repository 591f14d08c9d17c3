//! Why a byte stream broke.

use super::*;

/// Why a [`ByteStream`](crate::ByteStream) failed; carried inside the
/// `std::io::Error` its reads and writes return (see
/// [`ByteStreamError::of`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ByteStreamError {
    /// The writing side ended abruptly: it was dropped without `shutdown`,
    /// or the source it copied from failed (the reason says which). The
    /// data read so far may be incomplete.
    #[error("byte stream aborted by the {initiator}: {reason}")]
    Aborted {
        /// Where it happened (`Remote`: in the peer's process).
        initiator: Initiator,
        /// What happened.
        reason: String,
    },
    /// The reading side went away: nothing written from now on is read.
    #[error("byte stream cancelled: the reading end on the {initiator} went away")]
    Cancelled {
        /// Where the reader was.
        initiator: Initiator,
    },
    /// The stream was reset with another code.
    #[error("byte stream reset by the {initiator} (code {code}): {reason}")]
    Reset {
        /// Who reset it.
        initiator: Initiator,
        /// The wire error code (see `docs/PROTOCOL.md`).
        code: u32,
        /// The reason sent with the reset.
        reason: String,
    },
    /// The session carrying the stream was lost.
    #[error("byte stream broken: its session ended")]
    SessionLost(#[source] SessionError),
    /// This handle was sent in a message; its IO lives elsewhere now.
    #[error("this byte stream was sent in a message and can no longer be used here")]
    Spent,
}

impl ByteStreamError {
    /// The byte-stream error inside an `io::Error` from a [`ByteStream`](crate::ByteStream),
    /// if it carries one.
    pub fn of(err: &std::io::Error) -> Option<&ByteStreamError> {
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<ByteStreamError>())
    }

    /// The `io::ErrorKind` this error is reported with.
    pub fn kind(&self) -> std::io::ErrorKind {
        use std::io::ErrorKind;
        match self {
            ByteStreamError::Aborted { .. } => ErrorKind::UnexpectedEof,
            ByteStreamError::Cancelled { .. } => ErrorKind::BrokenPipe,
            ByteStreamError::Reset { .. } => ErrorKind::ConnectionReset,
            ByteStreamError::SessionLost(_) => ErrorKind::ConnectionAborted,
            ByteStreamError::Spent => ErrorKind::NotConnected,
        }
    }
}

impl From<ByteStreamError> for std::io::Error {
    fn from(e: ByteStreamError) -> Self {
        std::io::Error::new(e.kind(), e)
    }
}
