//! `0x00 HELLO`: the first frame each side sends, on stream 0.
//!
//! ```text
//! version       u16   protocol version (this spec: 1); checked before anything else
//! role          u8    0 dialer, 1 acceptor
//! codec_count   u8
//!   len         u8    1..=32
//!   name        len bytes of UTF-8
//! setting_count u8
//!   id          u16
//!   value       u64
//! ```

use bytes::BytesMut;

use super::{put_head, utf8_field, Error, Frame, Head, HELLO_MAX_LEN};
use crate::codes::{FrameType, Role, SettingId};
use crate::reader::Reader;
use crate::stream_id::StreamId;

/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;

/// Longest codec name in bytes: enough for any format name ("msgpack",
/// "protobuf", "cbor+deflate"), short enough that a HELLO stays tiny.
pub const MAX_CODEC_NAME_LEN: usize = 32;

/// Most codecs a HELLO can list (the count is a `u8`).
pub const MAX_CODECS: usize = u8::MAX as usize;

/// One HELLO setting: an id and a value. Unknown ids are kept (so decode→
/// encode is lossless) and ignored by the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Setting id.
    pub id: SettingId,
    /// Setting value.
    pub value: u64,
}

/// A decoded HELLO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version; always [`VERSION`] for a decoded frame (other
    /// versions fail with [`Error::UnsupportedVersion`]).
    pub version: u16,
    /// The sender's role.
    pub role: Role,
    /// Codec names the sender offers, in its preference order.
    pub codecs: Vec<String>,
    /// Settings in the order sent; each id at most once.
    pub settings: Vec<Setting>,
}

impl Hello {
    /// Decodes and validates a HELLO payload. The version is read first and
    /// a foreign version fails before the rest is parsed, so that a later
    /// version may change everything after it.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Self, Error> {
        debug_assert_eq!(head.frame_type, FrameType::HELLO);
        if payload.len() > HELLO_MAX_LEN as usize {
            return Err(Error::TooLarge {
                frame_type: FrameType::HELLO,
                length: u32::try_from(payload.len()).unwrap_or(u32::MAX),
                max: HELLO_MAX_LEN,
            });
        }
        let mut r = Reader::new(FrameType::HELLO, payload);
        let version = r.u16()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion { version });
        }
        let role_byte = r.u8()?;
        let role = Role::from_wire(role_byte).ok_or(Error::InvalidRole(role_byte))?;
        // Counts are u8 and the payload is capped at 4096 bytes, so these
        // allocations are bounded whatever the peer says.
        let codec_count = r.u8()?;
        let mut codecs = Vec::with_capacity(usize::from(codec_count));
        for _ in 0..codec_count {
            let len = r.u8()?;
            let name = r.take(usize::from(len))?;
            codecs.push(utf8_field("codec name", name, 1, MAX_CODEC_NAME_LEN)?);
        }
        let setting_count = r.u8()?;
        let mut settings: Vec<Setting> = Vec::with_capacity(usize::from(setting_count));
        for _ in 0..setting_count {
            let id = SettingId(r.u16()?);
            let value = r.u64()?;
            if settings.iter().any(|s| s.id == id) {
                return Err(Error::DuplicateSetting(id));
            }
            settings.push(Setting { id, value });
        }
        r.finish()?;
        Ok(Self {
            version,
            role,
            codecs,
            settings,
        })
    }

    /// The value of setting `id`, if present.
    #[must_use]
    pub fn setting(&self, id: SettingId) -> Option<u64> {
        self.settings.iter().find(|s| s.id == id).map(|s| s.value)
    }

    fn payload_len(&self) -> usize {
        let codecs: usize = self.codecs.iter().map(|c| 1 + c.len()).sum();
        2 + 1 + 1 + codecs + 1 + self.settings.len() * 10
    }

    /// Appends head and payload. The caller keeps the frame valid (at most
    /// 255 codecs of 1..=32 bytes, at most 255 settings, 4096 bytes in
    /// all); `Limits::validate` checks this for the session's own HELLO.
    pub fn encode(&self, dst: &mut BytesMut) {
        put_head(
            dst,
            FrameType::HELLO,
            0,
            StreamId::SESSION,
            self.payload_len(),
        );
        dst.extend_from_slice(&self.version.to_be_bytes());
        dst.extend_from_slice(&[self.role.to_wire(), count_u8(self.codecs.len())]);
        for codec in &self.codecs {
            dst.extend_from_slice(&[count_u8(codec.len())]);
            dst.extend_from_slice(codec.as_bytes());
        }
        dst.extend_from_slice(&[count_u8(self.settings.len())]);
        for setting in &self.settings {
            dst.extend_from_slice(&setting.id.0.to_be_bytes());
            dst.extend_from_slice(&setting.value.to_be_bytes());
        }
    }
}

