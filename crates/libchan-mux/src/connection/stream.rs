//! Per-stream state.
//!
//! A stream has up to two sending halves, ours and the peer's; its kind and
//! opener decide which exist. The state names which halves are still open
//! (h2's model):
//!
//! ```text
//!                        OPEN sent or received
//!                                 |
//!        both send (kind 2) ------+------ only one side sends (kind 0, 1)
//!                 |                               |
//!                 v                               |
//!               Open                              |
//!     send CLOSE /    \ recv CLOSE                |
//!               v      v                          |
//!   HalfClosedLocal  HalfClosedRemote  <----------+  (we send: HalfClosedRemote,
//!               \      /                             the peer sends: HalfClosedLocal)
//!     recv CLOSE \    / send CLOSE
//!                 v  v
//!                Closed   <---- RESET sent or received, from any state
//! ```
//!
//! A descriptor stream (kind 3) has no sending half at all: it is `Closed`
//! from its OPEN on, and lives only as a pending claim on the receiver.
//!
//! "Local"/"Remote" name whose sending half has ended. A stream that reaches
//! `Closed` is removed at once, unless it is a pending nested stream the
//! application has not claimed yet: then it stays (ended) until `claim`.

use crate::codes::StreamKind;

use super::flow::{RecvWindow, SendCredit};

/// Which sending halves of a stream are still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Both sides may still send DATA (byte streams only).
    Open,
    /// We sent CLOSE (or never send); the peer may still send.
    HalfClosedLocal,
    /// The peer sent CLOSE (or never sends); we may still send.
    HalfClosedRemote,
    /// Nobody sends any more: closed cleanly or reset.
    Closed,
}

/// One stream's state and flow control.
#[derive(Clone, Debug)]
pub(crate) struct Stream {
    /// What the stream carries.
    pub(crate) kind: StreamKind,
    /// Whether we opened it.
    pub(crate) local: bool,
    /// Which halves are open.
    pub(crate) state: State,
    /// Peer-opened nested stream not yet claimed by a decoded message.
    pub(crate) pending: bool,
    /// A send was refused with `Blocked`; an `Event::Credit` is owed.
    pub(crate) blocked: bool,
    /// Still counted among the session's open streams (until `Closed`).
    pub(crate) counted: bool,
    /// Our credit, if we send.
    pub(crate) send: SendCredit,
    /// Our window, if we receive.
    pub(crate) recv: RecvWindow,
}

impl Stream {
    /// A new stream. `send_window` is the peer's `INITIAL_WINDOW` (or the
    /// pre-HELLO assumption), `recv_window` ours.
    pub(crate) fn new(
        kind: StreamKind,
        local: bool,
        top_level: bool,
        send_window: u64,
        recv_window: u64,
    ) -> Self {
        let mut stream = Self {
            kind,
            local,
            state: State::Open,
            pending: !local && !top_level,
            blocked: false,
            counted: true,
            send: SendCredit::new(send_window),
            recv: RecvWindow::new(recv_window),
        };
        stream.state = match (stream.we_send(), stream.peer_sends()) {
            (true, true) => State::Open,
            (true, false) => State::HalfClosedRemote,
            (false, true) => State::HalfClosedLocal,
            (false, false) => State::Closed,
        };
        stream
    }

    /// Whether we are a data sender on this stream (by kind and opener).
    pub(crate) fn we_send(&self) -> bool {
        if self.local {
            self.kind.opener_sends()
        } else {
            self.kind.acceptor_sends()
        }
    }

    /// Whether the peer is a data sender on this stream.
    pub(crate) fn peer_sends(&self) -> bool {
        if self.local {
            self.kind.acceptor_sends()
        } else {
            self.kind.opener_sends()
        }
    }

    /// Whether our sending half is open.
    pub(crate) fn can_send(&self) -> bool {
        matches!(self.state, State::Open | State::HalfClosedRemote)
    }

    /// Whether the peer's sending half is open.
    pub(crate) fn peer_can_send(&self) -> bool {
        matches!(self.state, State::Open | State::HalfClosedLocal)
    }

    /// We sent CLOSE.
    pub(crate) fn send_close(&mut self) {
        self.state = match self.state {
            State::Open => State::HalfClosedLocal,
            State::HalfClosedRemote | State::Closed => State::Closed,
            State::HalfClosedLocal => State::HalfClosedLocal,
        };
    }

    /// The peer sent CLOSE.
    pub(crate) fn recv_close(&mut self) {
        self.state = match self.state {
            State::Open => State::HalfClosedRemote,
            State::HalfClosedLocal | State::Closed => State::Closed,
            State::HalfClosedRemote => State::HalfClosedRemote,
        };
    }

    /// Whether both halves have ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(kind: StreamKind, local: bool) -> Stream {
        Stream::new(kind, local, true, 1024, 1024)
    }

    #[test]
    fn initial_state_follows_kind_and_opener() {
        assert_eq!(
            stream(StreamKind::OpenerSends, true).state,
            State::HalfClosedRemote
        );
        assert_eq!(
            stream(StreamKind::OpenerSends, false).state,
            State::HalfClosedLocal
        );
        assert_eq!(
            stream(StreamKind::OpenerReceives, true).state,
            State::HalfClosedLocal
        );
        assert_eq!(
            stream(StreamKind::OpenerReceives, false).state,
            State::HalfClosedRemote
        );
        assert_eq!(stream(StreamKind::Bytes, true).state, State::Open);
    }

    #[test]
    fn byte_stream_closes_when_both_halves_close() {
        let mut s = stream(StreamKind::Bytes, false);
        s.recv_close();
        assert_eq!(s.state, State::HalfClosedRemote);
        assert!(s.can_send() && !s.peer_can_send());
        s.send_close();
        assert!(s.is_closed());
    }

    #[test]
    fn channel_closes_when_its_sender_closes() {
        let mut s = stream(StreamKind::OpenerSends, true);
        s.send_close();
        assert!(s.is_closed());
        let mut r = stream(StreamKind::OpenerSends, false);
        assert!(!r.pending && r.peer_sends() && !r.we_send());
        r.recv_close();
        assert!(r.is_closed());
    }

    #[test]
    fn nested_peer_streams_start_pending() {
        let s = Stream::new(StreamKind::OpenerReceives, false, false, 1024, 1024);
        assert!(s.pending);
        let s = Stream::new(StreamKind::OpenerReceives, true, false, 1024, 1024);
        assert!(!s.pending);
    }
}
