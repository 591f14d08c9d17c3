//! Channel ends in type-erased form, as a session handles them.
//!
//! The element type `T` is known where an end enters or leaves a message
//! (the `Serialize`/`Deserialize` impls, the typed session calls); each type
//! here captures what the session needs of `T` at that point, so sessions
//! themselves are not generic.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Weak};

use super::{Feed, StreamSink};
use crate::byte_stream::ByteStream;
use crate::chan::state::{Chan, Consumer};
use crate::chan::{pump, send_one, Receiver, Sender};
use crate::codec::Payload;
use crate::error::{ChannelError, NestError};

// ---------------------------------------------------------------------------
// Leaving: ends a message (or a top-level open) hands to a session.

/// The sending end of a local channel, handed to a session so the peer can
/// send into it.
pub struct ExportedSender(Box<dyn ErasedSender>);

trait ErasedSender: Send {
    fn drained_by(&self) -> Option<(super::SessionId, u64)>;
    fn into_feed(self: Box<Self>) -> Feed;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: Payload> ErasedSender for Sender<T> {
    fn drained_by(&self) -> Option<(super::SessionId, u64)> {
        match &self.chan.lock().consumer {
            Consumer::Drain { sink, .. } => Some((sink.session(), sink.stream())),
            _ => None,
        }
    }

    fn into_feed(self: Box<Self>) -> Feed {
        // The feed takes over this handle's place among the producers.
        Feed::new(*self)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(*self)
    }
}

impl ExportedSender {
    /// Wraps a sender for export.
    pub fn new<T: Payload>(sender: Sender<T>) -> Self {
        ExportedSender(Box::new(sender))
    }

    /// If this sender already drains onto a session stream, which one.
    ///
    /// A session seeing its own id here must refer the peer to that stream
    /// (the peer's own end coming home) instead of opening a new one.
    pub fn drained_by(&self) -> Option<(super::SessionId, u64)> {
        self.0.drained_by()
    }

    /// The session will feed this channel with what the peer sends.
    pub fn into_feed(self) -> Feed {
        self.0.into_feed()
    }

    /// The live `Sender<T>`, for transports that move ends without encoding.
    pub fn into_any(self) -> Box<dyn Any + Send> {
        self.0.into_any()
    }
}

impl fmt::Debug for ExportedSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedSender").finish_non_exhaustive()
    }
}

/// The receiving end of a local channel, handed to a session so the peer
/// receives what is sent into it.
///
/// Dropping it without [`attach`](Self::attach) or
/// [`into_any`](Self::into_any) is dropping the receiver.
pub struct ExportedReceiver(Option<Box<dyn ErasedReceiver>>);

trait ErasedReceiver: Send {
    fn breaker(&self) -> Breaker;
    fn attach(&self, sink: Arc<dyn StreamSink>);
    fn to_local(&self) -> Box<dyn Any + Send>;
    fn cancel(&self);
}

struct TypedReceiver<T>(Arc<Chan<T>>);

impl<T: Payload> ErasedReceiver for TypedReceiver<T> {
    fn breaker(&self) -> Breaker {
        Breaker(Arc::downgrade(&self.0) as Weak<dyn ErasedBreak>)
    }

    fn attach(&self, sink: Arc<dyn StreamSink>) {
        let handle = DrainHandle(self.0.clone() as Arc<dyn ErasedDrain>);
        {
            let mut st = self.0.lock();
            st.consumer = Consumer::Drain {
                sink: sink.clone(),
                pump: pump::<T>,
                send_one: send_one::<T>,
            };
        }
        sink.attach_drain(handle);
    }

    fn to_local(&self) -> Box<dyn Any + Send> {
        self.0.lock().consumer = Consumer::Local;
        Box::new(Receiver::from_chan(self.0.clone()))
    }

    fn cancel(&self) {
        self.0.lock().consumer = Consumer::Local;
        // Dropping the rebuilt receiver runs the usual receiver teardown.
        drop(Receiver::from_chan(self.0.clone()));
    }
}

impl ExportedReceiver {
    /// Wraps a receiver for export.
    pub fn new<T: Payload>(receiver: Receiver<T>) -> Self {
        let chan = receiver.chan.clone();
        chan.begin_export().consumer = Consumer::Exporting;
        // The receiver's own drop sees `Exporting` and leaves the channel be.
        drop(receiver);
        ExportedReceiver(Some(Box::new(TypedReceiver(chan))))
    }

