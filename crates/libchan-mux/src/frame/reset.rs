//! `0x05 RESET`: abrupt end of a stream, from either side.
//!
//! ```text
//! code    u32
//! reason  rest of the payload, UTF-8, at most 256 bytes (may be empty)
//! ```

use bytes::BytesMut;

use super::{put_head, truncate_reason, utf8_field, Error, Frame, Head, MAX_REASON_LEN};
use crate::codes::{ErrorCode, FrameType};
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded RESET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset {
    /// The stream (non-zero).
    pub stream: StreamId,
    /// Why (an open set of codes).
    pub code: ErrorCode,
    /// Human-readable detail, at most 256 bytes.
    pub reason: String,
}

impl Reset {
    /// Decodes and validates a RESET payload.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(FrameType::RESET, payload);
        let code = ErrorCode(r.u32()?);
        let reason = utf8_field("RESET reason", r.rest(), 0, MAX_REASON_LEN)?;
        Ok(Self {
            stream: head.stream,
            code,
            reason,
        })
    }

    /// Appends head and payload; a reason longer than 256 bytes is cut at a
    /// character boundary.
    pub fn encode(&self, dst: &mut BytesMut) {
        let reason = truncate_reason(&self.reason);
        put_head(dst, FrameType::RESET, 0, self.stream, 4 + reason.len());
        dst.extend_from_slice(&self.code.0.to_be_bytes());
        dst.extend_from_slice(reason.as_bytes());
    }
}

impl From<Reset> for Frame {
    fn from(f: Reset) -> Self {
        Self::Reset(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: usize) -> Head {
        Head {
            length: u32::try_from(len).expect("small"),
            frame_type: FrameType::RESET,
            flags: 0,
            stream: StreamId(2),
        }
    }

    #[test]
    fn round_trips_with_and_without_reason() {
        for reason in ["", "receiver dropped"] {
            let reset = Reset {
                stream: StreamId(2),
                code: ErrorCode::CANCEL,
                reason: reason.into(),
            };
            let mut buf = BytesMut::new();
            reset.encode(&mut buf);
            assert_eq!(Reset::load(&head(buf.len() - 14), &buf[14..]), Ok(reset));
        }
    }

    #[test]
    fn rejects_long_or_invalid_reasons_and_short_payloads() {
        let mut long = vec![0, 0, 0, 1];
        long.extend_from_slice(&[b'x'; 257]);
        assert!(matches!(
            Reset::load(&head(long.len()), &long),
            Err(Error::FieldLength { length: 257, .. })
        ));
        assert!(matches!(
            Reset::load(&head(5), &[0, 0, 0, 1, 0xff]),
            Err(Error::InvalidUtf8 { .. })
        ));
        assert!(matches!(
            Reset::load(&head(3), &[0, 0, 1]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn encode_cuts_an_overlong_local_reason() {
        let reset = Reset {
            stream: StreamId(2),
            code: ErrorCode(77),
            reason: "y".repeat(1000),
        };
        let mut buf = BytesMut::new();
        reset.encode(&mut buf);
        let got = Reset::load(&head(buf.len() - 14), &buf[14..]).expect("valid");
        assert_eq!(got.reason.len(), MAX_REASON_LEN);
        assert_eq!(got.code, ErrorCode(77));
    }
}
