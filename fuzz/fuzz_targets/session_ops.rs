//! A Pair of honest sessions driven by arbitrary operations. Beyond "never
//! panics", checks that honest peers never accuse each other of a protocol
//! or flow-control violation, and that messages arrive in order.

#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libchan_mux::{
    Limits, Error, ErrorCode, Event, Role, SendError, Connection, StreamId, StreamKind,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Who {
    Dialer,
    Acceptor,
}

#[derive(Arbitrary, Debug)]
enum Operation {
    Open {
        who: Who,
        kind: u8,
        top_level: bool,
    },
    Send {
        who: Who,
        stream: u8,
        len: u16,
    },
    SendWith {
        who: Who,
        stream: u8,
        len: u16,
        fail: bool,
    },
    Consume {
        who: Who,
        stream: u8,
        n: u16,
    },
    Claim {
        who: Who,
        stream: u8,
    },
    Close {
        who: Who,
        stream: u8,
    },
    Reset {
        who: Who,
        stream: u8,
        code: u8,
    },
    Ping {
        who: Who,
    },
    /// Moves up to `max` queued bytes from `from` to its peer.
    Deliver {
        from: Who,
        max: u16,
    },
    DeliverAll,
    Advance {
        millis: u16,
    },
    GoAway {
        who: Who,
        clean: bool,
    },
}

struct Side {
    session: Connection,
    /// Streams this side knows (opened or announced), in order.
    streams: Vec<StreamId>,
    /// Next sequence number to send / expected to receive, per stream.
    next_send: BTreeMap<StreamId, u64>,
    next_recv: BTreeMap<StreamId, u64>,
    /// Bytes written by this side, not yet delivered to the peer.
    outbound: VecDeque<u8>,
    errors: Vec<Error>,
}

impl Side {
    fn new(role: Role, now: Instant) -> Self {
        let mut config = Limits::new(["json", "msgpack"]);
        config.max_frame_size = 2048;
        config.initial_window = 4096;
        config.max_streams = 16;
        config.max_pending_opens = 4;
        Self {
            session: Connection::new(role, config, now).expect("valid config"),
            streams: Vec::new(),
            next_send: BTreeMap::new(),
            next_recv: BTreeMap::new(),
            outbound: VecDeque::new(),
            errors: Vec::new(),
        }
    }

    fn pick(&self, index: u8) -> StreamId {
        if self.streams.is_empty() {
            return StreamId(u64::from(index));
        }
        self.streams[usize::from(index) % self.streams.len()]
    }

    fn payload(&mut self, id: StreamId, len: u16) -> Vec<u8> {
        let seq = self.next_send.get(&id).copied().unwrap_or(0);
        let mut p = seq.to_be_bytes().to_vec();
        p.resize(usize::from(len).max(8), 0xab);
        p
    }

    fn pump(&mut self) {
        while let Some(bytes) = self.session.poll_transmit() {
            self.outbound.extend(bytes.iter());
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Opened { id, .. } => self.streams.push(id),
                Event::Data { id, payload } => {
                    if let Some(seq) = payload.get(..8) {
                        let seq = u64::from_be_bytes(seq.try_into().expect("8 bytes"));
                        let want = self.next_recv.entry(id).or_insert(0);
                        assert_eq!(seq, *want, "stream {id}: message out of order");
                        *want += 1;
                    }
                }
                Event::Failed(e) => self.errors.push(e),
                _ => {}
            }
        }
    }
}

fn deliver(from: &mut Side, to: &mut Side, max: usize, now: Instant) {
    let n = max.min(from.outbound.len());
    let bytes: Vec<u8> = from.outbound.drain(..n).collect();
    if !bytes.is_empty() {
        let _ = to.session.handle_input(now, &bytes);
    }
}