    pub(crate) fn from_shared<T: Payload>(receiver: &Receiver<T>) -> Result<Self, NestError> {
        let mut st = receiver.chan.begin_export();
        if !matches!(st.consumer, Consumer::Local) {
            return Err(NestError::Refused(
                "this receiver was already sent elsewhere".into(),
            ));
        }
        st.consumer = Consumer::Exporting;
        drop(st);
        Ok(ExportedReceiver(Some(Box::new(TypedReceiver(
            receiver.chan.clone(),
        )))))
    }

    /// A breaker for this channel (for transports that move ends without a
    /// connection and must still fail them when the session is lost).
    pub fn breaker(&self) -> Option<Breaker> {
        self.0.as_ref().map(|inner| inner.breaker())
    }

    /// Makes the session's stream this channel's consumer: from now on queued
    /// and future messages are encoded onto `sink` as its credit allows. The
    /// session pumps the [`DrainHandle`] it is given through
    /// [`StreamSink::attach_drain`] once it has announced the stream.
    pub fn attach(mut self, sink: Arc<dyn StreamSink>) {
        if let Some(inner) = self.0.take() {
            inner.attach(sink);
        }
    }

    /// The live `Receiver<T>`, for transports that move ends without encoding.
    pub fn into_any(mut self) -> Box<dyn Any + Send> {
        match self.0.take() {
            Some(inner) => inner.to_local(),
            None => Box::new(()),
        }
    }
}

impl Drop for ExportedReceiver {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            inner.cancel();
        }
    }
}

impl fmt::Debug for ExportedReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedReceiver").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Channel → session: draining, and breaking a channel from the session.

/// A session's handle on a channel that drains onto one of its streams.
///
/// It keeps the channel alive: messages queued when the last sender is
/// dropped must still reach the stream. The session drops it when the
/// stream finishes (closed, reset, or the session ended).
#[derive(Clone)]
pub struct DrainHandle(Arc<dyn ErasedDrain>);

pub(crate) trait ErasedDrain: Send + Sync {
    fn pump(self: Arc<Self>);
    fn fail(&self, err: ChannelError);
}

impl<T: Payload> ErasedDrain for Chan<T> {
    fn pump(self: Arc<Self>) {
        pump::<T>(&self);
    }

    fn fail(&self, err: ChannelError) {
        self.break_consumer(err);
    }
}

impl DrainHandle {
    /// Credit returned (or the stream was just announced): encode what is queued.
    pub fn pump(&self) {
        self.0.clone().pump();
    }

    /// The stream died (cancelled by the peer, or its session lost): every
    /// sender into the channel gets `err`.
    pub fn fail(&self, err: ChannelError) {
        self.0.fail(err);
    }
}

impl fmt::Debug for DrainHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrainHandle").finish_non_exhaustive()
    }
}

/// Breaks a channel from the outside, as a lost connection would: the
/// receiver gets the error after what is queued, senders get it at once.
/// For transports that move ends without a connection (in-memory).
#[derive(Clone)]
pub struct Breaker(Weak<dyn ErasedBreak>);

trait ErasedBreak: Send + Sync {
    fn break_with(self: Arc<Self>, err: ChannelError);
}

impl<T: Send + 'static> ErasedBreak for Chan<T> {
    fn break_with(self: Arc<Self>, err: ChannelError) {
        self.break_producer(err).run(&self);
    }
}

impl Breaker {
    /// A breaker for the channel `receiver` receives from.
    pub fn of_receiver<T: Send + 'static>(receiver: &Receiver<T>) -> Self {
        Breaker(Arc::downgrade(&receiver.chan) as Weak<dyn ErasedBreak>)
    }

    /// A breaker for the channel `sender` sends into.
    pub fn of_sender<T: Send + 'static>(sender: &Sender<T>) -> Self {
        Breaker(Arc::downgrade(&sender.chan) as Weak<dyn ErasedBreak>)
    }

    /// True while the channel still exists.
    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// Breaks the channel with `err`, if it still exists.
    pub fn break_with(&self, err: ChannelError) {
        if let Some(chan) = self.0.upgrade() {
            chan.break_with(err);
        }
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Arriving: what a session hands to libchan for a reference it received.

/// An end the peer sent, before it becomes a typed handle.
#[non_exhaustive]
pub enum IncomingEnd {
    /// A live handle that moved without encoding (in-memory transports), or
    /// this process's own end coming home: a boxed `Sender<T>` or `Receiver<T>`.
    Local(Box<dyn Any + Send>),
    /// A sender: messages sent on it are encoded onto this stream.
    Outbound(Arc<dyn StreamSink>),
    /// A receiver: the session will feed it through the slot.
    Inbound(Box<dyn InboundSlot>),
    /// A byte stream.
    Stream(ByteStream),
}

/// Where a session waits for the [`Feed`] of a receiver that arrived.
pub trait InboundSlot: Send {
    /// Starts delivering the stream's messages to `feed` (including any the
    /// session buffered before the receiver was decoded or accepted).
    fn attach(self: Box<Self>, feed: Feed);
}

impl fmt::Debug for IncomingEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncomingEnd::Local(_) => f.write_str("IncomingEnd::Local(..)"),
            IncomingEnd::Outbound(s) => f.debug_tuple("IncomingEnd::Outbound").field(s).finish(),
            IncomingEnd::Inbound(_) => f.write_str("IncomingEnd::Inbound(..)"),
            IncomingEnd::Stream(s) => f.debug_tuple("IncomingEnd::Stream").field(s).finish(),
        }
    }
}

