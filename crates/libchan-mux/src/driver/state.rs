//! The driver's shared state: the protocol state machine plus what the
//! channels attached to each stream need.
//!
//! Locking rule (see `libchan_core::transport`): the state lock is never held
//! while a channel is fed, pumped or failed, nor while a feed, drain handle or
//! credit token is dropped. Functions that take such things out of the state
//! return them as [`Effect`]s, run by the caller after unlocking.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;
use libchan_core::transport::{CreditSink, DrainHandle, Feed, TicketResolver};
use libchan_core::{ByteStreamError, ChannelError, Codec, SessionError, SessionId};
use tokio::sync::Notify;

use super::batch::{Batch, SparePayload};
use super::callbacks::CancelOnGone;
use super::link::PassedFd;
use crate::{Connection as Proto, ErrorCode, Role, StreamId};

/// The session's state, locked; while it is held, what the protocol logs
/// is inside the session's span, whichever task holds it.
pub(crate) struct Locked<'a> {
    state: MutexGuard<'a, State>,
    _in_span: tracing::span::Entered<'a>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

/// A field written from several threads, on cache lines of its own (128
/// bytes: x86 prefetches lines in pairs), so that writing it does not take
/// the line of its neighbours (the `Arc`'s reference count among them)
/// from the threads using those.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Everything the session's tasks and handles share.
pub(crate) struct Shared {
    pub(crate) id: SessionId,
    pub(crate) role: Role,
    /// The session's tracing span (`session`: id, role, and the peer and
    /// codec once known): the tasks run in it, handles enter it.
    pub(crate) span: tracing::Span,
    /// The codecs this side offered, in preference order.
    pub(crate) codecs: Vec<Arc<dyn Codec>>,
    /// The agreed codec, readable without the lock once set (at the start
    /// when only one is offered, else when the handshake settles it).
    pub(crate) agreed: OnceLock<Arc<dyn Codec>>,
    /// Consumed bytes are reported to the protocol in batches of this size
    /// per stream (an eighth of our window: well under the half window at
    /// which the protocol sends CREDIT, so a sender never waits on it).
    pub(crate) credit_batch: usize,
    /// The same for the session window, all streams together.
    pub(crate) session_batch: usize,
    /// Consumed bytes not yet reported to the session window.
    pub(crate) session_consumed: Padded<AtomicUsize>,
    state: Padded<Mutex<State>>,
    /// The writer task: the transmit buffer has bytes, or the session ended.
    pub(crate) writer_wake: Padded<Notify>,
    /// The reader task: the session ended.
    pub(crate) reader_wake: Notify,
    /// `accept`, `handshake` and `close` callers.
    pub(crate) accept_wake: Notify,
    /// Woken (all waiters) when the session ends with an error: the writer
    /// abandons a write the peer is not reading.
    pub(crate) failed: Notify,
    /// How long the last frames of an ended session, and the peer's
    /// end-of-stream after a graceful close, may take.
    pub(crate) linger: std::time::Duration,
    /// Every `MuxSession` handle is gone.
    pub(crate) orphaned: AtomicBool,
    /// A codec is agreed and the session has not ended: sending may start.
    /// Read without the lock on every send.
    pub(crate) open_for_sends: AtomicBool,
    /// Dropped when the connection is done (a listener's slot, say).
    pub(crate) guard: Mutex<Option<Box<dyn Send>>>,
    /// The link carries file descriptors.
    pub(crate) passes_fds: bool,
    /// Most descriptors received and not yet matched to their OPEN.
    pub(crate) max_fds_in: usize,
    /// `SessionConfig::channel_capacity`.
    pub(crate) channel_capacity: AtomicUsize,
    /// A large payload's buffer on its way back to the deframer.
    pub(crate) spare_payload: SparePayload,
}

pub(crate) struct State {
    pub(crate) proto: Proto,
    pub(crate) ready: bool,
    pub(crate) streams: HashMap<StreamId, Entry>,
    /// Top-level streams the peer opened, not yet accepted.
    pub(crate) accept: VecDeque<StreamId>,
    /// Set once the session ended: `Closed` for a graceful end.
    pub(crate) end: Option<SessionError>,
    /// The connection is finished: nothing more is read or written.
    pub(crate) done: bool,
    /// Bytes of replies to the peer's frames not yet known to be written
    /// (see `io::MAX_REPLY_BACKLOG`).
    pub(crate) reply_backlog: usize,
    /// Descriptors received, in arrival order, not yet matched to the OPEN
    /// of their descriptor stream.
    pub(crate) fds_in: VecDeque<PassedFd>,
    /// Descriptors of OPENs queued in the transmit buffer, for the writer
    /// to send with it.
    pub(crate) fds_out: Vec<PassedFd>,
}

