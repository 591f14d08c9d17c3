//! One connection's protocol state (a libchan session on the wire), as a pure
//! state machine.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::codes::{ErrorCode, Role, StreamKind};
use crate::config::{Limits, PeerSettings};
use crate::error::{ConfigError, Error, StreamError};
use crate::frame::{self, Close, Credit, Hello, Open, Ping, Reset, HELLO_MAX_LEN, MAGIC, VERSION};
use crate::stream_id::StreamId;

mod close;
mod counters;
mod event;
mod flow;
mod input;
mod recv;
mod send;
mod stream;
mod stream_ops;
mod timer;

pub use counters::Counters;
pub use event::Event;
pub use flow::MAX_CREDIT;
pub use input::SMALL_PAYLOAD;

use flow::{RecvWindow, SendCredit};
use input::Deframer;
use stream::Stream;
use timer::{Timer, TimerTable};

/// Room reserved in the transmit buffer before handing it to a
/// `send_data_with` closure, so small messages are encoded in place.
const SEND_RESERVE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the peer's HELLO (we may already send).
    Handshake,
    /// HELLO exchanged.
    Ready,
    /// Drained after GOAWAYs both ways, aborted, or failed: no more input
    /// is processed and nothing more is sent.
    Ended,
}

/// One libchan connection, as a sans-IO state machine (model: quinn-proto's
/// `Connection`). It never reads a clock or touches a socket: the driver
/// feeds it bytes and time, and moves the bytes it produces.
///
/// # Call order
///
/// 1. [`Connection::new`] queues the magic and our HELLO. Write
///    [`poll_transmit`](Self::poll_transmit) out at once: neither side waits
///    for the other before sending.
/// 2. Then, in a loop, whatever happens first:
///    * bytes read from the connection → [`handle_input`](Self::handle_input)
///      (any split of the stream is fine);
///    * the deadline from [`poll_timeout`](Self::poll_timeout) passed →
///      [`handle_timeout`](Self::handle_timeout);
///    * application calls: [`open`](Self::open), [`send_data`](Self::send_data),
///      [`consumed`](Self::consumed), [`claim`](Self::claim),
///      [`close`](Self::close), [`reset`](Self::reset), [`ping`](Self::ping),
///      [`goaway`](Self::goaway).
///
///    After each, drain [`poll_event`](Self::poll_event) until `None`, write
///    out [`poll_transmit`](Self::poll_transmit), and re-read
///    [`poll_timeout`](Self::poll_timeout).
/// 3. Ending. [`goaway`](Self::goaway) with `NO_ERROR`, or the peer's
///    GOAWAY ([`Event::GoAway`]), starts a graceful close: no new top-level
///    streams either way, open streams carry on, and once both GOAWAYs are
///    exchanged and no stream is open the session emits [`Event::Drained`]
///    and ends. Write out what `poll_transmit` still holds, shut the
///    connection's write half down, read until the peer's end-of-stream,
///    then close. After [`Event::Failed`] or [`goaway`](Self::goaway) with
///    an error code, write out `poll_transmit` and close the connection;
///    further input is ignored.
///
/// # Memory
///
/// Inbound, at most one frame of `max_frame_size` is buffered by the
/// session, and the application holds at most the session window (plus one
/// frame) of received, unconsumed DATA. Outbound, DATA waits (`Blocked`)
/// while `max_send_buffer` bytes are queued unwritten. Control replies are
/// not bounded by either: a driver should stop reading input while
/// [`transmit_len`](Self::transmit_len) is large (the peer is not reading),
/// so a peer cannot make us queue replies without bound. Unflushed PING
/// replies are coalesced to one.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Limits,
    phase: Phase,
    deframer: Deframer,
    transmit: BytesMut,
    events: VecDeque<Event>,
    /// Bytes and messages moved so far.
    counters: Counters,
    streams: BTreeMap<StreamId, Stream>,
    /// The next id we allocate.
    next_local: u64,
    /// The highest id the peer has OPENed (0: none yet).
    highest_peer: u64,
    /// Open (not yet closed) streams we opened / the peer opened.
    local_open: u64,
    remote_open: u64,
    /// Peer-opened nested streams not yet claimed.
    pending: u64,
    /// Of those, descriptor streams (each holds a received descriptor).
    pending_fds: u64,
    /// The peer's limits ([`PeerSettings::ASSUMED`] until its HELLO).
    peer: PeerSettings,
    codec: Option<String>,
    timers: TimerTable,
    /// A keepalive PING went out and nothing arrived since.
    keepalive_probe: bool,
    ping_seq: u64,
    /// Payload and send time of our latest PING.
    last_ping: Option<([u8; 8], Instant)>,
    /// A PING ACK is in the transmit buffer and not yet taken.
    ack_queued: bool,
    /// We sent GOAWAY `NO_ERROR`: closing gracefully.
    goaway_sent: bool,
    /// The peer sent GOAWAY `NO_ERROR`.
    goaway_received: bool,
    /// Our session credit (what the peer's `SESSION_WINDOW` lets us send).
    send_session: SendCredit,
    /// The peer's session credit, as we account it.
    recv_session: RecvWindow,
    /// A send was refused because the send buffer was full: once it is
    /// taken, blocked streams get `Event::Credit`.
    buffer_blocked: bool,
    error: Option<Error>,
}