fn count_u8(n: usize) -> u8 {
    u8::try_from(n).expect("HELLO counts and name lengths are validated to fit a u8")
}

impl From<Hello> for Frame {
    fn from(f: Hello) -> Self {
        Self::Hello(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn sample() -> Hello {
        Hello {
            version: VERSION,
            role: Role::Dialer,
            codecs: vec!["json".into(), "msgpack".into()],
            settings: vec![
                Setting {
                    id: SettingId::MAX_FRAME_SIZE,
                    value: 4 << 20,
                },
                Setting {
                    id: SettingId(0x7777),
                    value: 9,
                },
            ],
        }
    }

    fn decode(bytes: &[u8]) -> Result<Frame, Error> {
        let mut buf = BytesMut::from(bytes);
        super::super::read_frame(&mut buf, 1 << 20).map(|f| f.expect("complete frame"))
    }

    fn payload_frame(payload: &[u8]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        put_head(
            &mut buf,
            FrameType::HELLO,
            0,
            StreamId::SESSION,
            payload.len(),
        );
        buf.extend_from_slice(payload);
        buf.to_vec()
    }

    #[test]
    fn round_trips_with_unknown_settings() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf);
        assert_eq!(buf.len(), 14 + sample().payload_len());
        assert_eq!(decode(&buf), Ok(Frame::Hello(sample())));
        assert_eq!(sample().setting(SettingId::MAX_FRAME_SIZE), Some(4 << 20));
        assert_eq!(sample().setting(SettingId::MAX_STREAMS), None);
    }

    #[test]
    fn foreign_version_fails_before_the_rest_is_parsed() {
        // Version 2 followed by bytes that would not parse as version 1.
        let frame = payload_frame(&[0, 2, 0xff]);
        assert_eq!(
            decode(&frame),
            Err(Error::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn rejects_bad_fields() {
        assert_eq!(
            decode(&payload_frame(&[0, 1, 2, 0, 0])),
            Err(Error::InvalidRole(2))
        );
        assert!(matches!(
            decode(&payload_frame(&[0, 1, 0, 1, 0, 0])),
            Err(Error::FieldLength {
                field: "codec name",
                ..
            })
        ));
        assert!(matches!(
            decode(&payload_frame(&[0, 1, 0, 1, 2, 0xc3, 0x28, 0])),
            Err(Error::InvalidUtf8 { .. })
        ));
        let mut long = vec![0, 1, 0, 1, 33];
        long.extend_from_slice(&[b'a'; 33]);
        long.push(0);
        assert!(matches!(
            decode(&payload_frame(&long)),
            Err(Error::FieldLength { length: 33, .. })
        ));
        let dup = [
            0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0,
        ];
        assert_eq!(
            decode(&payload_frame(&dup)),
            Err(Error::DuplicateSetting(SettingId::MAX_FRAME_SIZE))
        );
        assert!(matches!(
            decode(&payload_frame(&[0, 1, 0, 0])),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            decode(&payload_frame(&[0, 1, 0, 0, 0, 9])),
            Err(Error::TrailingBytes { count: 1, .. })
        ));
    }

    #[test]
    fn oversize_payload_is_rejected_even_without_a_limit_check() {
        let head = Head {
            length: 5000,
            frame_type: FrameType::HELLO,
            flags: 0,
            stream: StreamId::SESSION,
        };
        assert!(matches!(
            Frame::decode(&head, Bytes::from(vec![0; 5000])),
            Err(Error::TooLarge { .. })
        ));
    }
}
