//! `0x01 OPEN`: announces a new stream of the sender's parity.
//!
//! ```text
//! flags  0x1 TOP_LEVEL: a new top-level channel for the peer's accept queue
//!        (otherwise a nested attachment that a following message references)
//! kind   u8   0 opener sends, 1 opener receives, 2 byte stream,
//!             3 passed file descriptor
//! ```

use bytes::BytesMut;

use super::{put_head, Error, Frame, Head, FLAG_TOP_LEVEL};
use crate::codes::{FrameType, StreamKind};
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded OPEN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// The new stream (non-zero, the sender's parity).
    pub stream: StreamId,
    /// What the stream carries.
    pub kind: StreamKind,
    /// Whether it is a top-level channel (flag `0x1`).
    pub top_level: bool,
}

impl Open {
    /// Decodes and validates an OPEN payload.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(FrameType::OPEN, payload);
        let kind_byte = r.u8()?;
        r.finish()?;
        let kind = StreamKind::from_wire(kind_byte).ok_or(Error::InvalidStreamKind(kind_byte))?;
        Ok(Self {
            stream: head.stream,
            kind,
            top_level: head.flags & FLAG_TOP_LEVEL != 0,
        })
    }

    /// Appends head and payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        let flags = if self.top_level { FLAG_TOP_LEVEL } else { 0 };
        put_head(dst, FrameType::OPEN, flags, self.stream, 1);
        dst.extend_from_slice(&[self.kind.to_wire()]);
    }
}

impl From<Open> for Frame {
    fn from(f: Open) -> Self {
        Self::Open(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(flags: u8, len: u32) -> Head {
        Head {
            length: len,
            frame_type: FrameType::OPEN,
            flags,
            stream: StreamId(5),
        }
    }

    #[test]
    fn round_trips_and_ignores_unknown_flags() {
        let open = Open {
            stream: StreamId(5),
            kind: StreamKind::Bytes,
            top_level: true,
        };
        let mut buf = BytesMut::new();
        open.encode(&mut buf);
        assert_eq!(&buf[..], &[0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 5, 2]);
        assert_eq!(Open::load(&head(0xff, 1), &[2]), Ok(open));
        assert_eq!(
            Open::load(&head(0xfe, 1), &[0]),
            Ok(Open {
                stream: StreamId(5),
                kind: StreamKind::OpenerSends,
                top_level: false
            })
        );
    }

    #[test]
    fn rejects_unknown_kind_and_bad_lengths() {
        assert_eq!(
            Open::load(&head(0, 1), &[4]),
            Err(Error::InvalidStreamKind(4))
        );
        assert!(matches!(
            Open::load(&head(0, 0), &[]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Open::load(&head(0, 2), &[0, 0]),
            Err(Error::TrailingBytes { .. })
        ));
    }
}
