//! Frames: the 14-byte head, one type per frame kind, and decode/encode.
//!
//! ```text
//! +----------------+--------+--------+--------------------------------+
//! | length u32     | type u8| flags u8| stream u64                     |
//! +----------------+--------+--------+--------------------------------+
//! | payload (length bytes) ...                                         |
//! ```
//!
//! Every frame type has one file and the same API (model: h2 `src/frame/`):
//! `load(&Head, payload) -> Result<Self, Error>` validates everything the
//! payload says, `encode(&self, dst)` writes head and payload, and
//! `From<X> for Frame`. [`Frame::decode`] dispatches on the head's type;
//! [`read_frame`] cuts one frame off a byte buffer with the tokio-util
//! decoder contract (`Ok(None)`: need more bytes; `Err`: the stream is dead).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codes::{FrameType, SettingId};
use crate::stream_id::StreamId;

mod close;
mod credit;
mod data;
mod goaway;
mod hello;
mod open;
mod ping;
mod reset;

pub use close::Close;
pub use credit::Credit;
pub use data::Data;
pub use goaway::GoAway;
pub use hello::{Hello, Setting, MAX_CODECS, MAX_CODEC_NAME_LEN, VERSION};
pub use open::Open;
pub use ping::Ping;
pub use reset::Reset;

/// The 8 bytes each side writes first: `"libchan\0"`.
pub const MAGIC: [u8; 8] = *b"libchan\0";

/// Size of a frame head in bytes.
pub const HEAD_LEN: usize = 14;

/// The HELLO frame's payload is capped at this many bytes whatever the
/// receiver's `max_frame_size`: HELLO arrives before the receiver has told
/// the peer its limits, and 4 KiB holds 255 codec names of 14 bytes plus
/// dozens of settings, far beyond any real handshake.
pub const HELLO_MAX_LEN: u32 = 4096;

/// Longest RESET or GOAWAY reason in bytes: enough for a sentence, small
/// enough that error paths never allocate much on a peer's say-so.
pub const MAX_REASON_LEN: usize = 256;

/// Flag bit on OPEN: the stream is a new top-level channel for the peer's
/// accept queue (otherwise a nested attachment).
pub const FLAG_TOP_LEVEL: u8 = 0x1;

/// Flag bit on PING: this is the reply.
pub const FLAG_ACK: u8 = 0x1;

/// A frame head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Payload length in bytes (not counting the head).
    pub length: u32,
    /// Frame type; unknown types are skipped.
    pub frame_type: FrameType,
    /// Flag bits; receivers ignore bits they do not know.
    pub flags: u8,
    /// Stream the frame is about; 0 for the session.
    pub stream: StreamId,
}

impl Head {
    /// Parses the 14 head bytes. Cannot fail: every bit pattern is a head;
    /// the length and type are judged by the caller.
    #[must_use]
    pub fn parse(bytes: [u8; HEAD_LEN]) -> Self {
        let [l0, l1, l2, l3, frame_type, flags, s0, s1, s2, s3, s4, s5, s6, s7] = bytes;
        Self {
            length: u32::from_be_bytes([l0, l1, l2, l3]),
            frame_type: FrameType(frame_type),
            flags,
            stream: StreamId(u64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7])),
        }
    }

    /// Writes the 14 head bytes.
    pub fn encode(&self, dst: &mut impl BufMut) {
        dst.put_u32(self.length);
        dst.put_u8(self.frame_type.0);
        dst.put_u8(self.flags);
        dst.put_u64(self.stream.0);
    }

    /// Checks that the stream id fits the frame type: HELLO, PING and GOAWAY
    /// on stream 0, CREDIT anywhere (stream 0: session credit), the other
    /// known stream frames on any other stream.
    pub(crate) fn check_stream(&self) -> Result<(), Error> {
        if self.frame_type.name().is_none()
            || self.frame_type.is_either_level()
            || self.frame_type.is_session_level() == self.stream.is_session()
        {
            Ok(())
        } else {
            Err(Error::InvalidStream {
                frame_type: self.frame_type,
                stream: self.stream,
            })
        }
    }
}

