//! Handling frames received from the peer.

use std::time::Instant;

use bytes::Bytes;

use super::stream::{State, Stream};
use super::{Connection, Event, Phase};
use crate::codes::{ErrorCode, FrameType, StreamKind};
use crate::config::PeerSettings;
use crate::error::{Error, Violation};
use crate::frame::{
    self, Close, Credit, Data, Frame, GoAway, Head, Hello, Open, Ping, Reset, VERSION,
};
use crate::stream_id::StreamId;

impl Connection {
    /// Handles one complete frame. An `Err` is fatal; the caller fails the
    /// session with it.
    pub(super) fn handle_frame(
        &mut self,
        now: Instant,
        head: Head,
        payload: Bytes,
    ) -> Result<(), Error> {
        if self.phase == Phase::Handshake {
            if head.frame_type != FrameType::HELLO {
                return Err(Violation::ExpectedHello(head.frame_type).into());
            }
            head.check_stream()?;
            let hello = Hello::load(&head, &payload).map_err(|e| match e {
                frame::Error::UnsupportedVersion { version } => Error::VersionMismatch {
                    local: VERSION,
                    peer: version,
                },
                e => e.into(),
            })?;
            return self.on_hello(hello);
        }
        let frame = Frame::decode(&head, payload)?;
        tracing::trace!(frame_type = %head.frame_type, stream = %head.stream, length = head.length, "recv");
        match frame {
            Frame::Hello(_) => Err(Violation::DuplicateHello.into()),
            Frame::Open(f) => self.on_open(f),
            Frame::Data(f) => self.on_data(f),
            Frame::Credit(f) => self.on_credit(f),
            Frame::Close(f) => self.on_close(f),
            Frame::Reset(f) => self.on_reset(f),
            Frame::Ping(f) => {
                self.on_ping(now, f);
                Ok(())
            }
            Frame::GoAway(f) => self.on_goaway(now, f),
            Frame::Unknown(f) => {
                tracing::trace!(frame_type = %f.frame_type, "skipping unknown frame type");
                Ok(())
            }
        }
    }

    fn on_hello(&mut self, hello: Hello) -> Result<(), Error> {
        if hello.role == self.role {
            return Err(Error::RoleConflict(self.role));
        }
        let peer = PeerSettings::from_hello(&hello.settings)?;
        let (dialer, acceptor) = match self.role {
            crate::Role::Dialer => (&self.config.codecs, &hello.codecs),
            crate::Role::Acceptor => (&hello.codecs, &self.config.codecs),
        };
        let codec = select_codec(dialer, acceptor).ok_or_else(|| Error::CodecMismatch {
            dialer: dialer.clone(),
            acceptor: acceptor.clone(),
        })?;
        tracing::debug!(%codec, ?peer, "handshake done");
        // Streams we opened before the HELLO assumed the minimum window:
        // give them the difference, as HTTP/2 does for SETTINGS changes.
        let delta = peer
            .initial_window
            .saturating_sub(PeerSettings::ASSUMED.initial_window);
        let session_delta = peer
            .session_window
            .saturating_sub(PeerSettings::ASSUMED.session_window);
        // Cannot fail: the session window is at most 2^62.
        let _ = self.send_session.grant(session_delta);
        self.peer = peer;
        self.codec = Some(codec.clone());
        self.phase = Phase::Ready;
        self.timers.stop(super::Timer::Handshake);
        self.events.push_back(Event::Ready { codec, peer });
        for stream in self.streams.values_mut() {
            if !stream.we_send() {
                continue;
            }
            // Cannot fail: credit stays at most the peer's window (<= 2^62).
            let _ = stream.send.grant(delta);
        }
        self.unblock_streams();
        Ok(())
    }

