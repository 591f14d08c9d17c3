//! What the session reports to its driver.

use std::time::Duration;

use bytes::Bytes;

use crate::codes::{ErrorCode, StreamKind};
use crate::config::PeerSettings;
use crate::error::Error;
use crate::stream_id::StreamId;

/// Something the driver must act on; drained with
/// [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's HELLO arrived and the handshake succeeded. Frames may have
    /// been sent before this (no round trip is needed).
    Ready {
        /// The codec both sides computed: the first of the dialer's codecs
        /// that the acceptor also offers.
        codec: String,
        /// The limits the peer announced.
        peer: PeerSettings,
    },
    /// The peer opened a stream. Top-level streams go to the accept queue;
    /// nested ones (`top_level: false`) wait until a decoded message
    /// references them and the driver calls
    /// [`Connection::claim`](crate::Connection::claim). Events for a nested stream
    /// can arrive before the message that references it.
    Opened {
        /// The new stream.
        id: StreamId,
        /// What it carries.
        kind: StreamKind,
        /// Whether it is top-level.
        top_level: bool,
    },
    /// The peer's OPEN of a descriptor stream was refused (too many
    /// unclaimed). The descriptor that came with it must be taken from the
    /// received ones and closed, as for an accepted one it is attached.
    FdRefused {
        /// The refused stream.
        id: StreamId,
    },
    /// A DATA payload: one message on a channel, a chunk on a byte stream.
    /// Call [`Connection::consumed`](crate::Connection::consumed) once the
    /// application has taken it, so the peer gets credit back.
    Data {
        /// The stream.
        id: StreamId,
        /// The payload, split off the receive buffer.
        payload: Bytes,
    },
    /// A send on `id` that failed with `SendError::Blocked` may now succeed
    /// (credit arrived, or the handshake lifted the pre-HELLO limits).
    Credit {
        /// The stream.
        id: StreamId,
    },
    /// The peer sent CLOSE: no more data will arrive on `id` (clean end).
    Closed {
        /// The stream.
        id: StreamId,
    },
    /// The peer reset `id`: from a data sender "the channel broke", from a
    /// data receiver "stop sending". Nothing more can be sent or received.
    Reset {
        /// The stream.
        id: StreamId,
        /// The peer's code.
        code: ErrorCode,
        /// The peer's reason.
        reason: String,
    },
    /// The peer answered our latest [`Connection::ping`](crate::Connection::ping)
    /// (or keepalive probe).
    PingAck {
        /// Time since that PING was queued.
        rtt: Duration,
    },
    /// The peer is closing the session gracefully (GOAWAY with `NO_ERROR`):
    /// no new top-level streams either way; open streams carry on, and our
    /// own GOAWAY was queued in answer if we had not sent one.
    /// [`Event::Drained`] follows once nothing is open.
    GoAway {
        /// The peer's reason.
        reason: String,
    },
    /// The graceful close finished: both sides said GOAWAY and no stream is
    /// open. The session has ended cleanly; write out
    /// [`Connection::poll_transmit`](crate::Connection::poll_transmit), shut the
    /// connection's write half down and read until the peer's
    /// end-of-stream (so our last frames are not lost to a reset), then
    /// close. No more events follow.
    Drained,
    /// The session failed; no more events follow. Unless the error is
    /// [`Error::Remote`], a GOAWAY carrying its code was queued: write out
    /// [`Connection::poll_transmit`](crate::Connection::poll_transmit), then close.
    Failed(Error),
}
