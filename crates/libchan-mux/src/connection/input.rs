//! Cutting the inbound byte stream into the magic and frames.
//!
//! Bytes arrive split anywhere. The deframer copies only what the current
//! item needs: the magic is compared byte by byte (so a wrong peer fails on
//! its first wrong byte), the 14 head bytes go to a fixed array, and the
//! payload goes to a buffer reserved only after the head's length passed
//! the limit. The buffer therefore never holds more than one max-size
//! payload (or one 16 KiB chunk that small payloads are cut from, so they
//! cost no allocation each), and a complete payload leaves as `Bytes` split
//! off that buffer (DATA payloads reach the application without another
//! copy).

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::frame::{self, Head, HEAD_LEN, MAGIC};

/// Payloads below this size are cut from a shared 16 KiB buffer
/// instead of an allocation each; larger ones get their own.
pub const SMALL_PAYLOAD: usize = 4 * 1024;

/// The buffer small payloads are cut from. A payload split off it keeps the
/// whole chunk alive, so a driver that *retains* small payloads (rather than
/// decoding and dropping them) should copy them out.
const CHUNK: usize = 16 * 1024;

#[derive(Clone, Copy, Debug)]
enum State {
    /// `matched` bytes of the magic seen so far.
    Magic { matched: usize },
    /// Reading a head; `filled` bytes of it in `head`.
    Head { filled: usize },
    /// Reading the payload of `head` into `payload`.
    Payload { head: Head },
}

/// Incremental parser of the inbound byte stream.
#[derive(Debug)]
pub(crate) struct Deframer {
    state: State,
    head: [u8; HEAD_LEN],
    payload: BytesMut,
    /// The buffer of a large payload the driver was done with
    /// ([`Deframer::recycle`]), for the next large payload that fits it.
    spare: Option<BytesMut>,
}

/// The largest buffer kept for reuse: a bigger one is freed as before.
const SPARE_MAX: usize = 1 << 20;

impl Deframer {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Magic { matched: 0 },
            head: [0; HEAD_LEN],
            payload: BytesMut::new(),
            spare: None,
        }
    }

    /// Keeps `buf`, the buffer of a large payload nothing holds any more,
    /// to receive the next large payload into instead of allocating one.
    /// One is kept, of at most 1 MiB; a payload uses it only if the buffer
    /// is at most a quarter larger than the payload, so a value that keeps
    /// its payload keeps at most a quarter more than its own message.
    pub(crate) fn recycle(&mut self, mut buf: BytesMut) {
        if (SMALL_PAYLOAD..=SPARE_MAX).contains(&buf.capacity()) {
            buf.clear();
            self.spare = Some(buf);
        }
    }

    /// A buffer for a large payload of `len` bytes: the spare if it fits,
    /// else one of exactly that size.
    fn large_buffer(&mut self, len: usize) -> BytesMut {
        match self.spare.take() {
            Some(spare) if spare.capacity() >= len && spare.capacity() - len <= len / 4 => spare,
            spare => {
                self.spare = spare;
                BytesMut::with_capacity(len)
            }
        }
    }

    /// Consumes bytes from the front of `input` until one frame is complete
    /// (returned with its payload) or `input` is empty (`Ok(None)`). A head
    /// whose length exceeds `max_payload` fails before anything is reserved.
    pub(crate) fn poll(
        &mut self,
        input: &mut &[u8],
        max_payload: u32,
    ) -> Result<Option<(Head, Bytes)>, Error> {
        loop {
            match self.state {
                State::Magic { matched } => {
                    let mut matched = matched;
                    while let Some(want) = MAGIC.get(matched) {
                        let Some((&byte, rest)) = input.split_first() else {
                            self.state = State::Magic { matched };
                            return Ok(None);
                        };
                        if byte != *want {
                            return Err(Error::BadMagic);
                        }
                        *input = rest;
                        matched += 1;
                    }
                    self.state = State::Head { filled: 0 };
                }
                State::Head { filled } => {
                    let n = (HEAD_LEN - filled).min(input.len());
                    let (src, rest) = input.split_at(n);
                    if let Some(dst) = self.head.get_mut(filled..filled + n) {
                        dst.copy_from_slice(src);
                    }
                    *input = rest;
                    let filled = filled + n;
                    if filled < HEAD_LEN {
                        self.state = State::Head { filled };
                        return Ok(None);
                    }
                    let head = Head::parse(self.head);
                    frame::check_length(&head, max_payload)?;
                    self.payload.clear();
                    let len = payload_len(&head);
                    if len >= SMALL_PAYLOAD {
                        // Its own buffer, of its size (or a recycled one
                        // a little larger): keeping it never keeps
                        // anything else.
                        self.payload = self.large_buffer(len);
                    } else if self.payload.capacity() < len {
                        self.payload.reserve(CHUNK);
                    }
                    self.state = State::Payload { head };
                }
                State::Payload { head } => {
                    let want = payload_len(&head) - self.payload.len();
                    let n = want.min(input.len());
                    let (src, rest) = input.split_at(n);
                    self.payload.extend_from_slice(src);
                    *input = rest;
                    if n < want {
                        return Ok(None);
                    }
                    self.state = State::Head { filled: 0 };
                    let payload = if self.payload.len() >= SMALL_PAYLOAD {
                        // The whole buffer, so that it comes back whole
                        // if recycled (and, filled to its capacity, it
                        // leaves without the shared header a split would
                        // allocate).
                        std::mem::take(&mut self.payload)
                    } else {
                        self.payload.split()
                    };
                    return Ok(Some((head, payload.freeze())));
                }
            }
        }
    }
}