fuzz_target!(|ops: Vec<Operation>| {
    let mut now = Instant::now();
    let mut dialer = Side::new(Role::Dialer, now);
    let mut acceptor = Side::new(Role::Acceptor, now);
    for op in ops.into_iter().chain([Operation::DeliverAll]) {
        let (side, other) = match &op {
            Operation::Open { who, .. }
            | Operation::Send { who, .. }
            | Operation::SendWith { who, .. }
            | Operation::Consume { who, .. }
            | Operation::Claim { who, .. }
            | Operation::Close { who, .. }
            | Operation::Reset { who, .. }
            | Operation::Ping { who }
            | Operation::GoAway { who, .. }
            | Operation::Deliver { from: who, .. } => match who {
                Who::Dialer => (&mut dialer, &mut acceptor),
                Who::Acceptor => (&mut acceptor, &mut dialer),
            },
            Operation::DeliverAll | Operation::Advance { .. } => (&mut dialer, &mut acceptor),
        };
        match op {
            Operation::Open {
                kind, top_level, ..
            } => {
                let kind = match kind % 3 {
                    0 => StreamKind::OpenerSends,
                    1 => StreamKind::OpenerReceives,
                    _ => StreamKind::Bytes,
                };
                if let Ok(id) = side.session.open(kind, top_level) {
                    side.streams.push(id);
                }
            }
            Operation::Send { stream, len, .. } => {
                let id = side.pick(stream);
                let payload = side.payload(id, len);
                match side.session.send_data(id, &payload) {
                    Ok(()) => *side.next_send.entry(id).or_insert(0) += 1,
                    Err(SendError::Blocked | SendError::TooLarge { .. } | SendError::Stream(_)) => {
                    }
                    Err(e) => panic!("unexpected send error {e:?}"),
                }
            }
            Operation::SendWith {
                stream, len, fail, ..
            } => {
                let id = side.pick(stream);
                let payload = side.payload(id, len);
                let r = side.session.send_data_with(id, |buf| {
                    buf.extend_from_slice(&payload);
                    if fail {
                        Err("encode failed")
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    *side.next_send.entry(id).or_insert(0) += 1;
                }
            }
            Operation::Consume { stream, n, .. } => {
                let id = side.pick(stream);
                side.session.consumed(id, usize::from(n));
                side.session.consumed_session(usize::from(n));
            }
            Operation::Claim { stream, .. } => {
                let id = side.pick(stream);
                let _ = side.session.claim(id);
            }
            Operation::Close { stream, .. } => {
                let id = side.pick(stream);
                let _ = side.session.close(id);
            }
            Operation::Reset { stream, code, .. } => {
                let id = side.pick(stream);
                side.session.reset(id, ErrorCode(u32::from(code)), "fuzz");
            }
            Operation::Ping { .. } => side.session.ping(now),
            Operation::GoAway { clean, .. } => {
                let code = if clean {
                    ErrorCode::NO_ERROR
                } else {
                    ErrorCode::INTERNAL_ERROR
                };
                side.session.goaway(now, code, "fuzz");
            }
            Operation::Deliver { max, .. } => {
                side.pump();
                deliver(side, other, usize::from(max), now);
            }
            Operation::DeliverAll => {
                for _ in 0..64 {
                    side.pump();
                    other.pump();
                    if side.outbound.is_empty() && other.outbound.is_empty() {
                        break;
                    }
                    deliver(side, other, usize::MAX, now);
                    deliver(other, side, usize::MAX, now);
                }
            }
            Operation::Advance { millis } => {
                now += Duration::from_millis(u64::from(millis));
                side.session.handle_timeout(now);
                other.session.handle_timeout(now);
            }
        }
        side.pump();
        other.pump();
    }
    // Honest peers never accuse each other of malformed frames or protocol
    // or flow-control violations; only timeouts and GOAWAYs end a session.
    for error in dialer.errors.iter().chain(&acceptor.errors) {
        let fine = match error {
            Error::HandshakeTimeout(_) | Error::KeepaliveTimeout(_) => true,
            Error::Remote { code, .. } => [
                ErrorCode::INTERNAL_ERROR,
                ErrorCode::HANDSHAKE_TIMEOUT,
                ErrorCode::KEEPALIVE_TIMEOUT,
            ]
            .contains(code),
            _ => false,
        };
        assert!(fine, "honest peers fell out: {error}");
    }
});
