//! Sending messages: a channel draining onto a stream (`StreamSink`).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use libchan_core::nest::with_exporter_boxed;
use libchan_core::transport::{send_ticket, DrainHandle, EncodeFn, Sent, StreamSink};
use libchan_core::{ChannelError, LimitError, SessionId};

use super::codes::{reset_code, reset_reason};
use super::export::SessionExporter;
use super::state::{Parked, Shared};
use crate::{SendError, StreamId};

thread_local! {
    /// Reused encode buffer, so a send allocates nothing in steady state.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Reused exporter allocation (emptied between messages).
    static EXPORTER: RefCell<Option<Box<SessionExporter>>> = const { RefCell::new(None) };
}

/// Messages above this size do not keep their buffer for the next send.
const SCRATCH_KEEP: usize = 256 * 1024;

/// One stream this side sends messages on.
pub(crate) struct MuxSink {
    shared: Arc<Shared>,
    id: StreamId,
    /// Set while an encoded message waits in the stream's entry for credit.
    parked: Arc<AtomicBool>,
    /// `close` or `reset` ran: the stream's end was decided.
    finished: AtomicBool,
}

impl MuxSink {
    pub(crate) fn new(shared: &Arc<Shared>, id: StreamId) -> Self {
        let parked = shared
            .lock()
            .streams
            .entry(id)
            .or_default()
            .parked_flag
            .clone();
        MuxSink {
            shared: shared.clone(),
            id,
            parked,
            finished: AtomicBool::new(false),
        }
    }

    fn stream_error(&self) -> ChannelError {
        match self.shared.ended() {
            Some(e) => ChannelError::SessionLost(e),
            None => ChannelError::Closed,
        }
    }
}

impl fmt::Debug for MuxSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MuxSink")
            .field("session", &self.shared.id)
            .field("stream", &self.id.0)
            .finish()
    }
}

impl StreamSink for MuxSink {
    fn session(&self) -> SessionId {
        self.shared.id
    }

    fn stream(&self) -> u64 {
        self.id.0
    }

    /// Ready for one more message. Protocol credit is checked by `send`
    /// under the session lock: a message sent without credit is parked
    /// (one per stream) until credit returns, and this reports `false`
    /// meanwhile. So a send costs one lock, not two.
    fn has_credit(&self) -> bool {
        self.shared.open_for_sends.load(Ordering::Acquire) && !self.parked.load(Ordering::Acquire)
    }

    fn send(&self, encode: &mut EncodeFn<'_>) -> Result<Sent, ChannelError> {
        let Some(codec) = self.shared.agreed.get() else {
            return Err(self.stream_error());
        };
        let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        buf.clear();
        let mut exporter = EXPORTER.with(|e| e.borrow_mut().take()).unwrap_or_default();
        exporter.bind(&self.shared);
        let (encoded, exporter) = with_exporter_boxed(exporter, || encode(&**codec, &mut buf));
        let result = match encoded {
            // An end the exporter refused because the session ended: the
            // channel failed because of its session, in that one shape.
            Err(e) => Err(match self.shared.ended() {
                Some(end) => ChannelError::SessionLost(end),
                None => ChannelError::Encode(Arc::new(e)),
            }),
            Ok(()) => self.queue(&buf, exporter.opened()),
        };
        if buf.capacity() <= SCRATCH_KEEP {
            SCRATCH.with(|s| *s.borrow_mut() = buf);
        }
        let exporter = exporter.finish(result.as_ref().err());
        EXPORTER.with(|e| *e.borrow_mut() = Some(exporter));
        result
    }

    fn close(&self) {
        self.finished.store(true, Ordering::Release);
        self.shared.call(|st| {
            if let Some(entry) = st.streams.get_mut(&self.id) {
                if entry.parked.is_some() {
                    // The last message waits for credit: close after it.
                    entry.close_when_unparked = true;
                    return None;
                }
            }
            let _ = st.proto.close(self.id);
            st.remove_stream(self.id)
        });
    }

    fn reset(&self, error: &ChannelError) {
        self.finished.store(true, Ordering::Release);
        self.shared.call(|st| {
            st.proto
                .reset(self.id, reset_code(error), &reset_reason(error));
            st.remove_stream(self.id)
        });
    }

    fn attach_drain(&self, drain: DrainHandle) {
        let mut st = self.shared.lock();
        let broken = st
            .streams
            .get(&self.id)
            .and_then(|e| e.reset.clone())
            .or_else(|| st.end.clone().map(ChannelError::SessionLost));
        if let Some(err) = broken {
            // The stream was cancelled (or the session ended) before this
            // sender was built: it is closed from the start.
            let done = st.remove_stream(self.id);
            drop(st);
            self.finished.store(true, Ordering::Release);
            drain.fail(err);
            drop(done);
            return;
        }
        st.streams.entry(self.id).or_default().drain = Some(drain);
    }
}

impl Drop for MuxSink {
    /// A sink dropped before its channel ended (an end that arrived and was
    /// never turned into a `Sender`) closes its stream: the peer's receiver
    /// sees a clean end instead of waiting forever.
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) && self.shared.ended().is_none() {
            self.close();
        }
    }
}

impl MuxSink {
    /// Hands one encoded message to the protocol, or parks it.
    fn queue(&self, payload: &[u8], exports: &[StreamId]) -> Result<Sent, ChannelError> {
        let mut st = self.shared.lock();
        if let Some(e) = &st.end {
            return Err(ChannelError::SessionLost(e.clone()));
        }
        match st.proto.send_data(self.id, payload) {
            Ok(()) => {
                drop(st);
                self.shared.writer_wake.notify_one();
                Ok(Sent::Queued)
            }
            Err(SendError::Blocked) => {
                // No credit, a full send buffer, or (before the peer's
                // HELLO) a message above the assumed size limit: keep it and
                // send it when the stream may send again. Without credit the
                // `send` returns at once (later ones queue in the channel,
                // bounded by its capacity), even if the send buffer is full
                // too: credit comes only as the receiver reads, so waiting
                // for it would hold a `send` the channel has room for. With
                // credit and the send buffer full it waits: that is what
                // holds back a producer spreading over many channels. Before
                // the HELLO the outcome is open (the peer's real limit may
                // be smaller still): it waits for it.
                let uncertain =
                    st.proto.peer_settings().is_none() && payload.len() > st.proto.max_payload();
                let wait =
                    uncertain || (st.proto.send_buffer_full() && st.proto.send_credit(self.id) > 0);
                let Some(entry) = st.streams.get_mut(&self.id) else {
                    return Err(ChannelError::Closed);
                };
                let (ticket, resolver) = if wait {
                    let (t, r) = send_ticket();
                    (Some(t), Some(r))
                } else {
                    (None, None)
                };
                entry.parked = Some(Parked {
                    payload: payload.to_vec(),
                    exports: exports.to_vec(),
                    resolver,
                });
                entry.parked_flag.store(true, Ordering::Release);
                Ok(ticket.map_or(Sent::Queued, Sent::Parked))
            }
            Err(SendError::TooLarge { len, max }) => Err(ChannelError::Limit(LimitError {
                what: "max_frame_size (the peer's MAX_FRAME_SIZE)",
                limit: u64::from(max),
                actual: len as u64,
            })),
            Err(_) => {
                drop(st);
                Err(self.stream_error())
            }
        }
    }
}
