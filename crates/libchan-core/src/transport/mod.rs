//! The transport-facing side of libchan: what a session implements and what
//! it is handed.
//!
//! A transport crate implements [`Session`] and, if it carries ends over a
//! connection, the [`StreamSink`] of its streams and an
//! [`Exporter`](crate::nest::Exporter)/[`Importer`](crate::nest::Importer).
//! Users call the typed methods of [`SessionExt`] instead.
//!
//! # How a channel end crosses a session
//!
//! Every channel is one queue ([`crate::Sender`] side → [`crate::Receiver`]
//! side). When an end leaves the process, the queue stays and the session
//! attaches to it:
//!
//! * **A receiver leaves** ([`ExportedReceiver`]): the session becomes the
//!   queue's consumer. It calls [`ExportedReceiver::attach`] with the
//!   [`StreamSink`] of a new stream; from then on every `send` encodes
//!   straight onto that stream while it has credit, and the session calls
//!   [`DrainHandle::pump`] when credit returns.
//! * **A sender leaves** ([`ExportedSender`]): the session becomes one more
//!   producer. It turns the end into a [`Feed`] and calls [`Feed::deliver`]
//!   for every message the peer sends on the stream.
//! * **A receiver arrives** ([`IncomingEnd::Inbound`]): libchan makes a fresh
//!   queue and gives the session its [`Feed`].
//! * **A sender arrives** ([`IncomingEnd::Outbound`]): libchan makes a fresh
//!   queue drained onto the given sink.
//!
//! No task is spawned for any of these: a channel that is both fed by one
//! session and drained onto another is a forwarder, and it is pumped by the
//! feeding session's delivery and the draining session's credit.
//!
//! # Locking rule
//!
//! A session must not hold its own locks while it calls [`Feed::deliver`],
//! [`DrainHandle::pump`] or anything that drops a [`CreditToken`]: those take
//! the channel's lock and may call back into [`StreamSink`] methods.

mod ends;
mod feed;
mod session;
mod ticket;

pub use crate::chan::state::ConsumerGone;
pub use ends::{
    receiver_from_incoming, sender_from_incoming, Breaker, DrainHandle, ExportedReceiver,
    ExportedSender, InboundSlot, IncomingEnd,
};
pub use feed::{Feed, MessageBytes};
pub use session::{Session, SessionExt, SessionId, SessionStats};
pub use ticket::{send_ticket, SendTicket, Sent, TicketResolver};

use std::fmt;
use std::sync::Arc;

/// A fresh session id, distinct from every other in this process: what a
/// new session takes once.
pub fn new_session_id() -> SessionId {
    SessionId::next()
}

/// For transports that pass descriptors: takes the descriptor out of
/// `stream` if it is fd-backed (the stream is spent: it has been sent);
/// `None`, and the stream untouched, if it is not.
#[cfg(unix)]
pub fn take_fd(stream: &crate::ByteStream) -> Option<std::os::fd::OwnedFd> {
    stream.take_fd()
}

use crate::codec::Codec;
use crate::error::{ChannelError, CodecError};

/// The encoder a [`StreamSink`] runs to write one message's bytes.
pub type EncodeFn<'a> = dyn FnMut(&dyn Codec, &mut Vec<u8>) -> Result<(), CodecError> + 'a;

/// One outbound message stream of a session, seen from the channel that
/// drains onto it.
pub trait StreamSink: Send + Sync + fmt::Debug + 'static {
    /// The session this stream belongs to.
    fn session(&self) -> SessionId;

    /// The stream's id within its session (its wire id).
    fn stream(&self) -> u64;

    /// True when a message may be sent now (the peer granted credit).
    fn has_credit(&self) -> bool;

    /// Encodes one message with the session's codec, inside the session's
    /// export scope, and queues it for the connection, or parks it until it
    /// can be queued ([`Sent::Parked`]).
    ///
    /// An error from `encode` is returned as [`ChannelError::Encode`], a
    /// message above the peer's size limit as [`ChannelError::Limit`]; then
    /// nothing is queued and every end the message exported is failed with
    /// that error. Any other error means the stream is dead.
    fn send(&self, encode: &mut EncodeFn<'_>) -> Result<Sent, ChannelError>;

    /// The channel ended cleanly: every sender is gone and everything was sent.
    fn close(&self);

    /// The channel broke upstream; tell the peer.
    fn reset(&self, error: &ChannelError);

    /// Registers the channel draining onto this stream, so the session can
    /// pump it when credit returns and fail it when the stream dies.
    fn attach_drain(&self, drain: DrainHandle);
}

/// Hands credit back to a session when a delivered message is consumed.
pub trait CreditSink: Send + Sync + 'static {
    /// `bytes` of stream `stream`'s window were consumed by the application.
    fn consumed(&self, stream: u64, bytes: usize);
}

/// The credit a delivered message holds in its stream's window; returned to
/// the session when the message is received (or dropped).
pub struct CreditToken {
    sink: Option<Arc<dyn CreditSink>>,
    stream: u64,
    bytes: usize,
}

impl CreditToken {
    /// A token that returns `bytes` of `stream`'s window to `sink` on drop.
    pub fn new(sink: Arc<dyn CreditSink>, stream: u64, bytes: usize) -> Self {
        CreditToken {
            sink: Some(sink),
            stream,
            bytes,
        }
    }

    /// A token that returns nothing (for transports without flow control).
    pub fn none() -> Self {
        CreditToken {
            sink: None,
            stream: 0,
            bytes: 0,
        }
    }

    /// Where this token returns its credit, and how much: the token
    /// itself is disarmed.
    pub(crate) fn into_parts(mut self) -> (Option<Arc<dyn CreditSink>>, u64, usize) {
        (self.sink.take(), self.stream, self.bytes)
    }
}

impl Drop for CreditToken {
    fn drop(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink.consumed(self.stream, self.bytes);
        }
    }
}

impl fmt::Debug for CreditToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditToken")
            .field("stream", &self.stream)
            .field("bytes", &self.bytes)
            .finish()
    }
}
