//! Delivering received messages to their channels, and resolving the
//! channel references inside them (the session's importer).

use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use libchan_core::nest::{with_importer_boxed, ChannelRef, Importer, RefKind};
use libchan_core::transport::{CreditToken, Feed, InboundSlot, IncomingEnd};
use libchan_core::{ByteStream, ChannelError, NestError};

use super::byte_stream::MuxByteStream;
use super::sink::MuxSink;
use super::state::{owned, Effect, Entry, Shared, StreamCredit};
use crate::{ErrorCode, StreamId, StreamKind};

thread_local! {
    /// True while this thread decodes a message: feeds attached meanwhile
    /// are flushed after that message, not inside it.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
    /// Reused importer allocation.
    static IMPORTER: std::cell::RefCell<Option<Box<SessionImporter>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decodes one message into its channel; on failure resets the stream.
pub(crate) fn deliver(
    shared: &Arc<Shared>,
    feed: &Feed,
    credit: &Arc<StreamCredit>,
    id: StreamId,
    payload: Bytes,
) {
    let Some(codec) = shared.agreed.get() else {
        // Data cannot arrive before the handshake settles the codec.
        shared.end(libchan_core::SessionError::Handshake(
            "message received before a codec was agreed".into(),
        ));
        return;
    };
    let credit = CreditToken::new(credit.clone(), id.0, payload.len());
    let mut importer = IMPORTER
        .with(|i| i.borrow_mut().take())
        .unwrap_or_else(|| Box::new(SessionImporter { shared: None }));
    importer.shared = Some(shared.clone());
    let outer = DELIVERING.with(|d| d.replace(true));
    let (result, importer) =
        with_importer_boxed(importer, || feed.deliver(&**codec, &payload, credit));
    DELIVERING.with(|d| d.set(outer));
    let mut importer = importer;
    importer.shared = None;
    IMPORTER.with(|i| *i.borrow_mut() = Some(importer));
    if let Err(err) = result {
        let code = match &err {
            ChannelError::Decode(_) => ErrorCode::DECODE_ERROR,
            ChannelError::Closed => ErrorCode::CANCEL,
            _ => ErrorCode::INTERNAL_ERROR,
        };
        let dead = {
            let mut st = shared.lock();
            st.proto.reset(id, code, &err.to_string());
            st.streams.remove(&id)
        };
        shared.writer_wake.notify_one();
        if !matches!(err, ChannelError::Closed) {
            feed.fail(err);
        }
        drop(dead);
    }
}

/// Delivers a stream's buffered messages in order, then finishes it if the
/// peer closed it. Only one caller flushes a stream at a time.
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
            match entry.pending.pop_front() {
                Some(payload) => {
                    entry.flushing = true;
                    Some((feed, credit, payload))
                }
                None => {
                    entry.flushing = false;
                    if let Some(err) = entry.reset.clone() {
                        // The stream or session broke after these messages.
                        let done = st.streams.remove(&id);
                        drop(st);
                        feed.fail(err);
                        drop(done);
                    } else if entry.peer_closed {
                        // Clean end: dropping the feed closes the channel.
                        let done = finish_receive(&mut st, id);
                        drop(st);
                        drop(done);
                    }
                    None
                }
            }
        };
        match next {
            Some((feed, credit, payload)) => deliver(shared, &feed, &credit, id, payload),
            None => return,
        }
    }
}

/// The peer finished sending on `id`: forget the stream; the caller drops
/// the returned entry (and with it the feed) after unlocking.
pub(crate) fn finish_receive(st: &mut super::state::State, id: StreamId) -> Option<Entry> {
    st.streams.remove(&id)
}

/// Resolves references while a message from the peer is decoded.
struct SessionImporter {
    /// The session decoding; `None` while cached between messages.
    shared: Option<Arc<Shared>>,
}