impl Connection {
    /// A session for one side of a fresh connection, with the magic and our
    /// HELLO already queued, and the handshake and keepalive timers armed
    /// from `now`.
    pub fn new(role: Role, config: Limits, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut session = Self {
            role,
            phase: Phase::Handshake,
            deframer: Deframer::new(),
            transmit: BytesMut::with_capacity(SEND_RESERVE),
            events: VecDeque::new(),
            counters: Counters::default(),
            streams: BTreeMap::new(),
            next_local: StreamId::first(role).0,
            highest_peer: 0,
            local_open: 0,
            remote_open: 0,
            pending: 0,
            pending_fds: 0,
            peer: PeerSettings::ASSUMED,
            codec: None,
            timers: TimerTable::default(),
            keepalive_probe: false,
            ping_seq: 0,
            last_ping: None,
            ack_queued: false,
            goaway_sent: false,
            goaway_received: false,
            send_session: SendCredit::new(PeerSettings::ASSUMED.session_window),
            recv_session: RecvWindow::new(config.session_window),
            buffer_blocked: false,
            error: None,
            config,
        };
        session.transmit.extend_from_slice(&MAGIC);
        Hello {
            version: VERSION,
            role,
            codecs: session.config.codecs.clone(),
            settings: session.config.settings(),
        }
        .encode(&mut session.transmit);
        session
            .timers
            .set(Timer::Handshake, now + session.config.handshake_timeout);
        session.arm_keepalive(now);
        Ok(session)
    }

    /// Gives back the buffer of a DATA payload of at least
    /// [`SMALL_PAYLOAD`] bytes that nothing holds any more (a driver that
    /// decoded the message and dropped it gets it from
    /// `Bytes::try_into_mut`): the next large payload that fits it is
    /// read into it instead of a new allocation. Optional; at most one is
    /// kept.
    pub fn recycle_payload(&mut self, buf: BytesMut) {
        self.deframer.recycle(buf);
    }

