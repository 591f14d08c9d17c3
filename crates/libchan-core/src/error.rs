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

/// Why [`Sender::send`](crate::Sender::send) failed, with the value that was
/// not sent.
///
/// The value comes back whenever the message did not go out: the channel
/// is closed or broken, or (over a session) the message could not be
/// encoded or is above the peer's size limit. In the last two cases the
/// channel stays usable, and channel ends inside the value were already
/// handed to the session and failed with the same error (its plain data is
/// intact). [`error`](Self::error) says why; `?` converts it into that
/// [`ChannelError`], dropping the value.
///
/// Displays as its [`ChannelError`] and has that error's source, so an error
/// chain prints each cause once.
pub struct SendError<T> {
    value: T,
    error: ChannelError,
}

impl<T> SendError<T> {
    pub(crate) fn new(value: T, error: ChannelError) -> Self {
        SendError { value, error }
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Why it was not sent.
    pub fn error(&self) -> &ChannelError {
        &self.error
    }

    /// Why it was not sent, dropping the value.
    pub fn into_error(self) -> ChannelError {
        self.error
    }

    /// The value and the reason.
    pub fn into_parts(self) -> (T, ChannelError) {
        (self.value, self.error)
    }
}

impl<T> From<SendError<T>> for ChannelError {
    fn from(e: SendError<T>) -> Self {
        e.error
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .field("value", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for SendError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Why [`Sender::try_send`](crate::Sender::try_send) did not send, with the
/// value, as tokio's `mpsc::error::TrySendError` plus the network's own
/// reasons.
pub enum TrySendError<T> {
    /// The channel holds as many messages from local senders as its
    /// capacity allows (over a session: the peer's credit is used up and
    /// the local queue is full). Retry later, or drop the message: this is
    /// how a fan-out skips a slow subscriber.
    Full(T),
    /// The receiving end is gone or closed ([`ChannelError::Closed`]);
    /// nothing sent can be delivered any more.
    Closed(T),
    /// Any other failure, given. Either the channel broke (its session was
    /// lost, it was reset or aborted: sticky, every later send fails too),
    /// or, over a session, this message could not be encoded
    /// ([`ChannelError::Encode`]) or is above the peer's size limit
    /// ([`ChannelError::Limit`]): then the channel stays usable.
    Broken(T, ChannelError),
}

impl<T> TrySendError<T> {
    pub(crate) fn from_error(value: T, error: ChannelError) -> Self {
        match error {
            ChannelError::Closed => TrySendError::Closed(value),
            other => TrySendError::Broken(value, other),
        }
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) | TrySendError::Broken(v, _) => v,
        }
    }

    /// True for [`Full`](Self::Full): only a wait (or a drop) is needed.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`Closed`](Self::Closed).
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }

    /// The channel error behind a failure other than [`Full`](Self::Full)
    /// (`Closed` is [`ChannelError::Closed`]).
    pub fn error(&self) -> Option<ChannelError> {
        match self {
            TrySendError::Full(_) => None,
            TrySendError::Closed(_) => Some(ChannelError::Closed),
            TrySendError::Broken(_, e) => Some(e.clone()),
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
            TrySendError::Broken(_, e) => f.debug_tuple("Broken").field(&"..").field(e).finish(),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full: the message was not sent"),
            TrySendError::Closed(_) => fmt::Display::fmt(&ChannelError::Closed, f),
            TrySendError::Broken(_, e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrySendError::Broken(_, e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) returned no message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing is queued right now; more may come.
    #[error("channel empty: no message queued")]
    Empty,
    /// The channel ended cleanly: every sender is gone (or the receiver
    /// was closed) and every message was received. `recv` returns
    /// `Ok(None)` here.
    #[error("channel finished: every sender is gone and every message was received")]
    Closed,
    /// The channel broke; `recv` returns this error here.
    #[error(transparent)]
    Broken(ChannelError),
}

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
