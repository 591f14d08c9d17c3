//! Sending: a channel draining onto a stream (`StreamSink`), and the
//! session's exporter, which turns ends inside a message into streams.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use libchan_core::nest::{with_exporter_boxed, ChannelRef, Exporter, OutgoingEnd, RefKind};
use libchan_core::transport::{DrainHandle, EncodeFn, StreamSink};
use libchan_core::{ByteStream, ChannelError, Initiator, LimitError, NestError, SessionId};

use super::byte_stream::{bridge, MuxByteStream};
use super::state::{ByteState, Entry, Shared, StreamCredit};
use crate::{ErrorCode, SendError, StreamId, StreamKind};

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

    fn send(&self, encode: &mut EncodeFn<'_>) -> Result<(), ChannelError> {
        let Some(codec) = self.shared.agreed.get() else {
            return Err(self.stream_error());
        };
        let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        buf.clear();
        let mut exporter = EXPORTER.with(|e| e.borrow_mut().take()).unwrap_or_else(|| {
            Box::new(SessionExporter {
                shared: None,
                opened: Vec::new(),
                drains: Vec::new(),
            })
        });
        exporter.shared = Some(self.shared.clone());
        let (encoded, exports) = with_exporter_boxed(exporter, || encode(&**codec, &mut buf));
        let result = match encoded {
            Err(e) => Err(ChannelError::Encode(Arc::new(e))),
            Ok(()) => self.queue(&buf),
        };
        if buf.capacity() <= SCRATCH_KEEP {
            SCRATCH.with(|s| *s.borrow_mut() = buf);
        }
        let mut exports = exports.finish(result.is_ok());
        exports.shared = None;
        EXPORTER.with(|e| *e.borrow_mut() = Some(exports));
        result
    }

    fn close(&self) {
        self.finished.store(true, Ordering::Release);
        let entry = {
            let mut st = self.shared.lock();
            if let Some(entry) = st.streams.get_mut(&self.id) {
                if entry.parked.is_some() {
                    // The last message waits for credit: close after it.
                    entry.close_when_unparked = true;
                    return;
                }
            }
            let _ = st.proto.close(self.id);
            st.streams.remove(&self.id)
        };
        self.shared.writer_wake.notify_one();
        drop(entry);
    }

    fn reset(&self, error: &ChannelError) {
        self.finished.store(true, Ordering::Release);
        let entry = {
            let mut st = self.shared.lock();
            st.proto
                .reset(self.id, ErrorCode::INTERNAL_ERROR, &error.to_string());
            st.streams.remove(&self.id)
        };
        self.shared.writer_wake.notify_one();
        drop(entry);
    }

    fn attach_drain(&self, drain: DrainHandle) {
        let mut st = self.shared.lock();
        if st.end.is_some() {
            let err = st.end.clone();
            drop(st);
            if let Some(e) = err {
                drain.fail(ChannelError::SessionLost(e));
            }
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
    /// Hands one encoded message to the protocol.
    fn queue(&self, payload: &[u8]) -> Result<(), ChannelError> {
        let mut st = self.shared.lock();
        if let Some(e) = &st.end {
            return Err(ChannelError::SessionLost(e.clone()));
        }
        match st.proto.send_data(self.id, payload) {
            Ok(()) => {
                drop(st);
                self.shared.writer_wake.notify_one();
                Ok(())
            }
            Err(SendError::Blocked) => {
                // Before the peer's HELLO a large message may not fit the
                // assumed limits: keep it and send it when credit arrives.
                match st.streams.get_mut(&self.id) {
                    Some(entry) => {
                        entry.parked = Some(payload.to_vec());
                        entry.parked_flag.store(true, Ordering::Release);
                        Ok(())
                    }
                    None => Err(ChannelError::Closed),
                }
            }
            Err(SendError::TooLarge { len, max }) => Err(ChannelError::Limit(LimitError {
                what: "max_message_size (the peer's MAX_FRAME_SIZE)",
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

/// Installed while a message is encoded: each end in it becomes a stream.
struct SessionExporter {
    /// The session of the message being encoded; `None` while the
    /// allocation waits in the thread's cache (so it keeps no session alive).
    shared: Option<Arc<Shared>>,
    /// Streams opened for this message (reset if encoding fails).
    opened: Vec<StreamId>,
    /// Receivers that now drain onto new streams: pumped once the message
    /// that names them is queued.
    drains: Vec<StreamId>,
}

impl SessionExporter {
    fn shared(&self) -> &Arc<Shared> {
        self.shared
            .as_ref()
            .expect("an exporter in scope is bound to the session encoding")
    }

    fn open(&mut self, kind: StreamKind) -> Result<StreamId, NestError> {
        let shared = self.shared().clone();
        let mut st = shared.lock();
        if st.end.is_some() {
            return Err(NestError::Refused("the session has ended".into()));
        }
        let id = st
            .proto
            .open(kind, false)
            .map_err(|e| NestError::Refused(e.to_string()))?;
        let entry = st.streams.entry(id).or_default();
        if kind == StreamKind::Bytes {
            entry.bytes = Some(ByteState::default());
        }
        drop(st);
        self.opened.push(id);
        Ok(id)
    }

    /// The message was queued (or failed): pump the new drains, or undo.
    /// Hands the emptied exporter back for reuse.
    fn finish(mut self: Box<Self>, sent: bool) -> Box<Self> {
        self.run_finish(sent);
        self.opened.clear();
        self.drains.clear();
        self
    }

    fn run_finish(&mut self, sent: bool) {
        if self.opened.is_empty() {
            return;
        }
        if sent {
            let drains: Vec<DrainHandle> = {
                let st = self.shared().lock();
                self.drains
                    .iter()
                    .filter_map(|id| st.streams.get(id).and_then(|e| e.drain.clone()))
                    .collect()
            };
            for d in drains {
                d.pump();
            }
            return;
        }
        let dead: Vec<Entry> = {
            let mut st = self.shared().lock();
            self.opened
                .iter()
                .filter_map(|id| {
                    st.proto
                        .reset(*id, ErrorCode::CANCEL, "the message naming it was not sent");
                    st.streams.remove(id)
                })
                .collect()
        };
        self.shared().writer_wake.notify_one();
        for entry in dead {
            if let Some(d) = &entry.drain {
                d.fail(ChannelError::Closed);
            }
            drop(entry);
        }
    }
}

impl Exporter for SessionExporter {
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError> {
        match end {
            OutgoingEnd::Sender(sender) => {
                if let Some((session, stream)) = sender.drained_by() {
                    if session == self.shared().id {
                        // The peer's own end going home: name its stream.
                        return Ok(ChannelRef {
                            kind: RefKind::Sender,
                            id: stream,
                        });
                    }
                }
                let forwarding = sender.drained_by().is_some();
                let id = self.open(StreamKind::OpenerReceives)?;
                let feed = Arc::new(sender.into_feed());
                let mut st = self.shared().lock();
                if let Some(entry) = st.streams.get_mut(&id) {
                    entry.feed = Some(feed);
                    entry.credit = Some(StreamCredit::new(self.shared(), id));
                    entry.forwarder = forwarding;
                }
                Ok(ChannelRef {
                    kind: RefKind::Sender,
                    id: id.0,
                })
            }
            OutgoingEnd::Receiver(receiver) => {
                let id = self.open(StreamKind::OpenerSends)?;
                receiver.attach(Arc::new(MuxSink::new(self.shared(), id)));
                self.drains.push(id);
                Ok(ChannelRef {
                    kind: RefKind::Receiver,
                    id: id.0,
                })
            }
            OutgoingEnd::Stream(stream) => {
                let id = self.open(StreamKind::Bytes)?;
                spawn_bridge(stream, MuxByteStream::new(self.shared(), id));
                Ok(ChannelRef {
                    kind: RefKind::Stream,
                    id: id.0,
                })
            }
            other => Err(NestError::Refused(format!(
                "this session cannot carry {other:?}"
            ))),
        }
    }
}

fn spawn_bridge(local: ByteStream, remote: MuxByteStream) {
    tokio::spawn(bridge(local, remote));
}

/// The initiator of a reset the peer sent, for channel errors.
pub(crate) fn remote_reset(code: ErrorCode, reason: String) -> ChannelError {
    if code == ErrorCode::CANCEL {
        ChannelError::Closed
    } else {
        ChannelError::Reset {
            initiator: Initiator::Remote,
            code: code.0,
            reason,
        }
    }
}