/// Writes a head for a payload of `len` bytes.
///
/// # Panics
/// If `len` exceeds `u32::MAX`: callers bound every payload by a `u32`
/// frame size limit first.
pub(crate) fn put_head(
    dst: &mut impl BufMut,
    frame_type: FrameType,
    flags: u8,
    stream: StreamId,
    len: usize,
) {
    let length =
        u32::try_from(len).expect("frame payloads are bounded by a u32 limit before encoding");
    Head {
        length,
        frame_type,
        flags,
        stream,
    }
    .encode(dst);
}

/// A frame whose type this implementation does not know; kept so that
/// decode→encode is lossless.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The unknown type byte.
    pub frame_type: FrameType,
    /// Flags as received.
    pub flags: u8,
    /// Stream id as received.
    pub stream: StreamId,
    /// Payload as received.
    pub payload: Bytes,
}

impl From<Unknown> for Frame {
    fn from(f: Unknown) -> Self {
        Self::Unknown(f)
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `0x00` HELLO.
    Hello(Hello),
    /// `0x01` OPEN.
    Open(Open),
    /// `0x02` DATA.
    Data(Data),
    /// `0x03` CREDIT.
    Credit(Credit),
    /// `0x04` CLOSE.
    Close(Close),
    /// `0x05` RESET.
    Reset(Reset),
    /// `0x06` PING.
    Ping(Ping),
    /// `0x07` GOAWAY.
    GoAway(GoAway),
    /// A type this implementation does not know (receivers skip it).
    Unknown(Unknown),
}

impl Frame {
    /// Decodes a frame from its head and its complete payload.
    ///
    /// Validates everything: stream id against type, exact payload lengths,
    /// field ranges, UTF-8. Does not check `head.length` against any limit
    /// (that is done before the payload is read, see [`read_frame`]), but
    /// fails if `payload` is not `head.length` bytes long.
    pub fn decode(head: &Head, payload: Bytes) -> Result<Self, Error> {
        if usize::try_from(head.length).ok() != Some(payload.len()) {
            return Err(Error::Truncated {
                frame_type: head.frame_type,
            });
        }
        head.check_stream()?;
        Ok(match head.frame_type {
            FrameType::HELLO => Hello::load(head, &payload)?.into(),
            FrameType::OPEN => Open::load(head, &payload)?.into(),
            FrameType::DATA => Data::load(head, payload).into(),
            FrameType::CREDIT => Credit::load(head, &payload)?.into(),
            FrameType::CLOSE => Close::load(head, &payload)?.into(),
            FrameType::RESET => Reset::load(head, &payload)?.into(),
            FrameType::PING => Ping::load(head, &payload)?.into(),
            FrameType::GOAWAY => GoAway::load(head, &payload)?.into(),
            frame_type => Self::Unknown(Unknown {
                frame_type,
                flags: head.flags,
                stream: head.stream,
                payload,
            }),
        })
    }

    /// Appends the encoded frame (head and payload) to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Self::Hello(f) => f.encode(dst),
            Self::Open(f) => f.encode(dst),
            Self::Data(f) => f.encode(dst),
            Self::Credit(f) => f.encode(dst),
            Self::Close(f) => f.encode(dst),
            Self::Reset(f) => f.encode(dst),
            Self::Ping(f) => f.encode(dst),
            Self::GoAway(f) => f.encode(dst),
            Self::Unknown(f) => {
                put_head(dst, f.frame_type, f.flags, f.stream, f.payload.len());
                dst.extend_from_slice(&f.payload);
            }
        }
    }

    /// The frame's type.
    #[must_use]
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Hello(_) => FrameType::HELLO,
            Self::Open(_) => FrameType::OPEN,
            Self::Data(_) => FrameType::DATA,
            Self::Credit(_) => FrameType::CREDIT,
            Self::Close(_) => FrameType::CLOSE,
            Self::Reset(_) => FrameType::RESET,
            Self::Ping(_) => FrameType::PING,
            Self::GoAway(_) => FrameType::GOAWAY,
            Self::Unknown(f) => f.frame_type,
        }
    }

    /// The stream the frame is about (0 for session frames).
    #[must_use]
    pub fn stream(&self) -> StreamId {
        match self {
            Self::Hello(_) | Self::Ping(_) | Self::GoAway(_) => StreamId::SESSION,
            Self::Open(f) => f.stream,
            Self::Data(f) => f.stream,
            Self::Credit(f) => f.stream,
            Self::Close(f) => f.stream,
            Self::Reset(f) => f.stream,
            Self::Unknown(f) => f.stream,
        }
    }
}