/// Builds the typed sender for an end that arrived (what a codec's decoder
/// does with a sender reference); a new channel (for
/// [`IncomingEnd::Outbound`]) holds at most `capacity` messages queued for
/// the stream before `send` waits. An end that moved as a live handle
/// keeps its own channel's capacity.
pub fn sender_from_incoming<T: Payload>(
    end: IncomingEnd,
    capacity: usize,
) -> Result<Sender<T>, NestError> {
    Sender::from_incoming_with_capacity(end, capacity)
}

/// Builds the typed receiver for an end that arrived (what a codec's
/// decoder does with a receiver reference); a new channel (for
/// [`IncomingEnd::Inbound`]) holds at most `capacity` messages from local
/// senders (the session's own feed is bounded by its credit window
/// instead). An end that moved as a live handle keeps its own channel's
/// capacity.
pub fn receiver_from_incoming<T: Payload>(
    end: IncomingEnd,
    capacity: usize,
) -> Result<Receiver<T>, NestError> {
    Receiver::from_incoming_with_capacity(end, capacity)
}

impl<T: Payload> Sender<T> {
    /// Builds the typed sender for an end that arrived; a new channel
    /// (for [`IncomingEnd::Outbound`]) holds at most `capacity` messages
    /// queued for the stream before `send` waits. An end that moved as a
    /// live handle keeps its own channel's capacity.
    pub(crate) fn from_incoming_with_capacity(
        end: IncomingEnd,
        capacity: usize,
    ) -> Result<Self, NestError> {
        match end {
            IncomingEnd::Local(any) => {
                any.downcast::<Sender<T>>()
                    .map(|b| *b)
                    .map_err(|_| NestError::TypeMismatch {
                        expected: std::any::type_name::<Sender<T>>(),
                    })
            }
            IncomingEnd::Outbound(sink) => {
                let chan = Chan::new(
                    capacity,
                    1,
                    Consumer::Drain {
                        sink: sink.clone(),
                        pump: pump::<T>,
                        send_one: send_one::<T>,
                    },
                );
                sink.attach_drain(DrainHandle(chan.clone() as Arc<dyn ErasedDrain>));
                Ok(Sender::from_chan(chan))
            }
            IncomingEnd::Inbound(_) => Err(NestError::WrongKind {
                expected: "sender",
                id: 0,
            }),
            IncomingEnd::Stream(_) => Err(NestError::WrongKind {
                expected: "sender",
                id: 0,
            }),
        }
    }
}

impl<T: Payload> Receiver<T> {
    /// Builds the typed receiver for an end that arrived; a new channel
    /// (for [`IncomingEnd::Inbound`]) holds at most `capacity` messages
    /// from local senders (the session's own feed is bounded by its credit
    /// window instead). An end that moved as a live handle keeps its own
    /// channel's capacity.
    pub(crate) fn from_incoming_with_capacity(
        end: IncomingEnd,
        capacity: usize,
    ) -> Result<Self, NestError> {
        match end {
            IncomingEnd::Local(any) => {
                any.downcast::<Receiver<T>>()
                    .map(|b| *b)
                    .map_err(|_| NestError::TypeMismatch {
                        expected: std::any::type_name::<Receiver<T>>(),
                    })
            }
            IncomingEnd::Inbound(slot) => {
                let chan = Chan::new(capacity, 1, Consumer::Local);
                let sender = Sender::from_chan(chan.clone());
                slot.attach(Feed::new(sender));
                Ok(Receiver::from_chan(chan))
            }
            IncomingEnd::Outbound(_) | IncomingEnd::Stream(_) => Err(NestError::WrongKind {
                expected: "receiver",
                id: 0,
            }),
        }
    }
}
