//! What a channel calls back into the session, outside any session lock:
//! bytes consumed (returned to the peer as credit, in batches) and a
//! consumer that went away (the stream is cancelled at once).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use libchan_core::transport::{ConsumerGone, CreditSink, Feed};

use super::state::Shared;
use crate::{ErrorCode, StreamId};

/// Returns a stream's consumed bytes to the protocol in batches, so that
/// receiving a message does not take the session lock.
pub(crate) struct StreamCredit {
    shared: Arc<Shared>,
    id: StreamId,
    pending: AtomicUsize,
}

impl StreamCredit {
    pub(crate) fn sink(shared: &Arc<Shared>, id: StreamId) -> Arc<dyn CreditSink> {
        Arc::new(StreamCredit {
            shared: shared.clone(),
            id,
            pending: AtomicUsize::new(0),
        })
    }
}

impl CreditSink for StreamCredit {
    fn consumed(&self, _stream: u64, bytes: usize) {
        let total = self.pending.fetch_add(bytes, Ordering::AcqRel) + bytes;
        let stream = if total >= self.shared.credit_batch {
            self.pending.swap(0, Ordering::AcqRel)
        } else {
            0
        };
        let session = self.shared.take_session_credit(bytes);
        if stream == 0 && session == 0 {
            return;
        }
        {
            let mut st = self.shared.lock();
            if stream > 0 {
                st.proto.consumed(self.id, stream);
            }
            if session > 0 {
                st.proto.consumed_session(session);
            }
        }
        self.shared.writer_wake.notify_one();
    }
}

/// Cancels a stream (RESET `CANCEL`) as soon as the channel it feeds loses
/// its consumer, so the peer's sender learns it at once, not at its next
/// message.
pub(crate) struct CancelOnGone {
    shared: Weak<Shared>,
    id: StreamId,
}

impl CancelOnGone {
    /// Registers a watch on `feed`'s channel; the entry of `id` keeps it.
    pub(crate) fn watch(shared: &Arc<Shared>, id: StreamId, feed: &Feed) -> Arc<Self> {
        let watch = Arc::new(CancelOnGone {
            shared: Arc::downgrade(shared),
            id,
        });
        let weak: Weak<CancelOnGone> = Arc::downgrade(&watch);
        feed.watch_consumer(weak);
        watch
    }
}

impl ConsumerGone for CancelOnGone {
    fn consumer_gone(&self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let entry = {
            let mut st = shared.lock();
            if st.end.is_some() || st.streams.get(&self.id).is_none_or(|e| e.feed.is_none()) {
                return;
            }
            tracing::debug!(stream = %self.id, "receiver dropped: cancelling the stream");
            st.proto
                .reset(self.id, ErrorCode::CANCEL, "the receiver was dropped");
            st.streams.remove(&self.id)
        };
        shared.writer_wake.notify_one();
        let Some(mut entry) = entry else {
            return;
        };
        // Messages that arrived but were never decoded may name nested
        // ends (channels, descriptors): decode them into the channel, which
        // refuses and drops them, so those ends are released too.
        if let (Some(feed), Some(credit)) = (entry.feed.clone(), entry.credit.clone()) {
            for payload in std::mem::take(&mut entry.pending) {
                let one = super::batch::Batch::One(payload);
                crate::driver::deliver::deliver(&shared, &feed, &credit, self.id, one);
            }
        }
        drop(entry);
    }
}