/// Cuts one frame off the front of `src` (tokio-util decoder contract).
///
/// Returns `Ok(None)` if `src` does not yet hold a whole frame (after
/// reserving room for it), `Ok(Some(frame))` after removing its bytes, and
/// `Err` if the bytes can never be a valid frame; the connection is then
/// dead. A head announcing a payload longer than `max_payload` (or than
/// [`HELLO_MAX_LEN`] for HELLO) is rejected before anything is reserved.
/// `src` must start at a frame head (the magic is not handled here).
pub fn read_frame(src: &mut BytesMut, max_payload: u32) -> Result<Option<Frame>, Error> {
    let Some(head_bytes) = src.get(..HEAD_LEN) else {
        return Ok(None);
    };
    let Ok(head_bytes) = <[u8; HEAD_LEN]>::try_from(head_bytes) else {
        return Ok(None);
    };
    let head = Head::parse(head_bytes);
    check_length(&head, max_payload)?;
    let total = HEAD_LEN.saturating_add(usize::try_from(head.length).unwrap_or(usize::MAX));
    if src.len() < total {
        src.reserve(total - src.len());
        return Ok(None);
    }
    src.advance(HEAD_LEN);
    let payload = src.split_to(total - HEAD_LEN).freeze();
    Frame::decode(&head, payload).map(Some)
}

/// Checks a head's length against the receiver's limit (HELLO: at most
/// [`HELLO_MAX_LEN`] whatever the limit).
pub(crate) fn check_length(head: &Head, max_payload: u32) -> Result<(), Error> {
    let max = if head.frame_type == FrameType::HELLO {
        max_payload.min(HELLO_MAX_LEN)
    } else {
        max_payload
    };
    if head.length > max {
        return Err(Error::TooLarge {
            frame_type: head.frame_type,
            length: head.length,
            max,
        });
    }
    Ok(())
}

/// Decodes a UTF-8 field of at most `max` bytes.
pub(crate) fn utf8_field(
    field: &'static str,
    bytes: &[u8],
    min: usize,
    max: usize,
) -> Result<String, Error> {
    if bytes.len() < min || bytes.len() > max {
        return Err(Error::FieldLength {
            field,
            length: bytes.len(),
            min,
            max,
        });
    }
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Error::InvalidUtf8 { field })
}

/// The longest prefix of `reason` that fits in [`MAX_REASON_LEN`] bytes and
/// ends on a character boundary. Encoders use it so that a local reason can
/// never produce a frame the peer must reject.
#[must_use]
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.get(..end).unwrap_or_default()
}

