//! `0x07 GOAWAY`: the sender is ending the session, on stream 0. After it
//! the sender sends nothing more and closes the connection.
//!
//! ```text
//! code    u32  NO_ERROR for a clean shutdown
//! reason  rest of the payload, UTF-8, at most 256 bytes (may be empty)
//! ```

use bytes::BytesMut;

use super::{put_head, truncate_reason, utf8_field, Error, Frame, Head, MAX_REASON_LEN};
use crate::codes::{ErrorCode, FrameType};
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded GOAWAY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// Why the session ends; [`ErrorCode::NO_ERROR`] for a clean shutdown.
    pub code: ErrorCode,
    /// Human-readable detail, at most 256 bytes.
    pub reason: String,
}

impl GoAway {
    /// Decodes and validates a GOAWAY payload.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        debug_assert_eq!(head.frame_type, FrameType::GOAWAY);
        let mut r = Reader::new(FrameType::GOAWAY, payload);
        let code = ErrorCode(r.u32()?);
        let reason = utf8_field("GOAWAY reason", r.rest(), 0, MAX_REASON_LEN)?;
        Ok(Self { code, reason })
    }

    /// Appends head and payload; a reason longer than 256 bytes is cut at a
    /// character boundary.
    pub fn encode(&self, dst: &mut BytesMut) {
        let reason = truncate_reason(&self.reason);
        put_head(
            dst,
            FrameType::GOAWAY,
            0,
            StreamId::SESSION,
            4 + reason.len(),
        );
        dst.extend_from_slice(&self.code.0.to_be_bytes());
        dst.extend_from_slice(reason.as_bytes());
    }
}

impl From<GoAway> for Frame {
    fn from(f: GoAway) -> Self {
        Self::GoAway(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: usize) -> Head {
        Head {
            length: u32::try_from(len).expect("small"),
            frame_type: FrameType::GOAWAY,
            flags: 0,
            stream: StreamId::SESSION,
        }
    }

    #[test]
    fn round_trips() {
        let goaway = GoAway {
            code: ErrorCode::CODEC_MISMATCH,
            reason: "no codec in common".into(),
        };
        let mut buf = BytesMut::new();
        goaway.encode(&mut buf);
        assert_eq!(&buf[14..18], &[0, 0, 0, 8]);
        assert_eq!(GoAway::load(&head(buf.len() - 14), &buf[14..]), Ok(goaway));
    }

    #[test]
    fn rejects_short_payload_and_long_reason() {
        assert!(matches!(
            GoAway::load(&head(0), &[]),
            Err(Error::Truncated { .. })
        ));
        let mut long = vec![0, 0, 0, 0];
        long.extend_from_slice(&[b'z'; 300]);
        assert!(matches!(
            GoAway::load(&head(long.len()), &long),
            Err(Error::FieldLength { .. })
        ));
    }
}
