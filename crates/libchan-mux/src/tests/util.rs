//! The `Pair` harness (model: quinn-proto `src/tests/util.rs`): a dialer and
//! an acceptor `Connection` wired back to back in memory, a virtual clock, and
//! no runtime.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::frame::{Frame, MAGIC};
use crate::{Connection, Error, Event, Limits, Role};

/// One side of a [`Pair`].
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) session: Connection,
    /// Events polled from the session, oldest first.
    pub(crate) events: VecDeque<Event>,
    /// Errors `handle_input` returned.
    pub(crate) errors: Vec<Error>,
    /// Bytes the peer wrote that this side has not read yet.
    pub(crate) inbound: Vec<u8>,
    /// Every byte this side ever wrote.
    pub(crate) sent: Vec<u8>,
}

impl Side {
    fn new(role: Role, config: Limits, now: Instant) -> Self {
        Self {
            session: Connection::new(role, config, now).expect("valid test config"),
            events: VecDeque::new(),
            errors: Vec::new(),
            inbound: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn collect_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            self.events.push_back(event);
        }
    }

    /// Feeds bytes as if read from the connection; records events and errors.
    pub(crate) fn feed(&mut self, now: Instant, bytes: &[u8]) {
        if let Err(e) = self.session.handle_input(now, bytes) {
            self.errors.push(e);
        }
        self.collect_events();
    }

    /// Feeds one encoded frame (bypassing the peer's session).
    pub(crate) fn inject(&mut self, now: Instant, frame: impl Into<Frame>) {
        let mut buf = BytesMut::new();
        frame.into().encode(&mut buf);
        self.feed(now, &buf);
    }

    /// Takes everything queued for the connection.
    pub(crate) fn take_transmit(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.session.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        self.sent.extend_from_slice(&out);
        out
    }

    /// Drops the recorded events.
    pub(crate) fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Takes the oldest recorded event.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The single error this side reported, as `Event::Failed` and from
    /// `handle_input` (if it came from input).
    pub(crate) fn failure(&self) -> Option<&Error> {
        self.events.iter().find_map(|e| match e {
            Event::Failed(e) => Some(e),
            _ => None,
        })
    }
}

/// A dialer and an acceptor connected in memory.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) now: Instant,
    pub(crate) dialer: Side,
    pub(crate) acceptor: Side,
}

/// Codec list used by most tests.
pub(crate) fn config() -> Limits {
    Limits::new(["json"])
}

impl Pair {
    /// Two sessions with the given configs; nothing delivered yet.
    pub(crate) fn new(dialer: Limits, acceptor: Limits) -> Self {
        let now = Instant::now();
        Self {
            now,
            dialer: Side::new(Role::Dialer, dialer, now),
            acceptor: Side::new(Role::Acceptor, acceptor, now),
        }
    }

    /// Default configs, handshake done, `Ready` events cleared.
    pub(crate) fn connected() -> Self {
        Self::connected_with(config(), config())
    }

    /// The given configs, handshake done, `Ready` events cleared.
    pub(crate) fn connected_with(dialer: Limits, acceptor: Limits) -> Self {
        let mut pair = Self::new(dialer, acceptor);
        pair.drive();
        assert!(matches!(
            pair.dialer.next_event(),
            Some(Event::Ready { .. })
        ));
        assert!(matches!(
            pair.acceptor.next_event(),
            Some(Event::Ready { .. })
        ));
        pair
    }

    /// Moves every queued byte across once, in both directions. Returns
    /// whether anything moved.
    pub(crate) fn step(&mut self) -> bool {
        let to_acceptor = self.dialer.take_transmit();
        let to_dialer = self.acceptor.take_transmit();
        self.acceptor.inbound.extend_from_slice(&to_acceptor);
        self.dialer.inbound.extend_from_slice(&to_dialer);
        let mut moved = false;
        for side in [&mut self.dialer, &mut self.acceptor] {
            let bytes = std::mem::take(&mut side.inbound);
            if !bytes.is_empty() {
                moved = true;
                side.feed(self.now, &bytes);
            }
            side.collect_events();
        }
        moved
    }

    /// Steps until nothing moves.
    pub(crate) fn drive(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair did not go quiet in 1000 steps");
    }

    /// Advances virtual time by `d`, running both sessions' due timers (but
    /// not delivering anything).
    pub(crate) fn advance(&mut self, d: Duration) {
        self.now += d;
        for side in [&mut self.dialer, &mut self.acceptor] {
            side.session.handle_timeout(self.now);
            side.collect_events();
        }
    }
}

/// The preface (magic + HELLO) `role` would send with `config`.
pub(crate) fn preface(role: Role, config: Limits) -> Vec<u8> {
    let mut session = Connection::new(role, config, Instant::now()).expect("valid config");
    let bytes = session.poll_transmit().expect("preface queued");
    assert!(bytes.starts_with(&MAGIC));
    bytes.to_vec()
}

/// Decodes every frame in `bytes` (which may start with the magic).
pub(crate) fn frames(bytes: &[u8]) -> Vec<Frame> {
    let bytes = bytes.strip_prefix(&MAGIC[..]).unwrap_or(bytes);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(frame) = crate::frame::read_frame(&mut buf, u32::MAX).expect("valid frames") {
        out.push(frame);
    }
    assert!(buf.is_empty(), "trailing partial frame");
    out
}