/// Why bytes could not be decoded as a frame. Always the sender's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The head announces a payload above the receiver's limit (checked
    /// before any allocation).
    #[error("{frame_type} frame of {length} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Type from the head.
        frame_type: FrameType,
        /// Length from the head.
        length: u32,
        /// The limit that applied.
        max: u32,
    },
    /// The payload ends before a field it must contain.
    #[error("{frame_type} payload is truncated")]
    Truncated {
        /// Type from the head.
        frame_type: FrameType,
    },
    /// The payload has bytes after its last field.
    #[error("{frame_type} payload has {count} trailing bytes")]
    TrailingBytes {
        /// Type from the head.
        frame_type: FrameType,
        /// How many bytes were left.
        count: usize,
    },
    /// HELLO, PING or GOAWAY on a stream other than 0, or a stream frame on stream 0.
    #[error("{frame_type} frame not allowed on stream {stream}")]
    InvalidStream {
        /// Type from the head.
        frame_type: FrameType,
        /// Stream from the head.
        stream: StreamId,
    },
    /// HELLO announces a protocol version this implementation does not speak.
    /// Nothing after the version field is parsed.
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version the peer speaks.
        version: u16,
    },
    /// HELLO `role` byte is neither 0 nor 1.
    #[error("HELLO role byte {0} is neither 0 (dialer) nor 1 (acceptor)")]
    InvalidRole(u8),
    /// OPEN `kind` byte is not a known stream kind.
    #[error("OPEN kind byte {0} is not a known stream kind")]
    InvalidStreamKind(u8),
    /// A length-limited field is too short or too long.
    #[error("{field} is {length} bytes, allowed {min}..={max}")]
    FieldLength {
        /// Which field.
        field: &'static str,
        /// Its length.
        length: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// A HELLO lists the same setting id twice.
    #[error("HELLO lists setting {0} twice")]
    DuplicateSetting(SettingId),
    /// A CREDIT frame's increment is 0.
    #[error("CREDIT increment is 0")]
    ZeroIncrement,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips() {
        let head = Head {
            length: 0x0102_0304,
            frame_type: FrameType::DATA,
            flags: 0x80,
            stream: StreamId(0x1122_3344_5566_7788),
        };
        let mut buf = BytesMut::new();
        head.encode(&mut buf);
        assert_eq!(
            &buf[..],
            &[1, 2, 3, 4, 2, 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        );
        let bytes: [u8; HEAD_LEN] = buf[..].try_into().expect("14 bytes");
        assert_eq!(Head::parse(bytes), head);
    }

    #[test]
    fn read_frame_waits_for_whole_frame_then_cuts_it() {
        let mut wire = BytesMut::new();
        Frame::from(Credit {
            stream: StreamId(3),
            increment: 7,
        })
        .encode(&mut wire);
        let full = wire.clone();
        for cut in 0..full.len() {
            let mut partial = BytesMut::from(&full[..cut]);
            assert_eq!(read_frame(&mut partial, 1024), Ok(None), "cut at {cut}");
            assert_eq!(partial.len(), cut, "nothing consumed at {cut}");
        }
        let got = read_frame(&mut wire, 1024)
            .expect("valid")
            .expect("complete");
        assert_eq!(
            got,
            Frame::Credit(Credit {
                stream: StreamId(3),
                increment: 7
            })
        );
        assert!(wire.is_empty());
    }

    #[test]
    fn oversize_length_is_rejected_before_reserving() {
        let mut wire = BytesMut::new();
        Head {
            length: u32::MAX,
            frame_type: FrameType::DATA,
            flags: 0,
            stream: StreamId(1),
        }
        .encode(&mut wire);
        let cap = wire.capacity();
        assert_eq!(
            read_frame(&mut wire, 1 << 20),
            Err(Error::TooLarge {
                frame_type: FrameType::DATA,
                length: u32::MAX,
                max: 1 << 20
            })
        );
        assert_eq!(wire.capacity(), cap);
    }

    #[test]
    fn hello_is_capped_at_4096_whatever_the_limit() {
        let head = Head {
            length: HELLO_MAX_LEN + 1,
            frame_type: FrameType::HELLO,
            flags: 0,
            stream: StreamId::SESSION,
        };
        assert!(matches!(
            check_length(&head, u32::MAX),
            Err(Error::TooLarge { max: 4096, .. })
        ));
    }

    #[test]
    fn stream_ids_must_fit_the_frame_type() {
        let ping_on_stream = Head {
            length: 8,
            frame_type: FrameType::PING,
            flags: 0,
            stream: StreamId(1),
        };
        assert!(matches!(
            Frame::decode(&ping_on_stream, Bytes::from_static(&[0; 8])),
            Err(Error::InvalidStream { .. })
        ));
        let close_on_session = Head {
            length: 0,
            frame_type: FrameType::CLOSE,
            flags: 0,
            stream: StreamId::SESSION,
        };
        assert!(matches!(
            Frame::decode(&close_on_session, Bytes::new()),
            Err(Error::InvalidStream { .. })
        ));
    }

    #[test]
    fn unknown_frame_type_round_trips() {
        let frame = Frame::Unknown(Unknown {
            frame_type: FrameType(0x42),
            flags: 0xff,
            stream: StreamId(0),
            payload: Bytes::from_static(b"future"),
        });
        let mut wire = BytesMut::new();
        frame.encode(&mut wire);
        assert_eq!(read_frame(&mut wire, 1024), Ok(Some(frame)));
    }

    #[test]
    fn payload_length_must_match_head() {
        let head = Head {
            length: 4,
            frame_type: FrameType::CREDIT,
            flags: 0,
            stream: StreamId(1),
        };
        assert!(matches!(
            Frame::decode(&head, Bytes::from_static(&[0, 0, 1])),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn reasons_are_truncated_on_char_boundaries() {
        let long = "é".repeat(200); // 400 bytes
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_REASON_LEN);
        assert_eq!(cut.len(), 256);
        let odd = format!("a{long}");
        assert_eq!(truncate_reason(&odd).len(), 255);
        assert_eq!(truncate_reason("short"), "short");
    }
}
