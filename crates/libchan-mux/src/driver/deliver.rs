//! Delivering received messages to their channels, and resolving the
//! channel references inside them (the session's importer).

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use bytes::Bytes;
use libchan_core::nest::{with_importer_boxed, ChannelRef, Importer, RefKind};
use libchan_core::transport::{CreditSink, Feed, InboundSlot, IncomingEnd, MessageBytes};
use libchan_core::{ByteStream, ChannelError, NestError};

use super::batch::Batch;
use super::byte_stream::MuxByteStream;
use super::callbacks::{CancelOnGone, StreamCredit};
use super::sink::MuxSink;
use super::state::{owned, Effect, Shared, State};
use crate::{ErrorCode, StreamId, StreamKind};

thread_local! {
    /// How many decodes this thread is inside (a flush after a decode may
    /// decode again).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Receivers attached while this thread decoded a message: their
    /// buffered messages are delivered right after that message, not inside
    /// its decode.
    static ATTACHED: RefCell<Vec<(Arc<Shared>, StreamId)>> = const { RefCell::new(Vec::new()) };
    /// Reused importer allocation.
    static IMPORTER: RefCell<Option<Box<SessionImporter>>> = const { RefCell::new(None) };
}

/// Decodes a batch of one stream's messages into its channel; on failure
/// resets the stream. Receivers the messages carried get what was buffered
/// for them before this returns.
pub(crate) fn deliver(
    shared: &Arc<Shared>,
    feed: &Feed,
    credit: &Arc<dyn CreditSink>,
    id: StreamId,
    batch: Batch,
) {
    let Some(codec) = shared.agreed.get() else {
        // Data cannot arrive before the handshake settles the codec.
        shared.end(libchan_core::SessionError::Handshake(
            libchan_core::HandshakeError::DataBeforeHandshake,
        ));
        return;
    };
    let mut importer = IMPORTER.with(|i| i.borrow_mut().take()).unwrap_or_default();
    importer.shared = Some(shared.clone());
    importer.bad_reference = false;
    DEPTH.with(|d| d.set(d.get() + 1));
    let mut rest = batch.as_slice().iter();
    let (result, mut importer) = {
        let mut items = rest.by_ref().map(|payload| {
            // A large payload has its own buffer (see the deframer): a
            // value may keep slices of it without pinning anything else.
            let bytes = if payload.len() >= crate::SMALL_PAYLOAD {
                MessageBytes::Shared(payload)
            } else {
                MessageBytes::Borrowed(payload)
            };
            (bytes, payload.len())
        });
        with_importer_boxed(importer, || {
            feed.deliver_batch(&**codec, credit, id.0, &mut items)
        })
    };
    let depth = DEPTH.with(|d| {
        d.set(d.get() - 1);
        d.get()
    });
    let bad_reference = importer.bad_reference;
    importer.shared = None;
    IMPORTER.with(|i| *i.borrow_mut() = Some(importer));
    if let Err(err) = result {
        let code = match &err {
            ChannelError::Decode(_) if bad_reference => ErrorCode::UNKNOWN_REFERENCE,
            ChannelError::Decode(_) => ErrorCode::DECODE_ERROR,
            ChannelError::Closed => ErrorCode::CANCEL,
            _ => ErrorCode::INTERNAL_ERROR,
        };
        // The messages after the one that failed are never decoded: their
        // credit goes back to the session window with the stream's.
        let undelivered: usize = rest.map(Bytes::len).sum();
        let dead = {
            let mut st = shared.lock();
            st.proto.reset(id, code, &super::codes::with_causes(&err));
            if undelivered > 0 {
                st.proto.consumed_session(undelivered);
            }
            st.remove_stream(id)
        };
        shared.writer_wake.notify_one();
        if !matches!(err, ChannelError::Closed) {
            feed.fail(err);
        }
        drop(dead);
    }
    batch.recycle(&shared.spare_payload);
    if depth == 0 {
        flush_attached();
    }
}

