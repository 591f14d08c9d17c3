//! `0x06 PING`: liveness probe on stream 0. Payload: 8 opaque bytes. Flag
//! `0x1` ACK marks the reply, which echoes the payload. A PING without ACK
//! must be answered.

use bytes::BytesMut;

use super::{put_head, Error, Frame, Head, FLAG_ACK};
use crate::codes::FrameType;
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// A decoded PING.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// Whether this is the reply (flag `0x1`).
    pub ack: bool,
    /// Opaque bytes, echoed by the reply.
    pub payload: [u8; 8],
}

impl Ping {
    /// Decodes a PING payload, which must be exactly 8 bytes.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(FrameType::PING, payload);
        let bytes = r.bytes8()?;
        r.finish()?;
        Ok(Self {
            ack: head.flags & FLAG_ACK != 0,
            payload: bytes,
        })
    }

    /// Appends head and payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        let flags = if self.ack { FLAG_ACK } else { 0 };
        put_head(dst, FrameType::PING, flags, StreamId::SESSION, 8);
        dst.extend_from_slice(&self.payload);
    }
}

impl From<Ping> for Frame {
    fn from(f: Ping) -> Self {
        Self::Ping(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(flags: u8, len: u32) -> Head {
        Head {
            length: len,
            frame_type: FrameType::PING,
            flags,
            stream: StreamId::SESSION,
        }
    }

    #[test]
    fn round_trips_ack_flag() {
        for ack in [false, true] {
            let ping = Ping {
                ack,
                payload: *b"12345678",
            };
            let mut buf = BytesMut::new();
            ping.encode(&mut buf);
            assert_eq!(buf.len(), 22);
            assert_eq!(
                Ping::load(&head(if ack { 1 } else { 0 }, 8), &buf[14..]),
                Ok(ping)
            );
        }
    }

    #[test]
    fn payload_must_be_exactly_eight_bytes() {
        assert!(matches!(
            Ping::load(&head(0, 7), &[0; 7]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Ping::load(&head(0, 9), &[0; 9]),
            Err(Error::TrailingBytes { .. })
        ));
    }
}