    fn on_open(&mut self, f: Open) -> Result<(), Error> {
        let id = f.stream;
        if self.is_local_id(id) {
            return Err(Violation::OpenWrongParity(id).into());
        }
        if id.0 <= self.highest_peer {
            return Err(Violation::StreamIdNotIncreasing {
                id,
                highest: StreamId(self.highest_peer),
            }
            .into());
        }
        self.highest_peer = id.0;
        if f.top_level && self.goaway_received {
            return Err(Violation::OpenAfterGoAway(id).into());
        }
        // What the frame asks for must make sense before any limit is
        // weighed: these are the peer's errors whatever our state.
        if f.top_level && f.kind != StreamKind::OpenerSends {
            return Err(Violation::TopLevelKind { id, kind: f.kind }.into());
        }
        if f.kind == StreamKind::Fd && self.config.max_pending_fds == 0 {
            return Err(Violation::FdNotAccepted(id).into());
        }
        if f.top_level && self.goaway_sent {
            // Crossed our GOAWAY: the opener learns it was not accepted.
            self.refuse(id, "the session is closing (GOAWAY sent)");
            return Ok(());
        }
        // A descriptor stream is finished from its OPEN on: it counts
        // against MAX_PENDING_FDS and MAX_PENDING_OPENS, not MAX_STREAMS.
        if f.kind != StreamKind::Fd && self.remote_open >= self.config.max_streams {
            self.refuse(id, "too many open streams (MAX_STREAMS)");
            return Ok(());
        }
        if f.kind == StreamKind::Fd && self.pending_fds >= self.config.max_pending_fds {
            self.refuse(id, "too many unclaimed file descriptors (MAX_PENDING_FDS)");
            self.events.push_back(Event::FdRefused { id });
            return Ok(());
        }
        if !f.top_level && self.pending >= self.config.max_pending_opens {
            self.refuse(id, "too many unclaimed attachments (MAX_PENDING_OPENS)");
            if f.kind == StreamKind::Fd {
                self.events.push_back(Event::FdRefused { id });
            }
            return Ok(());
        }
        let stream = Stream::new(
            f.kind,
            false,
            f.top_level,
            self.peer.initial_window,
            self.config.initial_window,
        );
        if stream.pending {
            self.pending += 1;
            if f.kind == StreamKind::Fd {
                self.pending_fds += 1;
            }
        }
        self.streams.insert(id, stream);
        self.remote_open += 1;
        tracing::debug!(stream = %id, kind = ?f.kind, top_level = f.top_level, "peer opened stream");
        self.events.push_back(Event::Opened {
            id,
            kind: f.kind,
            top_level: f.top_level,
        });
        // A descriptor stream carries no data: it has ended already, and
        // waits only for its claim.
        self.settle(id);
        Ok(())
    }

    fn refuse(&mut self, id: StreamId, reason: &str) {
        tracing::debug!(stream = %id, reason, "refusing stream");
        Reset {
            stream: id,
            code: ErrorCode::REFUSED,
            reason: reason.to_owned(),
        }
        .encode(&mut self.transmit);
    }

    /// The stream `id` if it is live; `None` if it has ended (frames for it
    /// are ignored: they can race with our RESET); an error if it was never
    /// opened.
    fn live_stream(
        &mut self,
        frame_type: FrameType,
        id: StreamId,
    ) -> Result<Option<&mut Stream>, Error> {
        let opened = if self.is_local_id(id) {
            id.0 < self.next_local
        } else {
            id.0 <= self.highest_peer
        };
        if !opened {
            return Err(Violation::UnknownStream { frame_type, id }.into());
        }
        let stream = self.streams.get_mut(&id).filter(|s| !s.is_closed());
        if stream.is_none() {
            tracing::trace!(%frame_type, %id, "ignoring frame for ended stream");
        }
        Ok(stream)
    }

    fn on_data(&mut self, f: Data) -> Result<(), Error> {
        let id = f.stream;
        let max_frame_size = self.config.max_frame_size;
        let len = f.payload.len();
        let Some(stream) = self.live_stream(FrameType::DATA, id)? else {
            // The sender spent session credit on it: account and return it
            // at once, so frames racing our RESET cannot shrink the window.
            self.on_session_data(len)?;
            self.consumed_session(len);
            return Ok(());
        };
        check_peer_sending(stream, FrameType::DATA, id)?;
        stream
            .recv
            .on_data(f.payload.len(), max_frame_size)
            .map_err(|o| Violation::FlowControl {
                id,
                outstanding: o.outstanding,
                limit: o.limit,
            })?;
        let is_message = stream.kind.is_message();
        self.on_session_data(len)?;
        if is_message {
            self.counters.messages_in += 1;
        }
        self.events.push_back(Event::Data {
            id,
            payload: f.payload,
        });
        Ok(())
    }

    /// Accounts `len` received DATA bytes against the session window.
    fn on_session_data(&mut self, len: usize) -> Result<(), Error> {
        self.recv_session
            .on_data(len, self.config.max_frame_size)
            .map_err(|o| {
                Violation::FlowControl {
                    id: StreamId(0),
                    outstanding: o.outstanding,
                    limit: o.limit,
                }
                .into()
            })
    }

