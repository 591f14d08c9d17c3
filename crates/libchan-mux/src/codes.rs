//! Open wire enumerations.
//!
//! A peer may send values this implementation does not know (a newer error
//! code, a frame type from a later revision). Such values are *values*, not
//! errors: [`ErrorCode`], [`FrameType`] and [`SettingId`] are newtypes over
//! the wire integer with named constants, so an unknown code round-trips and
//! prints as a number. The two closed enums here ([`Role`], [`StreamKind`])
//! are closed because an unknown value cannot be acted upon: receiving one is
//! a protocol error.

use std::fmt;

/// A RESET or GOAWAY code (`u32` on the wire). The set is open: unknown codes
/// are kept as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Not an error: a clean close (GOAWAY) or an ordinary cancel.
    pub const NO_ERROR: Self = Self(0);
    /// The peer broke a protocol rule.
    pub const PROTOCOL_ERROR: Self = Self(1);
    /// The sender hit an internal failure unrelated to the peer.
    pub const INTERNAL_ERROR: Self = Self(2);
    /// The peer sent more DATA than its credit allowed, or overflowed credit.
    pub const FLOW_CONTROL_ERROR: Self = Self(3);
    /// A frame's length is wrong for its type or above the receiver's limit.
    pub const FRAME_SIZE_ERROR: Self = Self(4);
    /// A stream was refused because a limit was hit (`MAX_STREAMS`, `MAX_PENDING_OPENS`).
    pub const REFUSED: Self = Self(5);
    /// The data receiver went away (its receiving handle was dropped).
    pub const CANCEL: Self = Self(6);
    /// A message could not be decoded by the codec.
    pub const DECODE_ERROR: Self = Self(7);
    /// The peers have no codec in common.
    pub const CODEC_MISMATCH: Self = Self(8);
    /// The peers speak different protocol versions.
    pub const VERSION_MISMATCH: Self = Self(9);
    /// The peer's HELLO did not arrive in time.
    pub const HANDSHAKE_TIMEOUT: Self = Self(10);
    /// The peer went silent (no reply to a keepalive PING).
    pub const KEEPALIVE_TIMEOUT: Self = Self(11);
    /// A message named a channel reference that was never announced.
    pub const UNKNOWN_REFERENCE: Self = Self(12);
    /// A configured limit (message size, count) was exceeded.
    pub const LIMIT_EXCEEDED: Self = Self(13);
    /// The application ended the stream or session abruptly: a sender
    /// aborted (or panicked), a byte stream's writer went away without
    /// shutting down, a session was aborted or did not finish closing
    /// within its linger time. Not a protocol error; the reason says what.
    pub const ABORTED: Self = Self(14);

    /// The name this specification gives the code, if it is a known one.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NO_ERROR",
            1 => "PROTOCOL_ERROR",
            2 => "INTERNAL_ERROR",
            3 => "FLOW_CONTROL_ERROR",
            4 => "FRAME_SIZE_ERROR",
            5 => "REFUSED",
            6 => "CANCEL",
            7 => "DECODE_ERROR",
            8 => "CODEC_MISMATCH",
            9 => "VERSION_MISMATCH",
            10 => "HANDSHAKE_TIMEOUT",
            11 => "KEEPALIVE_TIMEOUT",
            12 => "UNKNOWN_REFERENCE",
            13 => "LIMIT_EXCEEDED",
            14 => "ABORTED",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_CODE({})", self.0),
        }
    }
}

/// The `type` byte of a frame head. Unknown types are skipped by receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameType(pub u8);

impl FrameType {
    /// `0x00`: the first frame of each side, on stream 0.
    pub const HELLO: Self = Self(0x00);
    /// `0x01`: announces a new stream.
    pub const OPEN: Self = Self(0x01);
    /// `0x02`: one message, or a chunk of a byte stream.
    pub const DATA: Self = Self(0x02);
    /// `0x03`: grants the data sender more credit.
    pub const CREDIT: Self = Self(0x03);
    /// `0x04`: the sender sends no more DATA on the stream.
    pub const CLOSE: Self = Self(0x04);
    /// `0x05`: abrupt end of a stream.
    pub const RESET: Self = Self(0x05);
    /// `0x06`: liveness probe and its ACK, on stream 0.
    pub const PING: Self = Self(0x06);
    /// `0x07`: the sender ends the session, on stream 0.
    pub const GOAWAY: Self = Self(0x07);

    /// The name this specification gives the type, if it is a known one.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "HELLO",
            0x01 => "OPEN",
            0x02 => "DATA",
            0x03 => "CREDIT",
            0x04 => "CLOSE",
            0x05 => "RESET",
            0x06 => "PING",
            0x07 => "GOAWAY",
            _ => return None,
        })
    }

    /// Whether the frame type must be sent on stream 0 (the session itself).
    /// Unknown types may be sent on any stream.
    #[must_use]
    pub fn is_session_level(self) -> bool {
        matches!(self, Self::HELLO | Self::PING | Self::GOAWAY)
    }

    /// Whether the frame type may be sent on stream 0 *and* on streams:
    /// CREDIT, which on stream 0 grants session credit.
    #[must_use]
    pub fn is_either_level(self) -> bool {
        self == Self::CREDIT
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_TYPE(0x{:02x})", self.0),
        }
    }
}

/// A HELLO setting identifier (`u16`). Receivers ignore unknown ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SettingId(pub u16);

