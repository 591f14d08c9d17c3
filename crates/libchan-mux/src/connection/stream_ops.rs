//! What the application does to its streams: open, claim, consume (credit
//! back to the peer), close and reset.

use super::*;

impl Connection {
    /// Opens a stream of `kind` and queues its OPEN; data may follow at once
    /// (no round trip). `top_level` streams land in the peer's accept queue;
    /// others are nested attachments that a following message on another
    /// stream must reference (queue that message after this call: the OPEN
    /// then precedes it on the wire).
    ///
    /// Fails if the session has ended, if it is closing and `top_level` is
    /// set ([`StreamError::Closing`]), or if the peer's `MAX_STREAMS` is
    /// reached (known once its HELLO has arrived; before that the peer
    /// refuses excess streams with RESET `REFUSED`).
    pub fn open(&mut self, kind: StreamKind, top_level: bool) -> Result<StreamId, StreamError> {
        self.check_live()?;
        if top_level && self.is_closing() {
            return Err(StreamError::Closing);
        }
        if top_level && kind != StreamKind::OpenerSends {
            return Err(StreamError::TopLevelKind(kind));
        }
        if kind == StreamKind::Fd && self.peer.max_pending_fds == 0 {
            return Err(StreamError::FdsNotAccepted);
        }
        if self.local_open >= self.peer.max_streams {
            return Err(StreamError::StreamLimit {
                max: self.peer.max_streams,
            });
        }
        let id = StreamId(self.next_local);
        self.next_local = self
            .next_local
            .checked_add(2)
            .ok_or(StreamError::IdsExhausted)?;
        let stream = Stream::new(
            kind,
            true,
            top_level,
            self.peer.initial_window,
            self.config.initial_window,
        );
        self.streams.insert(id, stream);
        self.local_open += 1;
        Open {
            stream: id,
            kind,
            top_level,
        }
        .encode(&mut self.transmit);
        tracing::debug!(stream = %id, ?kind, top_level, "stream opened");
        // A descriptor stream is finished as soon as it is announced.
        self.settle(id);
        Ok(id)
    }

    /// The application consumed `n` bytes received on `id`: returns them to
    /// the stream's window. Once half a window has accumulated, a CREDIT is
    /// queued. Ignored for streams that have ended; `n` is clamped to what
    /// was received and not yet consumed. Report the same bytes to
    /// [`consumed_session`](Self::consumed_session) too (the two may be
    /// batched differently).
    pub fn consumed(&mut self, id: StreamId, n: usize) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if !stream.peer_sends() || !stream.peer_can_send() || self.phase == Phase::Ended {
            return;
        }
        if let Some(increment) = stream.recv.consumed(u64::try_from(n).unwrap_or(u64::MAX)) {
            self.queue_credit(id, increment);
        }
    }

    /// The application consumed `n` bytes of DATA (on any stream): returns
    /// them to the session window. Once half the window has accumulated, a
    /// CREDIT on stream 0 is queued. `n` is clamped to what was received
    /// and not yet consumed.
    pub fn consumed_session(&mut self, n: usize) {
        if self.phase == Phase::Ended {
            return;
        }
        if let Some(increment) = self
            .recv_session
            .consumed(u64::try_from(n).unwrap_or(u64::MAX))
        {
            self.queue_credit(StreamId(0), increment);
        }
    }

    fn queue_credit(&mut self, id: StreamId, mut increment: u64) {
        while increment > 0 {
            let chunk = u32::try_from(increment).unwrap_or(u32::MAX);
            Credit {
                stream: id,
                increment: chunk,
            }
            .encode(&mut self.transmit);
            increment -= u64::from(chunk);
        }
    }

    /// A decoded message referenced `id`, a nested stream the peer opened:
    /// marks it claimed (it no longer counts against `MAX_PENDING_OPENS`)
    /// and returns its kind. The stream may already have ended (its events
    /// were delivered before the message); it is then released. Works after
    /// the session ended too: messages received before the end may still be
    /// decoded.
    ///
    /// Fails with [`StreamError::UnknownReference`] (the peer's fault: reset
    /// the referencing stream with `UNKNOWN_REFERENCE`) if `id` is not an
    /// unclaimed nested stream opened by the peer.
    pub fn claim(&mut self, id: StreamId) -> Result<StreamKind, StreamError> {
        match self.streams.get_mut(&id) {
            Some(stream) if stream.pending => {
                stream.pending = false;
                self.pending -= 1;
                let kind = stream.kind;
                if kind == StreamKind::Fd {
                    self.pending_fds -= 1;
                }
                self.settle(id);
                Ok(kind)
            }
            _ => Err(StreamError::UnknownReference(id)),
        }
    }

    /// Queues CLOSE on `id`: we send no more data on it (clean end of our
    /// sending half). A no-op if the stream has already ended or our half is
    /// already closed. Fails if we never send on `id`.
    pub fn close(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check_live()?;
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.ended_or_unknown(id);
        };
        if !stream.we_send() {
            return Err(StreamError::NotSender(id));
        }
        if !stream.can_send() {
            return Ok(());
        }
        stream.send_close();
        Close { stream: id }.encode(&mut self.transmit);
        tracing::debug!(stream = %id, "stream closed (CLOSE sent)");
        self.settle(id);
        Ok(())
    }

    /// Queues RESET on `id` with `code` and `reason` (cut to 256 bytes) and
    /// forgets the stream. From a data sender it says "the channel broke",
    /// from a data receiver "stop sending" (use [`ErrorCode::CANCEL`]).
    /// Also releases an unclaimed nested stream. A no-op for streams that
    /// have ended and for unknown ids.
    pub fn reset(&mut self, id: StreamId, code: ErrorCode, reason: &str) {
        if self.phase == Phase::Ended {
            return;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        tracing::debug!(stream = %id, %code, reason, "stream reset (RESET sent)");
        if stream.pending {
            stream.pending = false;
            self.pending -= 1;
            if stream.kind == StreamKind::Fd {
                self.pending_fds -= 1;
            }
        }
        if !stream.is_closed() {
            stream.state = stream::State::Closed;
            Reset {
                stream: id,
                code,
                reason: frame::truncate_reason(reason).to_owned(),
            }
            .encode(&mut self.transmit);
        }
        self.settle(id);
    }
}