/// Delivers what was buffered for the receivers attached during the
/// outermost decode on this thread.
fn flush_attached() {
    loop {
        let next = ATTACHED.with(|a| a.borrow_mut().pop());
        match next {
            Some((shared, id)) => flush(&shared, id),
            None => return,
        }
    }
}

/// Delivers a stream's buffered messages in order, then finishes it if the
/// peer closed or reset it (or the session ended). Only one caller flushes
/// a stream at a time.
pub(crate) fn flush(shared: &Arc<Shared>, id: StreamId) {
    loop {
        let next = {
            let mut st = shared.lock();
            let Some(entry) = st.streams.get_mut(&id) else {
                return;
            };
            let (Some(feed), Some(credit)) = (entry.feed.clone(), entry.credit.clone()) else {
                entry.flushing = false;
                return;
            };
            match entry.pending.is_empty() {
                false => {
                    entry.flushing = true;
                    Some((feed, credit, Batch::take(&mut entry.pending)))
                }
                true => {
                    entry.flushing = false;
                    if let Some(err) = entry.reset.clone() {
                        // The stream or session broke after these messages.
                        let done = st.remove_stream(id);
                        drop(st);
                        feed.fail(err);
                        drop(done);
                    } else if entry.peer_closed {
                        // Clean end: dropping the feed closes the channel.
                        let done = st.remove_stream(id);
                        drop(st);
                        drop(done);
                    }
                    None
                }
            }
        };
        match next {
            Some((feed, credit, batch)) => deliver(shared, &feed, &credit, id, batch),
            None => return,
        }
    }
}

/// Resolves references while a message from the peer is decoded.
#[derive(Default)]
struct SessionImporter {
    /// The session decoding; `None` while cached between messages.
    shared: Option<Arc<Shared>>,
    /// A reference named no stream it could: the stream is reset with
    /// `UNKNOWN_REFERENCE` (the codec only sees a decode error).
    bad_reference: bool,
}

impl Importer for SessionImporter {
    fn import(&mut self, r: ChannelRef) -> Result<IncomingEnd, NestError> {
        let Some(shared) = self.shared.clone() else {
            return Err(NestError::NoSession("reference"));
        };
        let result = resolve(&shared, r);
        if matches!(result, Err(NestError::UnknownReference { .. })) {
            self.bad_reference = true;
        }
        result
    }