impl SettingId {
    /// Largest DATA payload the HELLO sender accepts.
    pub const MAX_FRAME_SIZE: Self = Self(1);
    /// Credit (bytes) the HELLO sender grants per stream it receives on.
    pub const INITIAL_WINDOW: Self = Self(2);
    /// Most concurrently open peer-opened streams the HELLO sender accepts.
    pub const MAX_STREAMS: Self = Self(3);
    /// Most unclaimed nested streams the HELLO sender accepts.
    pub const MAX_PENDING_OPENS: Self = Self(4);
    /// Credit (bytes) the HELLO sender grants for all streams together.
    pub const SESSION_WINDOW: Self = Self(5);
    /// Most passed file descriptors the HELLO sender holds unclaimed; 0
    /// (the default): it cannot receive descriptors.
    pub const MAX_PENDING_FDS: Self = Self(6);

    /// The name this specification gives the setting, if it is a known one.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "MAX_FRAME_SIZE",
            2 => "INITIAL_WINDOW",
            3 => "MAX_STREAMS",
            4 => "MAX_PENDING_OPENS",
            5 => "SESSION_WINDOW",
            6 => "MAX_PENDING_FDS",
            _ => return None,
        })
    }
}

impl fmt::Display for SettingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_SETTING({})", self.0),
        }
    }
}

/// Which end of the connection a peer is. Only the dialer/acceptor split
/// matters to the protocol: it decides stream id parity and codec preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The peer that opened the connection (wire value 0). Allocates odd stream ids.
    Dialer,
    /// The peer that accepted the connection (wire value 1). Allocates even stream ids.
    Acceptor,
}

impl Role {
    /// The wire byte (`0` dialer, `1` acceptor).
    #[must_use]
    pub fn to_wire(self) -> u8 {
        match self {
            Self::Dialer => 0,
            Self::Acceptor => 1,
        }
    }

    /// Parses the wire byte; `None` for anything but 0 and 1.
    #[must_use]
    pub fn from_wire(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Dialer),
            1 => Some(Self::Acceptor),
            _ => None,
        }
    }

    /// The other role.
    #[must_use]
    pub fn peer(self) -> Self {
        match self {
            Self::Dialer => Self::Acceptor,
            Self::Acceptor => Self::Dialer,
        }
    }
}

/// What a stream carries, as announced by OPEN (`kind` byte). Directions are
/// stated from the point of view of the stream's opener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `0`: a message channel on which the opener sends (data flows opener → peer).
    OpenerSends,
    /// `1`: a message channel on which the opener receives (data flows peer → opener).
    OpenerReceives,
    /// `2`: a byte stream; both sides send.
    Bytes,
    /// `3`: a file descriptor passed beside the OPEN frame (SCM_RIGHTS on a
    /// unix socket); no DATA flows on the stream. Nested only, and only
    /// toward a peer that announced `MAX_PENDING_FDS` > 0.
    Fd,
}

impl StreamKind {
    /// The wire byte.
    #[must_use]
    pub fn to_wire(self) -> u8 {
        match self {
            Self::OpenerSends => 0,
            Self::OpenerReceives => 1,
            Self::Bytes => 2,
            Self::Fd => 3,
        }
    }

    /// Parses the wire byte; `None` for unknown kinds.
    #[must_use]
    pub fn from_wire(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::OpenerSends),
            1 => Some(Self::OpenerReceives),
            2 => Some(Self::Bytes),
            3 => Some(Self::Fd),
            _ => None,
        }
    }

    /// Whether the stream is a message channel (each DATA frame one whole
    /// message), not a byte stream or a descriptor.
    #[must_use]
    pub fn is_message(self) -> bool {
        matches!(self, Self::OpenerSends | Self::OpenerReceives)
    }

    /// Whether the opener of a stream of this kind sends DATA on it.
    #[must_use]
    pub fn opener_sends(self) -> bool {
        matches!(self, Self::OpenerSends | Self::Bytes)
    }

    /// Whether the non-opener of a stream of this kind sends DATA on it.
    #[must_use]
    pub fn acceptor_sends(self) -> bool {
        matches!(self, Self::OpenerReceives | Self::Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_error_code_is_a_value() {
        let code = ErrorCode(4242);
        assert_eq!(code.name(), None);
        assert_eq!(code.to_string(), "UNKNOWN_CODE(4242)");
        assert_eq!(ErrorCode::CANCEL.to_string(), "CANCEL");
    }

    #[test]
    fn frame_type_names() {
        assert_eq!(FrameType::GOAWAY.to_string(), "GOAWAY");
        assert_eq!(FrameType(0x2a).to_string(), "UNKNOWN_TYPE(0x2a)");
        assert!(FrameType::PING.is_session_level());
        assert!(!FrameType(0x2a).is_session_level());
    }

    #[test]
    fn wire_enums_round_trip() {
        for role in [Role::Dialer, Role::Acceptor] {
            assert_eq!(Role::from_wire(role.to_wire()), Some(role));
        }
        assert_eq!(Role::from_wire(2), None);
        for kind in [
            StreamKind::OpenerSends,
            StreamKind::OpenerReceives,
            StreamKind::Bytes,
            StreamKind::Fd,
        ] {
            assert_eq!(StreamKind::from_wire(kind.to_wire()), Some(kind));
        }
        assert_eq!(StreamKind::from_wire(4), None);
    }
}
