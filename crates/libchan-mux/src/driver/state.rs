//! The driver's shared state: the protocol state machine plus what the
//! channels attached to each stream need.
//!
//! Locking rule (see `libchan_core::transport`): the state lock is never held
//! while a channel is fed, pumped or failed, nor while a feed, drain handle or
//! credit token is dropped. Functions that take such things out of the state
//! return them as [`Effect`]s, run by the caller after unlocking.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;

use bytes::Bytes;
use libchan_core::transport::{DrainHandle, Feed};
use libchan_core::{ChannelError, Codec, SessionError, SessionId};
use tokio::sync::Notify;

use crate::{Role, Session as Proto, StreamId};

/// Everything the session's tasks and handles share.
pub(crate) struct Shared {
    pub(crate) id: SessionId,
    pub(crate) role: Role,
    /// The codecs this side offered, in preference order.
    pub(crate) codecs: Vec<Arc<dyn Codec>>,
    /// The agreed codec, readable without the lock once set (at the start
    /// when only one is offered, else when the handshake settles it).
    pub(crate) agreed: OnceLock<Arc<dyn Codec>>,
    /// Consumed bytes are reported to the protocol in batches of this size
    /// per stream (an eighth of our window: well under the half window at
    /// which the protocol sends CREDIT, so a sender never waits on it).
    pub(crate) credit_batch: usize,
    state: Mutex<State>,
    /// The writer task: the transmit buffer has bytes, or the session ended.
    pub(crate) writer_wake: Notify,
    /// The reader task: a stream needs flushing, or the session ended.
    pub(crate) reader_wake: Notify,
    /// `accept` and `handshake` callers.
    pub(crate) accept_wake: Notify,
    /// Woken (all waiters) when the session ends with an error: the writer
    /// abandons a write the peer is not reading.
    pub(crate) failed: Notify,
    /// How long the last frames of a clean end may take to write.
    pub(crate) linger: std::time::Duration,
    /// Every `MuxSession` handle is gone: close once no stream is in use.
    pub(crate) orphaned: AtomicBool,
    /// A codec is agreed and the session has not ended: sending may start.
    /// Read without the lock on every send.
    pub(crate) open_for_sends: AtomicBool,
}

pub(crate) struct State {
    pub(crate) proto: Proto,
    pub(crate) ready: bool,
    pub(crate) streams: HashMap<StreamId, Entry>,
    /// Top-level streams the peer opened, not yet accepted.
    pub(crate) accept: VecDeque<StreamId>,
    /// Set once the session ended: `Closed` for a clean end.
    pub(crate) end: Option<SessionError>,
    /// Streams whose feed was attached while a message was being decoded:
    /// their buffered messages are delivered right after that message.
    pub(crate) flush_queue: Vec<StreamId>,
    /// Bytes of replies to the peer's frames not yet known to be written
    /// (see `io::MAX_REPLY_BACKLOG`).
    pub(crate) reply_backlog: usize,
}

/// What this side keeps per stream.
#[derive(Default)]
pub(crate) struct Entry {
    /// Receiving messages: where they go, once a receiver is attached.
    pub(crate) feed: Option<Arc<Feed>>,
    /// Messages that arrived before the feed was attached, or while an
    /// earlier batch is being delivered (credit-bounded).
    pub(crate) pending: VecDeque<Bytes>,
    /// Someone is delivering `pending` outside the lock.
    pub(crate) flushing: bool,
    /// The peer sent CLOSE: drop the feed once `pending` is delivered.
    pub(crate) peer_closed: bool,
    /// Batches the credit returned as the feed's messages are consumed.
    pub(crate) credit: Option<Arc<StreamCredit>>,
    /// Sending messages: the channel draining onto this stream.
    pub(crate) drain: Option<DrainHandle>,
    /// An encoded message the protocol could not take yet (before the peer's
    /// HELLO, a message above the assumed frame limit); sent first when
    /// credit arrives.
    pub(crate) parked: Option<Vec<u8>>,
    /// Mirrors `parked.is_some()` for the stream's sink, read without the lock.
    pub(crate) parked_flag: Arc<AtomicBool>,
    /// The channel ended cleanly while a message was parked: CLOSE the
    /// stream once that message is out.
    pub(crate) close_when_unparked: bool,
    /// A byte stream's buffers and wakers.
    pub(crate) bytes: Option<ByteState>,
    /// This stream feeds a channel that drains onto another session.
    pub(crate) forwarder: bool,
    /// The peer reset the stream before a receiver was attached: the
    /// receiver gets this error when it attaches.
    pub(crate) reset: Option<ChannelError>,
}

