//! Errors, grouped by who is at fault, and their wire codes.
//!
//! * [`Error`]: the session is over. Either the peer's bytes were malformed
//!   ([`Error::BadMagic`], [`Error::Malformed`]), the peer broke a protocol
//!   rule ([`Error::Protocol`], the handshake variants), the peer ended the
//!   session with an error ([`Error::Remote`]: the only remotely initiated
//!   one), or a timer ran out.
//! * [`StreamError`] and [`SendError`]: a call on one stream could not be
//!   done; the session carries on. Mostly local misuse or a race with the
//!   peer ending the stream.
//! * [`ConfigError`]: a [`Limits`](crate::Limits) field is out of range.
//!
//! [`Error::code`] is the one place that maps errors to wire codes.

use std::convert::Infallible;
use std::time::Duration;

use crate::codes::{ErrorCode, FrameType, Role, SettingId, StreamKind};
use crate::frame;
use crate::stream_id::StreamId;

/// Why a session ended abnormally. Once a session reports one, it has queued
/// a GOAWAY (except for [`Error::Remote`]) and accepts no more input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The first 8 bytes were not `"libchan\0"`.
    #[error("peer is not speaking libchan (bad magic)")]
    BadMagic,
    /// The peer sent bytes that do not decode as a frame.
    ///
    /// The text includes the frame error's (it is also the GOAWAY's
    /// reason), so the frame error is not repeated as a `source`.
    #[error("malformed frame from peer: {0}")]
    Malformed(frame::Error),
    /// The peer sent well-formed frames that break a protocol rule. As with
    /// `Malformed`, the violation is in the text, not a `source`.
    #[error("protocol violation by peer: {0}")]
    Protocol(Violation),
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak version {local}, the peer speaks version {peer}")]
    VersionMismatch {
        /// Our version.
        local: u16,
        /// The peer's version.
        peer: u16,
    },
    /// The peer claims the same role as we do (two dialers or two acceptors).
    #[error("both peers claim to be the {0:?}")]
    RoleConflict(Role),
    /// The peers have no codec in common. Both sides compute this and carry
    /// both lists.
    #[error("no codec in common: the dialer offers {dialer:?}, the acceptor offers {acceptor:?}")]
    CodecMismatch {
        /// The dialer's list, in preference order.
        dialer: Vec<String>,
        /// The acceptor's list, in preference order.
        acceptor: Vec<String>,
    },
    /// The peer ended the session with a GOAWAY whose code is not `NO_ERROR`.
    #[error("peer ended the session: {code}: {reason}")]
    Remote {
        /// The peer's code.
        code: ErrorCode,
        /// The peer's reason.
        reason: String,
    },
    /// The peer's HELLO did not arrive in time.
    #[error("the peer's HELLO did not arrive within {0:?}")]
    HandshakeTimeout(Duration),
    /// Nothing arrived for two keepalive intervals, not even a PING ACK.
    #[error("the peer sent nothing for two keepalive intervals of {0:?}")]
    KeepaliveTimeout(Duration),
    /// A graceful close did not finish within the linger time: `open`
    /// streams were still open and are aborted.
    #[error("the graceful close did not finish within {linger:?}: {open} streams still open")]
    LingerTimeout {
        /// The configured linger.
        linger: Duration,
        /// Streams still open when it ran out.
        open: usize,
    },
}

impl From<frame::Error> for Error {
    fn from(e: frame::Error) -> Self {
        Error::Malformed(e)
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Protocol(v)
    }
}

impl Error {
    /// The wire code for this error: what our GOAWAY carries (or, for
    /// [`Error::Remote`], what the peer's did). The one mapping in the crate.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadMagic => ErrorCode::PROTOCOL_ERROR,
            Self::Malformed(e) => match e {
                frame::Error::TooLarge { .. }
                | frame::Error::Truncated { .. }
                | frame::Error::TrailingBytes { .. } => ErrorCode::FRAME_SIZE_ERROR,
                frame::Error::UnsupportedVersion { .. } => ErrorCode::VERSION_MISMATCH,
                _ => ErrorCode::PROTOCOL_ERROR,
            },
            Self::Protocol(v) => match v {
                Violation::FlowControl { .. } | Violation::CreditOverflow(_) => {
                    ErrorCode::FLOW_CONTROL_ERROR
                }
                _ => ErrorCode::PROTOCOL_ERROR,
            },
            Self::VersionMismatch { .. } => ErrorCode::VERSION_MISMATCH,
            Self::RoleConflict(_) => ErrorCode::PROTOCOL_ERROR,
            Self::CodecMismatch { .. } => ErrorCode::CODEC_MISMATCH,
            Self::Remote { code, .. } => *code,
            Self::HandshakeTimeout(_) => ErrorCode::HANDSHAKE_TIMEOUT,
            Self::KeepaliveTimeout(_) => ErrorCode::KEEPALIVE_TIMEOUT,
            Self::LingerTimeout { .. } => ErrorCode::ABORTED,
        }
    }

    /// Whether the peer initiated the end of the session (its GOAWAY); all
    /// other errors were detected here.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote { .. })
    }

    /// Whether the peer broke the protocol or one of our limits (bad magic,
    /// malformed or oversize frames, a rule violation, a role conflict), as
    /// opposed to a mismatch of versions or codecs, a timeout, or the
    /// peer's own GOAWAY. These are the failures worth a warning: an honest
    /// peer never causes them.
    #[must_use]
    pub fn is_peer_fault(&self) -> bool {
        match self {
            Self::Malformed(frame::Error::UnsupportedVersion { .. }) => false,
            Self::BadMagic | Self::Malformed(_) | Self::Protocol(_) | Self::RoleConflict(_) => true,
            _ => false,
        }
    }
}

