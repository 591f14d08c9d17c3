//! `0x02 DATA`: one complete message (channel streams) or a chunk of bytes
//! (byte streams). The payload is opaque to this layer; no flags are defined.

use bytes::{Bytes, BytesMut};

use super::{put_head, Frame, Head};
use crate::codes::FrameType;
use crate::stream_id::StreamId;

/// A decoded DATA frame. The payload shares the receive buffer (no copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// The stream (non-zero).
    pub stream: StreamId,
    /// The payload; may be empty.
    pub payload: Bytes,
}

impl Data {
    /// Decodes a DATA payload. Every payload is valid.
    #[must_use]
    pub fn load(head: &Head, payload: Bytes) -> Self {
        Self {
            stream: head.stream,
            payload,
        }
    }

    /// Appends head and payload.
    ///
    /// # Panics
    /// If the payload exceeds `u32::MAX` bytes (no receiver accepts it).
    pub fn encode(&self, dst: &mut BytesMut) {
        put_head(dst, FrameType::DATA, 0, self.stream, self.payload.len());
        dst.extend_from_slice(&self.payload);
    }
}

impl From<Data> for Frame {
    fn from(f: Data) -> Self {
        Self::Data(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_empty_payloads() {
        for payload in [&b""[..], b"hello"] {
            let data = Data {
                stream: StreamId(3),
                payload: Bytes::copy_from_slice(payload),
            };
            let mut buf = BytesMut::new();
            data.encode(&mut buf);
            let got = super::super::read_frame(&mut buf, 1024);
            assert_eq!(got, Ok(Some(Frame::Data(data))));
        }
    }
}