/// What this side keeps per stream.
#[derive(Default)]
pub(crate) struct Entry {
    /// Receiving messages: where they go, once a receiver is attached.
    pub(crate) feed: Option<Arc<Feed>>,
    /// Cancels the stream as soon as the feed's channel loses its consumer.
    pub(crate) watch: Option<Arc<CancelOnGone>>,
    /// Messages that arrived before the feed was attached, or while an
    /// earlier batch is being delivered (bounded by credit).
    pub(crate) pending: VecDeque<Bytes>,
    /// Someone is delivering `pending` outside the lock.
    pub(crate) flushing: bool,
    /// The peer sent CLOSE: drop the feed once `pending` is delivered.
    pub(crate) peer_closed: bool,
    /// Batches the credit returned as the feed's messages are consumed.
    pub(crate) credit: Option<Arc<dyn CreditSink>>,
    /// Sending messages: the channel draining onto this stream.
    pub(crate) drain: Option<DrainHandle>,
    /// An encoded message the protocol could not take yet; sent first when
    /// credit arrives.
    pub(crate) parked: Option<Parked>,
    /// Mirrors `parked.is_some()` for the stream's sink, read without the lock.
    pub(crate) parked_flag: Arc<AtomicBool>,
    /// The channel ended cleanly while a message was parked: CLOSE the
    /// stream once that message is out.
    pub(crate) close_when_unparked: bool,
    /// A byte stream's buffers and wakers.
    pub(crate) bytes: Option<ByteState>,
    /// This stream feeds a channel that drains onto another session.
    pub(crate) forwarder: bool,
    /// The stream (or the session) broke before a receiver was attached:
    /// the receiver gets this error when it attaches, after what arrived.
    pub(crate) reset: Option<ChannelError>,
    /// A descriptor stream's descriptor, until the message naming it is
    /// decoded (closed with the entry if it never is).
    pub(crate) fd: Option<PassedFd>,
}

/// A message waiting for the protocol to take it.
pub(crate) struct Parked {
    pub(crate) payload: Vec<u8>,
    /// Streams the message opened for the ends it carries: failed with the
    /// message if it can never be sent.
    pub(crate) exports: Vec<StreamId>,
    /// Tells the waiting `send` the outcome, when its outcome was open.
    pub(crate) resolver: Option<TicketResolver>,
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
    pub(crate) error: Option<ByteStreamError>,
}

impl ByteState {
    pub(crate) fn wakers(&mut self) -> [Option<Waker>; 2] {
        [self.read_waker.take(), self.write_waker.take()]
    }
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
    /// Decode messages into a channel: one lock and one wake-up for them all.
    Deliver(Arc<Feed>, Arc<dyn CreditSink>, StreamId, Batch),
    /// Deliver a stream's buffered messages (and finish it if it ended).
    Flush(StreamId),
    Pump(DrainHandle),
    FailFeed(Arc<Feed>, ChannelError),
    FailDrain(DrainHandle, ChannelError),
    /// A parked message's outcome for its waiting `send`.
    Resolve(TicketResolver, Result<(), ChannelError>),
    Wake(Waker),
    /// Dropped outside the lock (closing channels may pump other streams).
    Drop(Box<dyn Send>),
    WakeAccept,
    /// The session ended with this error (already recorded in `State::end`).
    End(SessionError),
    /// The peer sent CLOSE: run after the deliveries that preceded it.
    PeerClosed(StreamId),
    /// The peer sent RESET: run after the deliveries that preceded it.
    PeerReset(StreamId, ErrorCode, String),
}

impl State {
    /// Forgets stream `id` and returns its entry, for the caller to drop
    /// after unlocking. Data it held that the application never consumed
    /// goes back to the session window.
    pub(crate) fn remove_stream(&mut self, id: StreamId) -> Option<Entry> {
        let entry = self.streams.remove(&id)?;
        let mut unread: usize = entry.pending.iter().map(Bytes::len).sum();
        if let Some(b) = &entry.bytes {
            unread += b.inbound.iter().map(Bytes::len).sum::<usize>();
        }
        if unread > 0 {
            self.proto.consumed_session(unread);
        }
        Some(entry)
    }
}