fn payload_len(head: &Head) -> usize {
    // u32 fits usize on every platform this crate supports (>= 32 bits).
    usize::try_from(head.length).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::FrameType;
    use crate::frame::{Frame, Ping};

    fn wire() -> Vec<u8> {
        let mut buf = BytesMut::from(&MAGIC[..]);
        Frame::from(Ping {
            ack: false,
            payload: *b"abcdefgh",
        })
        .encode(&mut buf);
        buf.to_vec()
    }

    #[test]
    fn byte_by_byte_equals_all_at_once() {
        let wire = wire();
        let mut d = Deframer::new();
        let mut got = None;
        for (i, byte) in wire.iter().enumerate() {
            let mut input = std::slice::from_ref(byte);
            let r = d.poll(&mut input, 1024).expect("valid");
            assert!(input.is_empty());
            if i + 1 < wire.len() {
                assert!(r.is_none(), "frame complete early at {i}");
            } else {
                got = r;
            }
        }
        let (head, payload) = got.expect("frame at the last byte");
        assert_eq!(head.frame_type, FrameType::PING);
        assert_eq!(&payload[..], b"abcdefgh");

        let mut d = Deframer::new();
        let mut input = &wire[..];
        let (head2, payload2) = d.poll(&mut input, 1024).expect("valid").expect("complete");
        assert_eq!((head2, payload2), (head, payload));
    }

    #[test]
    fn small_payloads_share_one_chunk_and_large_ones_do_not() {
        let mut wire = BytesMut::from(&MAGIC[..]);
        for i in 0..3u8 {
            Frame::from(Ping {
                ack: false,
                payload: [i; 8],
            })
            .encode(&mut wire);
        }
        let mut d = Deframer::new();
        let mut input = &wire[..];
        let mut payloads = Vec::new();
        while let Some((_, p)) = d.poll(&mut input, 1 << 20).expect("valid") {
            payloads.push(p);
        }
        assert_eq!(payloads.len(), 3);
        let base = payloads[0].as_ptr() as usize;
        for (i, p) in payloads.iter().enumerate() {
            assert_eq!(p[0], i as u8);
            assert_eq!(
                p.as_ptr() as usize - base,
                i * 8,
                "consecutive small payloads are cut from the same chunk"
            );
        }

        // A payload of SMALL_PAYLOAD bytes or more gets its own buffer, of
        // exactly its size.
        let p = read_one(&mut d, &data_frame(SMALL_PAYLOAD, 7));
        assert_eq!(&p[..], &[7u8; SMALL_PAYLOAD][..]);
        assert_eq!(d.payload.capacity(), 0, "nothing left over to pin");
    }

    fn data_frame(len: usize, byte: u8) -> BytesMut {
        let mut wire = BytesMut::new();
        crate::frame::Frame::from(crate::frame::Data {
            stream: crate::stream_id::StreamId(1),
            payload: bytes::Bytes::from(vec![byte; len]),
        })
        .encode(&mut wire);
        wire
    }

    fn read_one(d: &mut Deframer, wire: &[u8]) -> Bytes {
        let mut input = wire;
        let (_, p) = d
            .poll(&mut input, 1 << 21)
            .expect("valid")
            .expect("complete");
        assert!(input.is_empty());
        p
    }

    #[test]
    fn a_recycled_buffer_receives_the_next_large_payload_that_fits() {
        let mut d = Deframer::new();
        let mut magic = &MAGIC[..];
        assert!(d.poll(&mut magic, 1 << 21).expect("valid").is_none());
        // The allocator may hand a freed buffer's address to the next
        // allocation of its size, so reuse is told by the spare the
        // deframer holds and by a capacity a fresh buffer would not have.
        let spare_ptr = |d: &Deframer| d.spare.as_ref().map(|b| b.as_ptr());

        let first = read_one(&mut d, &data_frame(64 * 1024, 1));
        let ptr = first.as_ptr();
        d.recycle(first.try_into_mut().expect("nothing else holds it"));
        assert_eq!(spare_ptr(&d), Some(ptr));

        // Same size, or smaller with the buffer at most a quarter larger
        // than it: read into the recycled buffer.
        let same = read_one(&mut d, &data_frame(64 * 1024, 2));
        assert_eq!(same.as_ptr(), ptr);
        assert_eq!(spare_ptr(&d), None, "the spare was taken");
        assert!(same.iter().all(|&b| b == 2));
        d.recycle(same.try_into_mut().expect("unique"));
        let smaller = read_one(&mut d, &data_frame(52 * 1024, 3));
        assert_eq!(smaller.len(), 52 * 1024);
        assert!(smaller.iter().all(|&b| b == 3));
        let smaller = smaller.try_into_mut().expect("unique");
        assert_eq!(smaller.as_ptr(), ptr);
        assert_eq!(smaller.capacity(), 64 * 1024, "the recycled buffer");
        d.recycle(smaller);

        // Much smaller, or larger: a buffer of its own size, and the spare
        // stays for a payload it fits.
        let much_smaller = read_one(&mut d, &data_frame(16 * 1024, 4));
        assert_ne!(much_smaller.as_ptr(), ptr);
        assert_eq!(much_smaller.len(), 16 * 1024);
        let larger = read_one(&mut d, &data_frame(65 * 1024, 5));
        assert_ne!(larger.as_ptr(), ptr);
        assert!(larger.iter().all(|&b| b == 5));
        assert_eq!(spare_ptr(&d), Some(ptr), "the spare stays");
        assert_eq!(read_one(&mut d, &data_frame(64 * 1024, 6)).as_ptr(), ptr);
        assert_eq!(spare_ptr(&d), None);

        // Buffers a small payload would use, or over 1 MiB, are not kept.
        d.recycle(BytesMut::with_capacity(SMALL_PAYLOAD - 1));
        assert!(d.spare.is_none());
        d.recycle(BytesMut::with_capacity(SPARE_MAX + 1));
        assert!(d.spare.is_none());
        d.recycle(BytesMut::with_capacity(SPARE_MAX));
        assert!(d.spare.is_some());
    }

    #[test]
    fn wrong_first_byte_is_bad_magic_at_once() {
        let mut d = Deframer::new();
        let mut input = &b"GET / HTTP/1.1\r\n"[..];
        assert_eq!(d.poll(&mut input, 1024), Err(Error::BadMagic));
    }

    #[test]
    fn oversize_head_fails_before_reserving() {
        let mut wire = MAGIC.to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let mut d = Deframer::new();
        let mut input = &wire[..];
        assert!(matches!(
            d.poll(&mut input, 4096),
            Err(Error::Malformed(frame::Error::TooLarge { .. }))
        ));
        assert_eq!(d.payload.capacity(), 0);
    }
}