/// A protocol rule the peer broke with well-formed frames.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The first frame after the magic was not HELLO.
    #[error("first frame must be HELLO, got {0}")]
    ExpectedHello(FrameType),
    /// A second HELLO.
    #[error("HELLO sent twice")]
    DuplicateHello,
    /// A known HELLO setting outside its range.
    #[error("setting {id} has invalid value {value}")]
    InvalidSetting {
        /// The setting.
        id: SettingId,
        /// Its value.
        value: u64,
    },
    /// OPEN for an id of the receiver's parity.
    #[error("OPEN for stream {0}, which has the receiver's parity")]
    OpenWrongParity(StreamId),
    /// OPEN for an id not above the peer's highest id so far.
    #[error("OPEN for stream {id} is not above the highest id opened so far ({highest})")]
    StreamIdNotIncreasing {
        /// The id.
        id: StreamId,
        /// The highest id the peer had opened.
        highest: StreamId,
    },
    /// A frame for a stream that was never opened (the peer must OPEN first).
    #[error("{frame_type} for stream {id}, which was never opened")]
    UnknownStream {
        /// The frame's type.
        frame_type: FrameType,
        /// The id.
        id: StreamId,
    },
    /// DATA or CLOSE from a side that does not send on the stream, or CREDIT
    /// from a side that does not receive on it.
    #[error("{frame_type} on stream {id} from a side that does not play that role on it")]
    WrongDirection {
        /// The frame's type.
        frame_type: FrameType,
        /// The stream.
        id: StreamId,
    },
    /// DATA or CLOSE after the peer's CLOSE on the same stream.
    #[error("{frame_type} on stream {id} after the peer closed its sending half")]
    AfterClose {
        /// The frame's type.
        frame_type: FrameType,
        /// The stream.
        id: StreamId,
    },
    /// The peer sent more than window + max frame size without credit.
    #[error("stream {id}: {outstanding} bytes outstanding, limit {limit}")]
    FlowControl {
        /// The stream.
        id: StreamId,
        /// Bytes received beyond what we have credited.
        outstanding: u64,
        /// Window plus max frame size.
        limit: u64,
    },
    /// CREDIT raised a stream's credit above 2^62.
    #[error("stream {0}: credit above 2^62")]
    CreditOverflow(StreamId),
    /// A top-level OPEN of a kind other than 0: a top-level stream is a
    /// message channel its opener sends on (the peer accepts it as a
    /// receiver); replies, byte streams and descriptors are nested.
    #[error("top-level OPEN of stream {id} of kind {kind:?}: a top-level stream must be a channel its opener sends on (kind 0)")]
    TopLevelKind {
        /// The stream.
        id: StreamId,
        /// The kind it was opened with.
        kind: StreamKind,
    },
    /// A descriptor stream opened toward a side that announced it cannot
    /// receive descriptors (`MAX_PENDING_FDS` 0).
    #[error("OPEN of descriptor stream {0}, but this side accepts no file descriptors")]
    FdNotAccepted(StreamId),
    /// A top-level OPEN after the peer's own GOAWAY.
    #[error("top-level OPEN for stream {0} after the peer's GOAWAY")]
    OpenAfterGoAway(StreamId),
}

