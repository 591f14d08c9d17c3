//! `0x04 CLOSE`: the sender sends no more DATA on the stream (half-close,
//! clean end of its sending half). Empty payload.

use bytes::BytesMut;

use super::{put_head, Error, Frame, Head};
use crate::codes::FrameType;
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded CLOSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Close {
    /// The stream (non-zero).
    pub stream: StreamId,
}

impl Close {
    /// Decodes a CLOSE payload, which must be empty.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        Reader::new(FrameType::CLOSE, payload).finish()?;
        Ok(Self {
            stream: head.stream,
        })
    }

    /// Appends the head (there is no payload).
    pub fn encode(&self, dst: &mut BytesMut) {
        put_head(dst, FrameType::CLOSE, 0, self.stream, 0);
    }
}

impl From<Close> for Frame {
    fn from(f: Close) -> Self {
        Self::Close(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_a_payload() {
        let close = Close {
            stream: StreamId(4),
        };
        let mut buf = BytesMut::new();
        close.encode(&mut buf);
        assert_eq!(&buf[..], &[0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
        let head = Head {
            length: 0,
            frame_type: FrameType::CLOSE,
            flags: 0,
            stream: StreamId(4),
        };
        assert_eq!(Close::load(&head, &[]), Ok(close));
        assert!(matches!(
            Close::load(&head, &[0]),
            Err(Error::TrailingBytes { .. })
        ));
    }
}