    fn channel_capacity(&self) -> usize {
        self.shared
            .as_ref()
            .map_or(libchan_core::DEFAULT_CAPACITY, |s| {
                s.channel_capacity
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
    }
}

/// The end `r` names. Works after the session ended too, for messages that
/// arrived before: the ends then carry what arrived and the session's end.
fn resolve(shared: &Arc<Shared>, r: ChannelRef) -> Result<IncomingEnd, NestError> {
    let id = StreamId(r.id);
    let unknown = || NestError::UnknownReference {
        kind: r.kind.as_str(),
        id: r.id,
    };
    if id.is_session() {
        return Err(unknown());
    }
    let mut st = shared.lock();
    if id.opener() == shared.role {
        // One of our own streams coming home: only a sender we exported
        // (we receive on it) can come back this way.
        if r.kind != RefKind::Sender {
            return Err(NestError::WrongKind {
                expected: "sender of a stream the peer opened",
                id: r.id,
            });
        }
        let feed = st
            .streams
            .get(&id)
            .and_then(|e| e.feed.clone())
            .ok_or_else(unknown)?;
        drop(st);
        return Ok(IncomingEnd::Local(feed.sender_any()));
    }
    let kind = st.proto.claim(id).map_err(|_| unknown())?;
    let expected = match r.kind {
        RefKind::Sender => kind == StreamKind::OpenerReceives,
        RefKind::Receiver => kind == StreamKind::OpenerSends,
        RefKind::Stream => matches!(kind, StreamKind::Bytes | StreamKind::Fd),
    };
    if !expected {
        st.proto
            .reset(id, ErrorCode::PROTOCOL_ERROR, "reference of the wrong kind");
        let dead = st.remove_stream(id);
        drop(st);
        shared.writer_wake.notify_one();
        drop(dead);
        return Err(NestError::WrongKind {
            expected: r.kind.as_str(),
            id: r.id,
        });
    }
    if kind == StreamKind::Fd {
        // The descriptor itself: the stream reads and writes it directly.
        let entry = st.remove_stream(id);
        drop(st);
        #[cfg(unix)]
        if let Some(fd) = entry.and_then(|mut e| e.fd.take()) {
            return Ok(IncomingEnd::Stream(ByteStream::from_fd(fd)));
        }
        return Err(unknown());
    }
    st.streams.entry(id).or_default();
    drop(st);
    Ok(match r.kind {
        RefKind::Sender => IncomingEnd::Outbound(Arc::new(MuxSink::new(shared, id))),
        RefKind::Receiver => IncomingEnd::Inbound(Box::new(Slot {
            shared: shared.clone(),
            id,
            attached: false,
        })),
        RefKind::Stream => IncomingEnd::Stream(ByteStream::new(MuxByteStream::new(shared, id))),
    })
}

/// Where a receiver that arrived (nested or top-level) gets its feed.
/// Dropped without a feed, it cancels the stream, so the peer's sender
/// learns nobody will read instead of waiting for credit forever.
pub(crate) struct Slot {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: StreamId,
    pub(crate) attached: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.attached {
            return;
        }
        let id = self.id;
        self.shared.call(|st| {
            if st.end.is_none() {
                st.proto
                    .reset(id, ErrorCode::CANCEL, "the receiver was dropped unused");
            }
            st.remove_stream(id)
        });
    }
}

impl InboundSlot for Slot {
    fn attach(mut self: Box<Self>, feed: Feed) {
        self.attached = true;
        let shared = self.shared.clone();
        let id = self.id;
        let feed = Arc::new(feed);
        let watch = CancelOnGone::watch(&shared, id, &feed);
        let flush_now = {
            let mut st = shared.lock();
            let ended = st.end.clone();
            let Some(entry) = st.streams.get_mut(&id) else {
                // Forgotten: the session ended (or the stream was cancelled).
                drop(st);
                feed.fail(match ended {
                    Some(e) => ChannelError::SessionLost(e),
                    None => ChannelError::Closed,
                });
                return;
            };
            entry.feed = Some(feed);
            entry.watch = Some(watch);
            entry.credit = Some(StreamCredit::sink(&shared, id));
            if entry.pending.is_empty() && !entry.peer_closed && entry.reset.is_none() {
                false
            } else if DEPTH.with(Cell::get) > 0 {
                entry.flushing = true;
                ATTACHED.with(|a| a.borrow_mut().push((shared.clone(), id)));
                false
            } else {
                entry.flushing = true;
                true
            }
        };
        if flush_now {
            flush(&shared, id);
        }
    }
}

/// Classifies one DATA payload under the lock: for a receiver that is
/// attached and has nothing buffered, it joins the batch the previous
/// payload started if that was the same stream's (one read's consecutive
/// messages of a stream are decoded and queued together).
pub(crate) fn on_data(st: &mut State, id: StreamId, payload: Bytes, effects: &mut Vec<Effect>) {
    let Some(entry) = st.streams.get_mut(&id) else {
        // A stream we already let go of: give the credit back and move on.
        st.proto.consumed(id, payload.len());
        st.proto.consumed_session(payload.len());
        return;
    };
    if let Some(bytes) = entry.bytes.as_mut() {
        bytes.inbound.push_back(owned(payload));
        effects.extend(bytes.read_waker.take().map(Effect::Wake));
        return;
    }
    match (&entry.feed, &entry.credit) {
        (Some(feed), Some(credit)) if entry.pending.is_empty() && !entry.flushing => {
            if let Some(Effect::Deliver(_, _, last, batch)) = effects.last_mut() {
                if *last == id {
                    batch.push(payload);
                    return;
                }
            }
            effects.push(Effect::Deliver(
                feed.clone(),
                credit.clone(),
                id,
                Batch::One(payload),
            ));
        }
        _ => entry.pending.push_back(owned(payload)),
    }
}