impl Importer for SessionImporter {
    fn import(&mut self, r: ChannelRef) -> Result<IncomingEnd, NestError> {
        let Some(shared) = self.shared.clone() else {
            return Err(NestError::NoSession("reference"));
        };
        let id = StreamId(r.id);
        let unknown = || NestError::UnknownReference {
            kind: r.kind.as_str(),
            id: r.id,
        };
        if id.is_session() {
            return Err(unknown());
        }
        let mut st = shared.lock();
        if st.end.is_some() {
            return Err(unknown());
        }
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
            RefKind::Sender => StreamKind::OpenerReceives,
            RefKind::Receiver => StreamKind::OpenerSends,
            RefKind::Stream => StreamKind::Bytes,
        };
        if kind != expected {
            st.proto
                .reset(id, ErrorCode::PROTOCOL_ERROR, "reference of the wrong kind");
            drop(st);
            shared.writer_wake.notify_one();
            return Err(NestError::WrongKind {
                expected: r.kind.as_str(),
                id: r.id,
            });
        }
        st.streams.entry(id).or_default();
        drop(st);
        Ok(match r.kind {
            RefKind::Sender => IncomingEnd::Outbound(Arc::new(MuxSink::new(&shared, id))),
            RefKind::Receiver => IncomingEnd::Inbound(Box::new(Slot {
                shared: shared.clone(),
                id,
                attached: false,
            })),
            RefKind::Stream => {
                IncomingEnd::Stream(ByteStream::new(MuxByteStream::new(&shared, id)))
            }
        })
    }
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
        let entry = {
            let mut st = self.shared.lock();
            if st.end.is_some() {
                return;
            }
            st.proto.reset(
                self.id,
                ErrorCode::CANCEL,
                "the receiver was dropped unused",
            );
            st.streams.remove(&self.id)
        };
        self.shared.writer_wake.notify_one();
        drop(entry);
    }
}

impl InboundSlot for Slot {
    fn attach(mut self: Box<Self>, feed: Feed) {
        self.attached = true;
        let feed = Arc::new(feed);
        let flush_now = {
            let mut st = self.shared.lock();
            let delivering = DELIVERING.with(Cell::get);
            let broken = st
                .streams
                .get(&self.id)
                .and_then(|e| e.reset.clone())
                .or_else(|| st.end.clone().map(ChannelError::SessionLost));
            if let Some(err) = broken {
                // The stream or session broke before anyone attached: hand
                // over what arrived, then the error.
                let tombstone = st.streams.remove(&self.id);
                drop(st);
                if let Some(mut entry) = tombstone {
                    let credit = StreamCredit::new(&self.shared, self.id);
                    for payload in entry.pending.drain(..) {
                        deliver(&self.shared, &feed, &credit, self.id, payload);
                    }
                }
                feed.fail(err);
                return;
            }
            let entry = st.streams.entry(self.id).or_default();
            entry.feed = Some(feed);
            entry.credit = Some(StreamCredit::new(&self.shared, self.id));
            if entry.pending.is_empty() && !entry.peer_closed {
                false
            } else if delivering {
                entry.flushing = true;
                st.flush_queue.push(self.id);
                false
            } else {
                entry.flushing = true;
                true
            }
        };
        if flush_now {
            flush(&self.shared, self.id);
        }
    }
}

/// Classifies one DATA payload for a message stream under the lock.
pub(crate) fn on_data(
    st: &mut super::state::State,
    id: StreamId,
    payload: Bytes,
) -> Option<Effect> {
    let Some(entry) = st.streams.get_mut(&id) else {
        // A stream we already let go of: give the credit back and move on.
        st.proto.consumed(id, payload.len());
        return None;
    };
    if let Some(bytes) = entry.bytes.as_mut() {
        bytes.inbound.push_back(owned(payload));
        return bytes.read_waker.take().map(Effect::Wake);
    }
    match (&entry.feed, &entry.credit) {
        (Some(feed), Some(credit)) if entry.pending.is_empty() && !entry.flushing => {
            Some(Effect::Deliver(feed.clone(), credit.clone(), id, payload))
        }
        _ => {
            entry.pending.push_back(owned(payload));
            None
        }
    }
}
