//! The messages of one stream delivered together, and the way their
//! buffers go back to the deframer once decoded.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use bytes::{Bytes, BytesMut};

use crate::Connection as Proto;

/// The messages of one stream delivered together: those one read brought
/// (consecutive in the input), or those buffered before a receiver was
/// attached.
pub(crate) enum Batch {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Batch {
    /// Takes every message `pending` holds, in order.
    pub(crate) fn take(pending: &mut VecDeque<Bytes>) -> Self {
        if pending.len() == 1 {
            if let Some(one) = pending.pop_front() {
                return Batch::One(one);
            }
        }
        Batch::Many(pending.drain(..).collect())
    }

    pub(crate) fn push(&mut self, payload: Bytes) {
        match self {
            Batch::Many(all) => all.push(payload),
            Batch::One(first) => {
                let first = std::mem::take(first);
                *self = Batch::Many(vec![first, payload]);
            }
        }
    }

    pub(crate) fn as_slice(&self) -> &[Bytes] {
        match self {
            Batch::One(one) => std::slice::from_ref(one),
            Batch::Many(all) => all,
        }
    }

    /// The batch was decoded: the buffer of its last large payload, if the
    /// decoded value copied what it kept (nothing else holds the buffer),
    /// goes to `spare` for the deframer to receive the next one into.
    pub(crate) fn recycle(self, spare: &SparePayload) {
        let last = match self {
            Batch::One(one) => one,
            Batch::Many(mut all) => match all.pop() {
                Some(last) => last,
                None => return,
            },
        };
        if last.len() < crate::SMALL_PAYLOAD {
            return;
        }
        if let Ok(buf) = last.try_into_mut() {
            *spare.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(buf);
        }
    }
}

/// One large payload's buffer between its delivery, outside the session
/// lock, and the reader's next input, under it. Without it each large
/// message costs the reader an allocation and a free of its size, and
/// glibc, seeing two such blocks (the payload and the decoded copy) freed
/// together at the top of its heap, returns the memory to the kernel and
/// takes page faults to get it back on the next message.
#[derive(Default)]
pub(crate) struct SparePayload(Mutex<Option<BytesMut>>);

impl SparePayload {
    /// Hands the buffer waiting here, if any, to the protocol's deframer.
    pub(crate) fn give_to(&self, proto: &mut Proto) {
        let buf = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(buf) = buf {
            proto.recycle_payload(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(spare: &SparePayload) -> Option<*const u8> {
        let held = spare.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.as_ref().map(|b| b.as_ptr())
    }

    #[test]
    fn only_a_large_last_payload_nothing_else_holds_goes_back() {
        let large = || Bytes::from(vec![1u8; crate::SMALL_PAYLOAD]);

        let spare = SparePayload::default();
        let last = large();
        let ptr = last.as_ptr();
        Batch::Many(vec![large(), last]).recycle(&spare);
        assert_eq!(waiting(&spare), Some(ptr), "the batch's last payload");

        let spare = SparePayload::default();
        let kept = Bytes::from(vec![1u8; 2 * crate::SMALL_PAYLOAD]);
        Batch::One(kept.slice(..crate::SMALL_PAYLOAD)).recycle(&spare);
        assert_eq!(waiting(&spare), None, "a slice of it is still held");
        Batch::One(kept.clone()).recycle(&spare);
        assert_eq!(waiting(&spare), None, "a value still holds it");
        Batch::One(Bytes::from(vec![1u8; crate::SMALL_PAYLOAD - 1])).recycle(&spare);
        assert_eq!(waiting(&spare), None, "a small payload's buffer");
        Batch::Many(Vec::new()).recycle(&spare);
        assert_eq!(waiting(&spare), None);
        drop(kept);
    }
}