    fn on_credit(&mut self, f: Credit) -> Result<(), Error> {
        let id = f.stream;
        if id.is_session() {
            let unblocked = self
                .send_session
                .grant(u64::from(f.increment))
                .map_err(|()| Violation::CreditOverflow(id))?;
            if unblocked {
                self.unblock_streams();
            }
            return Ok(());
        }
        let may_send = self.may_send_data();
        let Some(stream) = self.live_stream(FrameType::CREDIT, id)? else {
            return Ok(());
        };
        if !stream.we_send() {
            return Err(Violation::WrongDirection {
                frame_type: FrameType::CREDIT,
                id,
            }
            .into());
        }
        if !stream.can_send() {
            // We closed our half; credit in flight is moot.
            return Ok(());
        }
        stream
            .send
            .grant(u64::from(f.increment))
            .map_err(|()| Violation::CreditOverflow(id))?;
        if stream.blocked && stream.send.can_send() && may_send {
            stream.blocked = false;
            self.events.push_back(Event::Credit { id });
        }
        Ok(())
    }

    fn on_close(&mut self, f: Close) -> Result<(), Error> {
        let id = f.stream;
        let Some(stream) = self.live_stream(FrameType::CLOSE, id)? else {
            return Ok(());
        };
        check_peer_sending(stream, FrameType::CLOSE, id)?;
        stream.recv_close();
        tracing::debug!(stream = %id, "peer closed stream");
        self.events.push_back(Event::Closed { id });
        self.settle(id);
        Ok(())
    }

    fn on_reset(&mut self, f: Reset) -> Result<(), Error> {
        let id = f.stream;
        let Some(stream) = self.live_stream(FrameType::RESET, id)? else {
            return Ok(());
        };
        stream.state = State::Closed;
        tracing::debug!(stream = %id, code = %f.code, reason = %f.reason, "peer reset stream");
        self.events.push_back(Event::Reset {
            id,
            code: f.code,
            reason: f.reason,
        });
        self.settle(id);
        Ok(())
    }

    fn on_ping(&mut self, now: Instant, f: Ping) {
        if f.ack {
            if let Some((payload, sent)) = self.last_ping {
                if payload == f.payload {
                    self.last_ping = None;
                    self.events.push_back(Event::PingAck {
                        rtt: now.saturating_duration_since(sent),
                    });
                }
            }
            return;
        }
        if self.ack_queued {
            tracing::trace!("PING ACK already queued; coalescing");
            return;
        }
        self.ack_queued = true;
        Ping {
            ack: true,
            payload: f.payload,
        }
        .encode(&mut self.transmit);
    }

    fn on_goaway(&mut self, now: Instant, f: GoAway) -> Result<(), Error> {
        if f.code != ErrorCode::NO_ERROR {
            return Err(Error::Remote {
                code: f.code,
                reason: f.reason,
            });
        }
        self.on_peer_goaway(now, f.reason);
        Ok(())
    }
}

/// DATA and CLOSE may come only from a data sender whose half is open.
fn check_peer_sending(
    stream: &Stream,
    frame_type: FrameType,
    id: StreamId,
) -> Result<(), Violation> {
    if !stream.peer_sends() {
        return Err(Violation::WrongDirection { frame_type, id });
    }
    if !stream.peer_can_send() {
        return Err(Violation::AfterClose { frame_type, id });
    }
    Ok(())
}

/// The codec both sides pick: the first of the dialer's codecs that the
/// acceptor also offers.
pub(crate) fn select_codec(dialer: &[String], acceptor: &[String]) -> Option<String> {
    dialer.iter().find(|c| acceptor.contains(c)).cloned()
}

#[cfg(test)]
mod tests {
    use super::select_codec;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn codec_is_the_dialers_first_common_choice() {
        assert_eq!(
            select_codec(&v(&["msgpack", "json"]), &v(&["json", "msgpack"])),
            Some("msgpack".into())
        );
        assert_eq!(
            select_codec(&v(&["xml", "json"]), &v(&["json"])),
            Some("json".into())
        );
        assert_eq!(select_codec(&v(&["xml"]), &v(&["json"])), None);
        assert_eq!(select_codec(&v(&[]), &v(&["json"])), None);
    }
}
