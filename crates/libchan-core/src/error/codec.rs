//! Why a message could not be encoded or decoded, and why a channel end
//! inside one could not cross.

use super::*;

/// A codec failed to encode or decode a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The format rejected the value or the bytes. The format library's
    /// error is part of the text (it is the end of the chain, and says
    /// where the input went wrong), so it is not repeated as a `source`.
    #[error("{codec}: {error}")]
    Format {
        /// The codec's wire name.
        codec: String,
        /// What the format library reported.
        error: BoxError,
    },
    /// The message's type cannot travel with this codec (a serde type over a
    /// codec that is not a serde format, for example).
    #[error("type `{type_name}` cannot be carried by codec `{codec}`")]
    Unsupported {
        /// The codec's wire name.
        codec: String,
        /// The Rust type that was refused.
        type_name: &'static str,
    },
    /// A nested channel end could not be exported or imported.
    #[error(transparent)]
    Nest(#[from] NestError),
}

impl CodecError {
    /// Wraps an error reported by a format library.
    pub fn format(codec: &str, source: impl Into<BoxError>) -> Self {
        CodecError::Format {
            codec: codec.to_owned(),
            error: source.into(),
        }
    }
}

/// A nested channel end could not cross a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NestError {
    /// A channel end was serialized outside of any session's encoder: a
    /// `Sender`, `Receiver` or `ByteStream` only has a wire form while a
    /// session is encoding a message.
    #[error("a {0} can only be serialized by a libchan session")]
    NoSession(&'static str),
    /// The message names a stream the session does not know or has already used.
    #[error("unknown {kind} reference {id}")]
    UnknownReference {
        /// The kind of end the message claimed it was.
        kind: &'static str,
        /// The stream id it named.
        id: u64,
    },
    /// The message names a stream of another kind than the field expects.
    #[error("reference {id} is not a {expected}")]
    WrongKind {
        /// What the field expects.
        expected: &'static str,
        /// The stream id it named.
        id: u64,
    },
    /// The end is not of the element type the local code asked for.
    #[error("type mismatch: expected `{expected}`")]
    TypeMismatch {
        /// The type the local code asked for.
        expected: &'static str,
    },
    /// The session refused to export another end.
    #[error("cannot export: {0}")]
    Refused(String),
}
