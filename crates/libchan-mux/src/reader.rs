//! A checked reader over an untrusted payload.
//!
//! Every read says how many bytes it wants and fails with
//! [`frame::Error::Truncated`] when they are not there; [`Reader::finish`]
//! fails with [`frame::Error::TrailingBytes`] when bytes are left over. Frame
//! decoders read only through this type and never index slices, so no peer
//! input can make them panic. (Model: rustls `msgs/codec.rs`.)

use crate::codes::FrameType;
use crate::frame;

/// Reads big-endian integers and byte runs off a payload, never past its end.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    frame_type: FrameType,
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the payload of a frame of type `frame_type` (named in errors).
    pub(crate) fn new(frame_type: FrameType, buf: &'a [u8]) -> Self {
        Self { frame_type, buf }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], frame::Error> {
        let (head, rest) = self
            .buf
            .split_at_checked(n)
            .ok_or(frame::Error::Truncated {
                frame_type: self.frame_type,
            })?;
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], frame::Error> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| frame::Error::Truncated {
            frame_type: self.frame_type,
        })
    }

    /// Takes one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, frame::Error> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// Takes a big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, frame::Error> {
        self.array().map(u16::from_be_bytes)
    }

    /// Takes a big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, frame::Error> {
        self.array().map(u32::from_be_bytes)
    }

    /// Takes a big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, frame::Error> {
        self.array().map(u64::from_be_bytes)
    }

    /// Takes eight opaque bytes.
    pub(crate) fn bytes8(&mut self) -> Result<[u8; 8], frame::Error> {
        self.array()
    }

    /// Takes everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), frame::Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(frame::Error::TrailingBytes {
                frame_type: self.frame_type,
                count: self.buf.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_rejects_trailing_bytes() {
        let mut r = Reader::new(FrameType::PING, &[1, 0, 2, 0, 0, 0, 3, 9]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(
            r.finish(),
            Err(frame::Error::TrailingBytes {
                frame_type: FrameType::PING,
                count: 1
            })
        );
    }

    #[test]
    fn short_reads_are_errors_not_panics() {
        let mut r = Reader::new(FrameType::DATA, &[1, 2, 3]);
        assert_eq!(
            r.u64(),
            Err(frame::Error::Truncated {
                frame_type: FrameType::DATA
            })
        );
        // A failed read consumes nothing.
        assert_eq!(r.take(3), Ok(&[1u8, 2, 3][..]));
        assert!(r.take(usize::MAX).is_err());
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.finish(), Ok(()));
    }
}