/// Returns a stream's consumed bytes to the protocol in batches, so that
/// receiving a message does not take the session lock.
pub(crate) struct StreamCredit {
    shared: Arc<Shared>,
    id: StreamId,
    pending: std::sync::atomic::AtomicUsize,
}

impl StreamCredit {
    pub(crate) fn new(shared: &Arc<Shared>, id: StreamId) -> Arc<Self> {
        Arc::new(StreamCredit {
            shared: shared.clone(),
            id,
            pending: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

impl libchan_core::transport::CreditSink for StreamCredit {
    fn consumed(&self, _stream: u64, bytes: usize) {
        let total = self.pending.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if total < self.shared.credit_batch {
            return;
        }
        let take = self.pending.swap(0, Ordering::AcqRel);
        if take > 0 {
            self.shared.lock().proto.consumed(self.id, take);
            self.shared.writer_wake.notify_one();
        }
    }
}

/// A byte stream, seen from this side.
#[derive(Default)]
pub(crate) struct ByteState {
    pub(crate) inbound: VecDeque<Bytes>,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    /// The peer will send no more (CLOSE).
    pub(crate) eof: bool,
    /// The stream broke (RESET, session lost).
    pub(crate) error: Option<String>,
}

/// A payload about to be *kept* (buffered for a receiver not yet attached,
/// or unread bytes of a byte stream): a small one is copied out of the
/// shared chunk it was cut from, so keeping it does not keep the chunk.
pub(crate) fn owned(payload: Bytes) -> Bytes {
    if payload.len() < crate::SMALL_PAYLOAD {
        Bytes::copy_from_slice(&payload)
    } else {
        payload
    }
}

/// Work to do after the state lock is released.
pub(crate) enum Effect {
    Deliver(Arc<Feed>, Arc<StreamCredit>, StreamId, Bytes),
    /// Deliver a stream's buffered messages (and finish it if it ended).
    Flush(StreamId),
    Pump(DrainHandle),
    FailFeed(Arc<Feed>, ChannelError),
    FailDrain(DrainHandle, ChannelError),
    Wake(Waker),
    /// Dropped outside the lock (closing channels may pump other streams).
    Drop(Box<dyn Send>),
    WakeAccept,
    /// The session ended with this error (already recorded in `State::end`).
    End(SessionError),
    /// The peer sent CLOSE: run after the deliveries that preceded it.
    PeerClosed(StreamId),
    /// The peer sent RESET: run after the deliveries that preceded it.
    PeerReset(StreamId, crate::ErrorCode, String),
}

impl Shared {
    pub(crate) fn new(
        role: Role,
        codecs: Vec<Arc<dyn Codec>>,
        proto: Proto,
        window: u64,
        linger: std::time::Duration,
    ) -> Arc<Self> {
        let single = codecs.len() == 1;
        let agreed = OnceLock::new();
        if let (true, Some(c)) = (single, codecs.first()) {
            let _ = agreed.set(c.clone());
        }
        Arc::new(Shared {
            id: SessionId::next(),
            role,
            codecs,
            agreed,
            credit_batch: usize::try_from(window / 8).unwrap_or(usize::MAX).max(1),
            state: Mutex::new(State {
                proto,
                ready: false,
                streams: HashMap::new(),
                accept: VecDeque::new(),
                end: None,
                flush_queue: Vec::new(),
                reply_backlog: 0,
            }),
            writer_wake: Notify::new(),
            reader_wake: Notify::new(),
            accept_wake: Notify::new(),
            open_for_sends: AtomicBool::new(single),
            orphaned: AtomicBool::new(false),
            failed: Notify::new(),
            linger,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, and every section leaves the
        // state consistent, so a poisoned lock still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the session: every channel and byte stream attached to it
    /// learns `err` (a `SessionError::Closed` for a clean end reads as
    /// "session lost" on channels still open, since they did not finish).
    pub(crate) fn end(self: &Arc<Self>, err: SessionError) {
        self.end_inner(err, false);
    }

    fn end_inner(self: &Arc<Self>, err: SessionError, recorded: bool) {
        let effects = {
            let mut st = self.lock();
            if st.end.is_some() && !recorded {
                return;
            }
            st.end = Some(err.clone());
            self.open_for_sends.store(false, Ordering::Release);
            let channel_err = ChannelError::SessionLost(err.clone());
            let mut effects = Vec::new();
            // Channels the peer opened that nobody accepted yet stay
            // acceptable: their receivers get what arrived, then the error.
            let waiting: Vec<StreamId> = st.accept.iter().copied().collect();
            for id in waiting {
                if let Some(entry) = st.streams.get_mut(&id) {
                    entry.reset = Some(channel_err.clone());
                }
            }
            let streams = std::mem::take(&mut st.streams);
            for (id, entry) in streams {
                if entry.reset.is_some() && entry.feed.is_none() {
                    st.streams.insert(id, entry);
                    continue;
                }
                if entry.feed.is_some() && (entry.flushing || !entry.pending.is_empty()) {
                    // Deliver what arrived before the break, then fail: the
                    // flush (under way, or started here) finishes the stream.
                    let mut entry = entry;
                    entry.reset = Some(channel_err.clone());
                    if !entry.flushing {
                        entry.flushing = true;
                        effects.push(Effect::Flush(id));
                    }
                    st.streams.insert(id, entry);
                    continue;
                }
                if let Some(feed) = entry.feed {
                    effects.push(Effect::FailFeed(feed, channel_err.clone()));
                }
                if let Some(drain) = entry.drain {
                    effects.push(Effect::FailDrain(drain, channel_err.clone()));
                }
                if let Some(mut bytes) = entry.bytes {
                    if let Some(w) = bytes.read_waker.take() {
                        effects.push(Effect::Wake(w));
                    }
                    if let Some(w) = bytes.write_waker.take() {
                        effects.push(Effect::Wake(w));
                    }
                }
                effects.push(Effect::Drop(Box::new(entry.pending)));
            }
            effects
        };
        self.writer_wake.notify_one();
        self.reader_wake.notify_one();
        self.accept_wake.notify_waiters();
        self.accept_wake.notify_one();
        if self.has_failed() {
            self.failed.notify_waiters();
        }
        self.run(effects);
    }

    /// Runs effects collected under the lock.
    pub(crate) fn run(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Deliver(feed, credit, id, payload) => {
                    crate::driver::deliver::deliver(self, &feed, &credit, id, payload);
                }
                Effect::Flush(id) => crate::driver::deliver::flush(self, id),
                Effect::Pump(drain) => drain.pump(),
                Effect::FailFeed(feed, err) => feed.fail(err),
                Effect::FailDrain(drain, err) => drain.fail(err),
                Effect::Wake(w) => w.wake(),
                Effect::Drop(b) => drop(b),
                Effect::WakeAccept => {
                    self.accept_wake.notify_waiters();
                    self.accept_wake.notify_one();
                }
                Effect::End(err) => self.end_inner(err, true),
                Effect::PeerClosed(id) => self.peer_closed(id),
                Effect::PeerReset(id, code, reason) => self.peer_reset(id, code, reason),
            }
            self.run_flush_queue();
        }
    }

    /// The peer finished sending on `id`.
    fn peer_closed(self: &Arc<Self>, id: StreamId) {
        let mut st = self.lock();
        let Some(entry) = st.streams.get_mut(&id) else {
            return;
        };
        if let Some(bytes) = entry.bytes.as_mut() {
            bytes.eof = true;
            let waker = bytes.read_waker.take();
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            return;
        }
        entry.peer_closed = true;
        if entry.feed.is_none() {
            // Not accepted or not yet referenced: the attach finishes it.
            return;
        }
        if entry.pending.is_empty() && !entry.flushing {
            // Clean end: dropping the feed (after unlocking) closes the channel.
            let done = crate::driver::deliver::finish_receive(&mut st, id);
            drop(st);
            drop(done);
        } else if !entry.flushing {
            entry.flushing = true;
            drop(st);
            crate::driver::deliver::flush(self, id);
        }
        // Otherwise the flush under way finishes the stream.
    }

    /// The peer reset `id`.
    fn peer_reset(self: &Arc<Self>, id: StreamId, code: crate::ErrorCode, reason: String) {
        let mut st = self.lock();
        let Some(mut entry) = st.streams.remove(&id) else {
            return;
        };
        let err = crate::driver::sink::remote_reset(code, reason);
        if entry.feed.is_none() && entry.drain.is_none() && entry.bytes.is_none() {
            // Nobody attached yet (not accepted, or not yet referenced):
            // leave a tombstone so the receiver learns it when it attaches.
            let tombstone = Entry {
                reset: Some(err),
                ..Entry::default()
            };
            st.streams.insert(id, tombstone);
            drop(st);
            drop(entry);
            return;
        }
        if let Some(bytes) = entry.bytes.as_mut() {
            bytes.error = Some(err.to_string());
            let wakers = [bytes.read_waker.take(), bytes.write_waker.take()];
            // The byte stream handle still reads the error: keep its state.
            st.streams.insert(id, entry);
            drop(st);
            for w in wakers.into_iter().flatten() {
                w.wake();
            }
            return;
        }
        drop(st);
        if let Some(feed) = entry.feed.take() {
            let err = match err {
                ChannelError::Closed => ChannelError::Reset {
                    initiator: libchan_core::Initiator::Remote,
                    code: code.0,
                    reason: "the sender cancelled the channel".into(),
                },
                other => other,
            };
            feed.fail(err);
        } else if let Some(drain) = entry.drain.take() {
            drain.fail(err);
        }
        drop(entry);
    }

    /// Delivers the buffered messages of streams attached during a decode.
    pub(crate) fn run_flush_queue(self: &Arc<Self>) {
        loop {
            let next = self.lock().flush_queue.pop();
            match next {
                Some(id) => crate::driver::deliver::flush(self, id),
                None => return,
            }
        }
    }

    /// Closes the session cleanly if nobody holds it and no stream is in use
    /// (called when the last handle goes, and after every write and read).
    pub(crate) fn close_if_idle(self: &Arc<Self>) {
        if !self.orphaned.load(Ordering::Acquire) {
            return;
        }
        {
            let mut st = self.lock();
            if st.end.is_some() || !st.streams.is_empty() || !st.accept.is_empty() {
                return;
            }
            st.proto
                .goaway(crate::ErrorCode::NO_ERROR, "session dropped");
        }
        self.end(SessionError::Closed);
    }

    /// True once the session ended with an error (not a clean close).
    pub(crate) fn has_failed(&self) -> bool {
        matches!(&self.lock().end, Some(e) if !matches!(e, SessionError::Closed))
    }

    /// The session's error if it ended, for handles that try to use it.
    pub(crate) fn ended(&self) -> Option<SessionError> {
        self.lock().end.clone()
    }
}