impl Shared {
    pub(crate) fn new(
        role: Role,
        codecs: Vec<Arc<dyn Codec>>,
        proto: Proto,
        limits: &crate::Limits,
        passes_fds: bool,
    ) -> Arc<Self> {
        let single = codecs.len() == 1;
        let agreed = OnceLock::new();
        let id = libchan_core::transport::new_session_id();
        let span = tracing::debug_span!(
            "session",
            %id,
            ?role,
            peer = tracing::field::Empty,
            codec = tracing::field::Empty
        );
        if let (true, Some(c)) = (single, codecs.first()) {
            let _ = agreed.set(c.clone());
            span.record("codec", c.name());
        }
        let batch = |window: u64| usize::try_from(window / 8).unwrap_or(usize::MAX).max(1);
        Arc::new(Shared {
            id,
            role,
            span,
            codecs,
            agreed,
            credit_batch: batch(limits.initial_window),
            session_batch: batch(limits.session_window),
            session_consumed: Padded(AtomicUsize::new(0)),
            state: Padded(Mutex::new(State {
                proto,
                ready: false,
                streams: HashMap::new(),
                accept: VecDeque::new(),
                end: None,
                done: false,
                reply_backlog: 0,
                fds_in: VecDeque::new(),
                fds_out: Vec::new(),
            })),
            writer_wake: Padded(Notify::new()),
            reader_wake: Notify::new(),
            accept_wake: Notify::new(),
            open_for_sends: AtomicBool::new(single),
            orphaned: AtomicBool::new(false),
            failed: Notify::new(),
            linger: limits.linger,
            guard: Mutex::new(None),
            passes_fds,
            // One read may bring a whole sendmsg's worth (the kernel allows
            // 253) ahead of the OPENs that claim them.
            max_fds_in: usize::try_from(limits.max_pending_fds)
                .unwrap_or(usize::MAX)
                .saturating_add(253),
            channel_capacity: AtomicUsize::new(libchan_core::DEFAULT_CAPACITY),
            spare_payload: SparePayload::default(),
        })
    }

