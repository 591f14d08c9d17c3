//! Sending DATA: credit checks, encoding in place, frame limits.

use std::convert::Infallible;

use bytes::BytesMut;

use super::{Connection, Event, Phase, SEND_RESERVE};
use crate::codes::FrameType;
use crate::error::{SendError, StreamError};
use crate::frame;
use crate::stream_id::StreamId;

impl Connection {
    /// Queues `payload` as one DATA frame on `id` (one message, or one chunk
    /// of a byte stream).
    ///
    /// Fails with [`SendError::Blocked`] when the stream's credit is ≤ 0
    /// (retry after [`Event::Credit`](crate::Event::Credit) for `id`), [`SendError::TooLarge`] when
    /// the payload exceeds the peer's `MAX_FRAME_SIZE`, and
    /// [`SendError::Stream`] when we cannot send on `id`. Nothing is queued
    /// on failure.
    pub fn send_data(&mut self, id: StreamId, payload: &[u8]) -> Result<(), SendError> {
        self.check_send::<Infallible>(id)?;
        if payload.len() > self.peer_frame_limit() {
            return Err(self.too_large(id, payload.len()));
        }
        // The length is known: head and payload are appended as they are,
        // with none of the split and rejoin an in-place encode needs.
        frame::put_head(&mut self.transmit, FrameType::DATA, 0, id, payload.len());
        self.transmit.extend_from_slice(payload);
        self.account_data(id, payload.len());
        Ok(())
    }