    /// Feeds bytes read from the connection; any split is fine.
    ///
    /// On a fatal error (malformed bytes, a protocol violation, a failed
    /// handshake, a GOAWAY with an error code) the session queues a GOAWAY
    /// (unless the peer sent one), emits [`Event::Failed`], returns the
    /// error, and from then on returns the same error without reading
    /// input. After a clean end (GOAWAY either way) input is ignored.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.phase == Phase::Ended || bytes.is_empty() {
            return Ok(());
        }
        self.keepalive_probe = false;
        self.arm_keepalive(now);
        self.counters.bytes_in += bytes.len() as u64;
        let mut input = bytes;
        loop {
            let limit = match self.phase {
                Phase::Handshake => HELLO_MAX_LEN,
                _ => self.config.max_frame_size,
            };
            match self.deframer.poll(&mut input, limit) {
                Ok(Some((head, payload))) => {
                    if let Err(error) = self.handle_frame(now, head, payload) {
                        return Err(self.fail(error));
                    }
                    if self.phase == Phase::Ended {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(error) => return Err(self.fail(error)),
            }
        }
    }

    /// The next event, if any. Drain after every `handle_*` or API call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called;
    /// `None` when no timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Runs the timers due at `now`: a missing HELLO fails the session with
    /// [`Error::HandshakeTimeout`]; a quiet keepalive interval sends a PING,
    /// and a second one fails with [`Error::KeepaliveTimeout`]. Calling it
    /// early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Ended {
            return;
        }
        if self.timers.is_expired(Timer::Handshake, now) {
            self.fail(Error::HandshakeTimeout(self.config.handshake_timeout));
            return;
        }
        if self.timers.is_expired(Timer::Linger, now) {
            self.fail(Error::LingerTimeout {
                linger: self.config.linger,
                open: self.stream_count(),
            });
            return;
        }
        if self.timers.is_expired(Timer::Keepalive, now) {
            let Some(interval) = self.config.keepalive else {
                self.timers.stop(Timer::Keepalive);
                return;
            };
            if self.keepalive_probe {
                self.fail(Error::KeepaliveTimeout(interval));
                return;
            }
            tracing::trace!("keepalive: sending PING");
            self.ping(now);
            self.keepalive_probe = true;
            self.timers.set(Timer::Keepalive, now + interval);
        }
    }

    /// Takes every byte queued for the connection (frames are batched), or
    /// `None` if there are none. Write all of it, in order, before the next
    /// call's bytes.
    ///
    /// The buffer is split off, not copied; once the driver drops the
    /// returned `Bytes`, its memory is reused, so steady state does not
    /// allocate.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.transmit.is_empty() {
            return None;
        }
        self.ack_queued = false;
        let taken = self.transmit.split().freeze();
        self.unblock_buffer();
        Some(taken)
    }

    /// Like [`poll_transmit`](Self::poll_transmit), but hands the queued
    /// bytes over by swapping buffers: `out` (which must be empty) becomes
    /// the transmit buffer and the queued bytes land in `out`. A driver that
    /// clears `out` after writing it and passes it back reuses two buffers
    /// forever, even while frames are queued during its write. Returns
    /// whether there was anything to take.
    pub fn poll_transmit_into(&mut self, out: &mut BytesMut) -> bool {
        if self.transmit.is_empty() {
            return false;
        }
        debug_assert!(out.is_empty(), "the spare buffer is handed back empty");
        out.clear();
        self.ack_queued = false;
        std::mem::swap(&mut self.transmit, out);
        self.counters.bytes_out += out.len() as u64;
        self.unblock_buffer();
        true
    }

    /// What the session has moved so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Bytes queued for the connection and not yet taken.
    #[must_use]
    pub fn transmit_len(&self) -> usize {
        self.transmit.len()
    }

    /// Queues a PING; the reply produces [`Event::PingAck`] with the round
    /// trip time measured from `now`.
    pub fn ping(&mut self, now: Instant) {
        if self.phase == Phase::Ended {
            return;
        }
        self.ping_seq = self.ping_seq.wrapping_add(1);
        let payload = self.ping_seq.to_be_bytes();
        self.last_ping = Some((payload, now));
        Ping {
            ack: false,
            payload,
        }
        .encode(&mut self.transmit);
    }

    /// The negotiated codec, once the handshake is done.
    #[must_use]
    pub fn codec(&self) -> Option<&str> {
        self.codec.as_deref()
    }

    /// The peer's limits, once the handshake is done.
    #[must_use]
    pub fn peer_settings(&self) -> Option<&PeerSettings> {
        self.codec.as_ref().map(|_| &self.peer)
    }

    /// Our role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the session has ended (GOAWAY sent or received, or failed).
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Streams open now, opened by either side (a stream stops counting
    /// when both its sending halves have ended).
    #[must_use]
    pub fn stream_count(&self) -> usize {
        usize::try_from(self.local_open.saturating_add(self.remote_open)).unwrap_or(usize::MAX)
    }

    /// DATA bytes received and not yet reported consumed: the part of the
    /// session window in use (at most `session_window` + one frame).
    #[must_use]
    pub fn session_buffered(&self) -> u64 {
        self.recv_session.buffered()
    }

    /// Whether the peer accepts passed file descriptors (its HELLO
    /// announced `MAX_PENDING_FDS` > 0); false before its HELLO.
    #[must_use]
    pub fn peer_accepts_fds(&self) -> bool {
        self.peer.max_pending_fds > 0
    }

    /// The most descriptors one message may pass to the peer: what it holds
    /// unclaimed at most (0 before its HELLO, or if it cannot receive any).
    #[must_use]
    pub fn peer_max_fds(&self) -> u64 {
        self.peer.max_pending_fds
    }

    /// Peer-opened nested streams not yet claimed.
    #[must_use]
    pub fn pending_count(&self) -> usize {
        usize::try_from(self.pending).unwrap_or(usize::MAX)
    }

    // ---- internals shared with recv.rs ----

    fn check_live(&self) -> Result<(), StreamError> {
        if self.phase == Phase::Ended {
            Err(StreamError::SessionEnded)
        } else {
            Ok(())
        }
    }

    fn is_local_id(&self, id: StreamId) -> bool {
        id.opener() == self.role
    }

    /// For an id with no stream entry: ended (no-op) or never opened.
    fn ended_or_unknown(&self, id: StreamId) -> Result<(), StreamError> {
        let opened = if self.is_local_id(id) {
            id.0 < self.next_local
        } else {
            id.0 <= self.highest_peer
        };
        if opened && !id.is_session() {
            Ok(())
        } else {
            Err(StreamError::UnknownStream(id))
        }
    }

    /// Updates counters after `id` may have reached `Closed`, and forgets it
    /// unless it is still pending a claim.
    fn settle(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if !stream.is_closed() {
            return;
        }
        if stream.counted {
            stream.counted = false;
            if stream.local {
                self.local_open -= 1;
            } else {
                self.remote_open -= 1;
            }
        }
        if !stream.pending {
            self.streams.remove(&id);
        }
        self.check_drained();
    }

    fn arm_keepalive(&mut self, now: Instant) {
        if let Some(interval) = self.config.keepalive {
            self.timers.set(Timer::Keepalive, now + interval);
        }
    }
}

#[cfg(test)]
impl Connection {
    /// Sets our send credit on `id` (to reach limits without 2^30 frames).
    pub(crate) fn set_send_credit_for_test(&mut self, id: StreamId, credit: i64) {
        let stream = self.streams.get_mut(&id).expect("test stream exists");
        stream.send = flow::SendCredit::new(0);
        let _ = stream
            .send
            .grant(u64::try_from(credit).expect("non-negative"));
    }

    /// Accounts `n` received bytes on `id` as if DATA had arrived.
    pub(crate) fn receive_for_test(&mut self, id: StreamId, n: u64) {
        let stream = self.streams.get_mut(&id).expect("test stream exists");
        stream
            .recv
            .on_data(usize::try_from(n).expect("fits"), u32::MAX)
            .expect("within window");
    }
}