    pub(crate) fn lock(&self) -> Locked<'_> {
        // No user code runs under this lock, and every section leaves the
        // state consistent, so a poisoned lock still holds valid state.
        Locked {
            state: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            _in_span: self.span.enter(),
        }
    }

    /// Adds `bytes` consumed to the session's batch; returns what to report
    /// now (0 below a batch).
    pub(crate) fn take_session_credit(&self, bytes: usize) -> usize {
        let total = self.session_consumed.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if total < self.session_batch {
            return 0;
        }
        self.session_consumed.swap(0, Ordering::AcqRel)
    }

    /// Runs a protocol call made by a handle (not by the reader), then acts
    /// on the events it caused.
    pub(crate) fn call<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, effects) = {
            let mut st = self.lock();
            let r = f(&mut st);
            (r, crate::driver::events::process(self, &mut st))
        };
        self.writer_wake.notify_one();
        self.run(effects);
        r
    }

    /// Ends the session: every channel and byte stream attached to it
    /// learns `err` (a graceful end, `SessionError::Closed`, only reaches
    /// streams that had not finished, which a drained session has none of).
    pub(crate) fn end(self: &Arc<Self>, err: SessionError) {
        self.end_inner(err, false);
    }

    pub(crate) fn end_inner(self: &Arc<Self>, err: SessionError, recorded: bool) {
        let effects = {
            let mut st = self.lock();
            if st.end.is_some() && !recorded {
                return;
            }
            st.end = Some(err.clone());
            self.open_for_sends.store(false, Ordering::Release);
            let channel_err = ChannelError::SessionLost(err.clone());
            let mut effects = Vec::new();
            let ids: Vec<StreamId> = st.streams.keys().copied().collect();
            for id in ids {
                let Some(entry) = st.streams.get_mut(&id) else {
                    continue;
                };
                if let Some(resolver) = entry.parked.take().and_then(|p| p.resolver) {
                    effects.push(Effect::Resolve(resolver, Err(channel_err.clone())));
                }
                if let Some(bytes) = entry.bytes.as_mut() {
                    // The handle still reads what arrived, then the end.
                    if !bytes.eof && bytes.error.is_none() {
                        bytes.error = Some(ByteStreamError::SessionLost(err.clone()));
                    }
                    effects.extend(bytes.wakers().into_iter().flatten().map(Effect::Wake));
                    continue;
                }
                if entry.feed.is_none() && entry.drain.is_none() {
                    // Nobody attached yet (not accepted, or its message not
                    // decoded): the receiver gets what arrived, then a clean
                    // end if the stream finished, else the error.
                    if !entry.peer_closed && entry.reset.is_none() {
                        entry.reset = Some(channel_err.clone());
                    }
                    continue;
                }
                if entry.feed.is_some() && (entry.flushing || !entry.pending.is_empty()) {
                    // Deliver what arrived before the end, then finish: the
                    // flush (under way, or started here) does it.
                    if !entry.peer_closed {
                        entry.reset = Some(channel_err.clone());
                    }
                    if !entry.flushing {
                        entry.flushing = true;
                        effects.push(Effect::Flush(id));
                    }
                    continue;
                }
                let Some(mut entry) = st.streams.remove(&id) else {
                    continue;
                };
                if let Some(feed) = entry.feed.take() {
                    if entry.peer_closed {
                        effects.push(Effect::Drop(Box::new(feed)));
                    } else {
                        effects.push(Effect::FailFeed(feed, channel_err.clone()));
                    }
                }
                if let Some(drain) = entry.drain.take() {
                    effects.push(Effect::FailDrain(drain, channel_err.clone()));
                }
                effects.push(Effect::Drop(Box::new(entry)));
            }
            effects
        };
        self.writer_wake.notify_one();
        self.reader_wake.notify_one();
        self.wake_accept();
        if self.has_failed() {
            self.failed.notify_waiters();
        }
        self.run(effects);
    }

    /// The connection is finished: wake `close` callers, release the guard.
    pub(crate) fn finish(&self) {
        self.lock().done = true;
        self.wake_accept();
        let guard = self
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(guard);
    }

    pub(crate) fn wake_accept(&self) {
        self.accept_wake.notify_waiters();
        self.accept_wake.notify_one();
    }

    /// Runs effects collected under the lock, in order.
    pub(crate) fn run(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Deliver(feed, credit, id, batch) => {
                    crate::driver::deliver::deliver(self, &feed, &credit, id, batch);
                }
                Effect::Flush(id) => crate::driver::deliver::flush(self, id),
                Effect::Pump(drain) => drain.pump(),
                Effect::FailFeed(feed, err) => feed.fail(err),
                Effect::FailDrain(drain, err) => drain.fail(err),
                Effect::Resolve(resolver, result) => {
                    // Whoever waited is told; a failure nobody waits for was
                    // handled where the effect was made.
                    let _ = resolver.resolve(result);
                }
                Effect::Wake(w) => w.wake(),
                Effect::Drop(b) => drop(b),
                Effect::WakeAccept => self.wake_accept(),
                Effect::End(err) => self.end_inner(err, true),
                Effect::PeerClosed(id) => self.peer_closed(id),
                Effect::PeerReset(id, code, reason) => self.peer_reset(id, code, reason),
            }
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
            let done = st.remove_stream(id);
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
    fn peer_reset(self: &Arc<Self>, id: StreamId, code: ErrorCode, reason: String) {
        let mut st = self.lock();
        let Some(entry) = st.streams.get_mut(&id) else {
            return;
        };
        if let Some(bytes) = entry.bytes.as_mut() {
            bytes.error = Some(crate::driver::byte_stream::remote_error(code, reason));
            let wakers = bytes.wakers();
            // The byte stream handle still reads the error: keep its state.
            drop(st);
            for w in wakers.into_iter().flatten() {
                w.wake();
            }
            return;
        }
        let err = crate::driver::codes::remote_reset(code, reason);
        if entry.feed.is_none() && entry.drain.is_none() {
            // Nobody attached yet (not accepted, or not yet referenced):
            // keep what arrived; the receiver gets it, then the error.
            entry.reset = Some(err);
            return;
        }
        if entry.feed.is_some() && (entry.flushing || !entry.pending.is_empty()) {
            entry.reset = Some(err);
            if !entry.flushing {
                entry.flushing = true;
                drop(st);
                crate::driver::deliver::flush(self, id);
            }
            return;
        }
        let Some(mut entry) = st.streams.remove(&id) else {
            return;
        };
        let parked = entry.parked.take();
        drop(st);
        if let Some(resolver) = parked.and_then(|p| p.resolver) {
            let _ = resolver.resolve(Err(err.clone()));
        }
        if let Some(feed) = entry.feed.take() {
            feed.fail(err);
        } else if let Some(drain) = entry.drain.take() {
            drain.fail(err);
        }
        drop(entry);
    }

    /// True once the session ended with an error (not a graceful close).
    pub(crate) fn has_failed(&self) -> bool {
        matches!(&self.lock().end, Some(e) if !matches!(e, SessionError::Closed))
    }

    /// The session's error if it ended, for handles that try to use it.
    pub(crate) fn ended(&self) -> Option<SessionError> {
        self.lock().end.clone()
    }

    /// Starts a graceful close, if nothing has ended the session yet.
    pub(crate) fn start_close(self: &Arc<Self>, reason: &str) {
        self.call(|st| {
            if st.end.is_none() {
                st.proto.goaway(Instant::now(), ErrorCode::NO_ERROR, reason);
            }
        });
    }
}