/// Why a call about one stream failed. The session carries on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The session has ended (failed, aborted, or closed gracefully).
    #[error("the session has ended")]
    SessionEnded,
    /// The peer cannot receive file descriptors (or its HELLO has not
    /// arrived).
    #[error("the peer does not accept file descriptors")]
    FdsNotAccepted,
    /// Local misuse: a top-level stream must be a channel its opener sends
    /// on ([`StreamKind::OpenerSends`]);
    /// replies, byte streams and descriptors are nested.
    #[error("a top-level stream of kind {0:?} was asked for: top-level streams are channels their opener sends on")]
    TopLevelKind(StreamKind),
    /// The session is closing gracefully (GOAWAY sent or received): no new
    /// top-level streams; nested ones on open channels are still allowed.
    #[error("the session is closing: no new top-level channels")]
    Closing,
    /// Local misuse: the id was never allocated by either side, or is 0.
    #[error("stream {0} was never opened")]
    UnknownStream(StreamId),
    /// The stream has ended (closed or reset); an [`Event`](crate::Event)
    /// said why. A race with the peer, not necessarily misuse.
    #[error("stream {0} has ended")]
    Finished(StreamId),
    /// Local misuse: we do not send DATA on this stream (its kind says the
    /// peer does), or we already closed our sending half.
    #[error("we do not send on stream {0}")]
    NotSender(StreamId),
    /// Opening would exceed the peer's `MAX_STREAMS`.
    #[error("the peer accepts at most {max} open streams from us")]
    StreamLimit {
        /// The peer's limit.
        max: u64,
    },
    /// All stream ids of our parity are used up.
    #[error("stream ids exhausted")]
    IdsExhausted,
    /// The peer's fault: a message referenced a stream that is not a
    /// pending nested stream opened by the peer (never opened, refused,
    /// top-level, or already claimed). Wire code `UNKNOWN_REFERENCE`.
    #[error("stream {0} is not an unclaimed attachment opened by the peer")]
    UnknownReference(StreamId),
}

/// Why [`Connection::send_data`](crate::Connection::send_data) or
/// [`Connection::send_data_with`](crate::Connection::send_data_with) sent nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<E = Infallible> {
    /// No credit on the stream or the session, or the send buffer is full
    /// (or, before the peer's HELLO, a payload above the assumed 1 KiB frame
    /// limit). Retry after [`Event::Credit`](crate::Event::Credit) for this
    /// stream, which is guaranteed to follow.
    #[error("stream is blocked on flow control credit")]
    Blocked,
    /// The payload exceeds the peer's `MAX_FRAME_SIZE`; it can never be sent.
    #[error("payload of {len} bytes exceeds the peer's limit of {max}")]
    TooLarge {
        /// The payload length.
        len: usize,
        /// The peer's limit.
        max: u32,
    },
    /// The stream cannot be sent on.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The encoding closure failed; nothing was queued.
    #[error("encoding the payload failed")]
    Encode(#[source] E),
}

/// A [`Limits`](crate::Limits) field is out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_frame_size` below 1024.
    #[error("max_frame_size {0} is below the minimum of 1024")]
    MaxFrameSize(u32),
    /// `initial_window` outside 1024..=2^62.
    #[error("initial_window {0} is outside 1024..=2^62")]
    InitialWindow(u64),
    /// A zero timeout, linger or keepalive interval.
    #[error("{0} must not be zero")]
    ZeroDuration(&'static str),
    /// A size that must not be zero.
    #[error("{0} must not be zero")]
    Zero(&'static str),
    /// `session_window` outside 64 KiB..=2^62.
    #[error("session_window {0} is outside 65536..=2^62")]
    SessionWindow(u64),
    /// No codecs, or more than 255.
    #[error("{0} codecs offered; 1..=255 allowed")]
    CodecCount(usize),
    /// A codec name that is empty or longer than 32 bytes.
    #[error("codec name {0:?} must be 1..=32 bytes")]
    CodecName(String),
    /// The HELLO would exceed 4096 bytes.
    #[error("the HELLO would be {0} bytes, above the 4096-byte cap")]
    HelloTooLarge(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_in_one_place() {
        let too_large = Error::Malformed(frame::Error::TooLarge {
            frame_type: FrameType::DATA,
            length: 9,
            max: 1,
        });
        assert_eq!(too_large.code(), ErrorCode::FRAME_SIZE_ERROR);
        assert_eq!(
            Error::Malformed(frame::Error::ZeroIncrement).code(),
            ErrorCode::PROTOCOL_ERROR
        );
        let flow = Error::Protocol(Violation::CreditOverflow(StreamId(1)));
        assert_eq!(flow.code(), ErrorCode::FLOW_CONTROL_ERROR);
        assert_eq!(
            Error::CodecMismatch {
                dialer: vec![],
                acceptor: vec![]
            }
            .code(),
            ErrorCode::CODEC_MISMATCH
        );
        assert_eq!(
            Error::HandshakeTimeout(Duration::from_secs(1)).code(),
            ErrorCode::HANDSHAKE_TIMEOUT
        );
        let remote = Error::Remote {
            code: ErrorCode(99),
            reason: String::new(),
        };
        assert_eq!(remote.code(), ErrorCode(99));
        assert!(remote.is_remote());
        assert!(!Error::BadMagic.is_remote());
    }

    #[test]
    fn messages_name_both_sides() {
        let e = Error::VersionMismatch { local: 1, peer: 7 };
        assert_eq!(
            e.to_string(),
            "protocol version mismatch: we speak version 1, the peer speaks version 7"
        );
        let e = Error::CodecMismatch {
            dialer: vec!["json".into()],
            acceptor: vec!["msgpack".into()],
        };
        assert!(e.to_string().contains("\"json\"") && e.to_string().contains("\"msgpack\""));
    }
}