    /// Counts a DATA payload of `len` bytes just queued on `id` against the
    /// stream's and the session's credit.
    fn account_data(&mut self, id: StreamId, len: usize) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.send.consume(len);
            if stream.kind.is_message() {
                self.counters.messages_out += 1;
            }
        }
        self.send_session.consume(len);
    }

    /// Encodes a DATA frame straight into the transmit buffer: writes the
    /// head, calls `f` with an empty buffer to append the payload to, then
    /// patches the length. If `f` fails or the payload exceeds the peer's
    /// `MAX_FRAME_SIZE`, the transmit buffer is rolled back and the error
    /// returned. Fails with [`SendError::Blocked`] before calling `f` when
    /// credit is ≤ 0.
    ///
    /// `f` sees only its own payload (not the frames queued before it).
    pub fn send_data_with<E>(
        &mut self,
        id: StreamId,
        f: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), SendError<E>> {
        self.check_send(id)?;
        let start = self.transmit.len();
        frame::put_head(&mut self.transmit, FrameType::DATA, 0, id, 0);
        self.transmit.reserve(SEND_RESERVE);
        let mut body = self.transmit.split_off(self.transmit.len());
        let result = f(&mut body);
        let len = body.len();
        self.transmit.unsplit(body);
        if let Err(e) = result {
            self.transmit.truncate(start);
            return Err(SendError::Encode(e));
        }
        let Ok(length) = u32::try_from(len) else {
            self.transmit.truncate(start);
            return Err(self.too_large(id, len));
        };
        if len > self.peer_frame_limit() {
            self.transmit.truncate(start);
            return Err(self.too_large(id, len));
        }
        if let Some(dst) = self.transmit.get_mut(start..start + 4) {
            dst.copy_from_slice(&length.to_be_bytes());
        }
        self.account_data(id, len);
        Ok(())
    }

    /// Whether a DATA frame may be sent on `id` now. If not, an
    /// [`Event::Credit`](crate::Event::Credit) for `id` is guaranteed to follow once it may, just
    /// as after a [`send_data`](Self::send_data) that failed with
    /// [`SendError::Blocked`]: a driver that checks before encoding need not
    /// encode a message only to have it refused.
    pub fn poll_send_ready(&mut self, id: StreamId) -> bool {
        let Some(stream) = self.streams.get_mut(&id) else {
            return false;
        };
        if !stream.we_send() || stream.is_closed() || !stream.can_send() {
            return false;
        }
        let ready = stream.send.can_send();
        if ready && self.may_send_data() {
            return true;
        }
        self.block(id);
        false
    }

    /// Whether `max_send_buffer` bytes wait unwritten: DATA is refused
    /// (`Blocked`) until the transmit buffer is taken.
    #[must_use]
    pub fn send_buffer_full(&self) -> bool {
        self.transmit.len() >= self.config.max_send_buffer
    }

    /// The largest DATA payload that may be sent now: the peer's
    /// `MAX_FRAME_SIZE`, or before its HELLO the assumed 1024 bytes.
    #[must_use]
    pub fn max_payload(&self) -> usize {
        self.peer_frame_limit()
    }

    /// Session credit left, and room in the send buffer: the conditions
    /// every stream's DATA shares.
    pub(super) fn may_send_data(&self) -> bool {
        self.send_session.can_send() && self.transmit.len() < self.config.max_send_buffer
    }

    /// Marks `id` blocked (an `Event::Credit` is owed), and notes whether it
    /// waits for the send buffer.
    fn block(&mut self, id: StreamId) {
        if self.transmit.len() >= self.config.max_send_buffer {
            self.buffer_blocked = true;
        }
        if let Some(stream) = self.streams.get_mut(&id) {
            if !stream.blocked {
                tracing::debug!(
                    stream = %id,
                    stream_credit = stream.send.can_send(),
                    session_credit = self.send_session.can_send(),
                    send_buffer_full = self.buffer_blocked,
                    "stream stalled: waiting for credit or room to send"
                );
            }
            stream.blocked = true;
        }
    }

    /// The send buffer was taken: streams that waited for room may go.
    pub(super) fn unblock_buffer(&mut self) {
        if std::mem::take(&mut self.buffer_blocked) {
            self.unblock_streams();
        }
    }

    /// Emits `Event::Credit` for every blocked stream that may send now
    /// (after session credit returned, the HELLO arrived, or the send
    /// buffer was taken).
    pub(super) fn unblock_streams(&mut self) {
        if !self.may_send_data() {
            return;
        }
        for (&id, stream) in &mut self.streams {
            if stream.blocked && stream.send.can_send() && stream.can_send() {
                stream.blocked = false;
                self.events.push_back(Event::Credit { id });
            }
        }
    }

    /// Our current credit on `id` (negative in overdraft); 0 if we do not
    /// send on `id` or it has ended.
    #[must_use]
    pub fn send_credit(&self, id: StreamId) -> i64 {
        self.streams
            .get(&id)
            .filter(|s| s.we_send() && s.can_send())
            .map_or(0, |s| s.send.get())
    }

    fn check_send<E>(&mut self, id: StreamId) -> Result<(), SendError<E>> {
        self.check_live()?;
        let Some(stream) = self.streams.get_mut(&id) else {
            self.ended_or_unknown(id)?;
            return Err(StreamError::Finished(id).into());
        };
        if !stream.we_send() {
            return Err(StreamError::NotSender(id).into());
        }
        if stream.is_closed() {
            return Err(StreamError::Finished(id).into());
        }
        if !stream.can_send() {
            return Err(StreamError::NotSender(id).into());
        }
        if !stream.send.can_send() || !self.may_send_data() {
            self.block(id);
            return Err(SendError::Blocked);
        }
        Ok(())
    }

    fn peer_frame_limit(&self) -> usize {
        usize::try_from(self.peer.max_frame_size).unwrap_or(usize::MAX)
    }

    /// Before the peer's HELLO the frame limit is only assumed: wait for
    /// `Ready` (an `Event::Credit` follows). After it, the limit is final.
    fn too_large<E>(&mut self, id: StreamId, len: usize) -> SendError<E> {
        if self.phase == Phase::Handshake {
            if let Some(stream) = self.streams.get_mut(&id) {
                stream.blocked = true;
            }
            SendError::Blocked
        } else {
            SendError::TooLarge {
                len,
                max: self.peer.max_frame_size,
            }
        }
    }
}
