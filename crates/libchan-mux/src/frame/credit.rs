//! `0x03 CREDIT`: grants the stream's data sender `increment` more bytes;
//! on stream 0, grants the peer `increment` more bytes of session credit.
//!
//! ```text
//! increment  u32  > 0
//! ```

use bytes::BytesMut;

use super::{put_head, Error, Frame, Head};
use crate::codes::FrameType;
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded CREDIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credit {
    /// The stream; 0 for the session's window.
    pub stream: StreamId,
    /// Bytes of credit granted; never 0.
    pub increment: u32,
}

impl Credit {
    /// Decodes and validates a CREDIT payload.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(FrameType::CREDIT, payload);
        let increment = r.u32()?;
        r.finish()?;
        if increment == 0 {
            return Err(Error::ZeroIncrement);
        }
        Ok(Self {
            stream: head.stream,
            increment,
        })
    }

    /// Appends head and payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        put_head(dst, FrameType::CREDIT, 0, self.stream, 4);
        dst.extend_from_slice(&self.increment.to_be_bytes());
    }
}

impl From<Credit> for Frame {
    fn from(f: Credit) -> Self {
        Self::Credit(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: u32) -> Head {
        Head {
            length: len,
            frame_type: FrameType::CREDIT,
            flags: 0,
            stream: StreamId(9),
        }
    }

    #[test]
    fn round_trips() {
        let credit = Credit {
            stream: StreamId(9),
            increment: 0x0102_0304,
        };
        let mut buf = BytesMut::new();
        credit.encode(&mut buf);
        assert_eq!(&buf[14..], &[1, 2, 3, 4]);
        assert_eq!(Credit::load(&head(4), &buf[14..]), Ok(credit));
    }

    #[test]
    fn rejects_zero_and_bad_lengths() {
        assert_eq!(Credit::load(&head(4), &[0; 4]), Err(Error::ZeroIncrement));
        assert!(matches!(
            Credit::load(&head(3), &[0; 3]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Credit::load(&head(5), &[0, 0, 0, 1, 0]),
            Err(Error::TrailingBytes { .. })
        ));
    }
}
