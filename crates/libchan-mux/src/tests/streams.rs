//! Stream lifecycle: open, close, reset, limits, nesting, misuse.

use super::util::{config, frames, Pair};
use crate::codes::{ErrorCode, FrameType};
use crate::error::{Error, StreamError, Violation};
use crate::frame::{Close, Data, Frame, Open, Reset};
use crate::{Event, SendError, StreamId, StreamKind};

pub(super) fn opened(pair: &mut Pair, kind: StreamKind, top_level: bool) -> StreamId {
    let id = pair.dialer.session.open(kind, top_level).expect("open");
    pair.drive();
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Opened {
            id,
            kind,
            top_level
        })
    );
    id
}

#[test]
fn ids_have_the_openers_parity_and_increase() {
    let mut pair = Pair::connected();
    let d1 = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let d2 = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let a1 = pair
        .acceptor
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let a2 = pair
        .acceptor
        .session
        .open(StreamKind::Bytes, false)
        .expect("open");
    assert_eq!(
        (d1, d2, a1, a2),
        (StreamId(1), StreamId(3), StreamId(2), StreamId(4))
    );
    pair.drive();
    assert_eq!(pair.dialer.session.stream_count(), 4);
    assert_eq!(pair.acceptor.session.stream_count(), 4);
}

#[test]
fn close_ends_a_channel_cleanly() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::OpenerSends, true);
    pair.dialer.session.send_data(id, b"last").expect("send");
    pair.dialer.session.close(id).expect("close");
    assert_eq!(pair.dialer.session.stream_count(), 0);
    pair.drive();
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Data { .. })
    ));
    assert_eq!(pair.acceptor.next_event(), Some(Event::Closed { id }));
    assert_eq!(pair.acceptor.session.stream_count(), 0);
    // Sending after close is refused; closing again is a no-op.
    assert_eq!(
        pair.dialer.session.send_data(id, b"x"),
        Err(SendError::Stream(StreamError::Finished(id)))
    );
    assert_eq!(pair.dialer.session.close(id), Ok(()));
}

#[test]
fn reset_from_the_sender_breaks_the_channel_unlike_close() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::OpenerSends, true);
    pair.dialer
        .session
        .reset(id, ErrorCode::INTERNAL_ERROR, "worker crashed");
    pair.drive();
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Reset {
            id,
            code: ErrorCode::INTERNAL_ERROR,
            reason: "worker crashed".into()
        })
    );
    assert_eq!(pair.dialer.session.stream_count(), 0);
    assert_eq!(pair.acceptor.session.stream_count(), 0);
}

#[test]
fn reset_from_the_receiver_stops_the_sender() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::OpenerSends, true);
    pair.acceptor
        .session
        .reset(id, ErrorCode::CANCEL, "receiver dropped");
    // The sender keeps sending until it hears; those frames are ignored.
    pair.dialer
        .session
        .send_data(id, b"in flight")
        .expect("send");
    pair.drive();
    assert_eq!(
        pair.dialer.next_event(),
        Some(Event::Reset {
            id,
            code: ErrorCode::CANCEL,
            reason: "receiver dropped".into()
        })
    );
    assert!(pair.acceptor.events.is_empty() && pair.acceptor.errors.is_empty());
    assert_eq!(
        pair.dialer.session.send_data(id, b"x"),
        Err(SendError::Stream(StreamError::Finished(id)))
    );
}

#[test]
fn opener_receives_kind_flows_from_the_acceptor() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::OpenerReceives, false);
    assert_eq!(
        pair.dialer.session.send_data(id, b"x"),
        Err(SendError::Stream(StreamError::NotSender(id)))
    );
    pair.acceptor
        .session
        .send_data(id, b"reply")
        .expect("acceptor sends");
    pair.acceptor.session.close(id).expect("close");
    pair.drive();
    assert!(
        matches!(pair.dialer.next_event(), Some(Event::Data { payload, .. }) if &payload[..] == b"reply")
    );
    assert_eq!(pair.dialer.next_event(), Some(Event::Closed { id }));
    assert_eq!(pair.dialer.session.stream_count(), 0);
}

#[test]
fn a_byte_stream_ends_when_both_sides_close() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::Bytes, false);
    pair.dialer.session.send_data(id, b"ping").expect("send");
    pair.acceptor.session.send_data(id, b"pong").expect("send");
    pair.dialer.session.close(id).expect("close");
    pair.drive();
    assert_eq!(
        pair.acceptor.session.stream_count(),
        1,
        "acceptor's half still open"
    );
    pair.acceptor
        .session
        .send_data(id, b"after peer close")
        .expect("half-open");
    pair.acceptor.session.close(id).expect("close");
    pair.drive();
    assert_eq!(pair.acceptor.session.stream_count(), 0);
    assert_eq!(pair.dialer.session.stream_count(), 0);
    let dialer_events: Vec<_> = pair.dialer.events.drain(..).collect();
    assert_eq!(dialer_events.last(), Some(&Event::Closed { id }));
}

#[test]
fn max_streams_refuses_excess_opens() {
    let mut acceptor = config();
    acceptor.max_streams = 2;
    let mut pair = Pair::connected_with(config(), acceptor);
    // The dialer knows the limit and refuses locally...
    let a = opened(&mut pair, StreamKind::OpenerSends, true);
    let _b = opened(&mut pair, StreamKind::OpenerSends, true);
    assert_eq!(
        pair.dialer.session.open(StreamKind::OpenerSends, true),
        Err(StreamError::StreamLimit { max: 2 })
    );
    // ...and a closed stream frees a slot.
    pair.dialer.session.close(a).expect("close");
    pair.drive();
    assert_eq!(pair.acceptor.next_event(), Some(Event::Closed { id: a }));
    let _c = opened(&mut pair, StreamKind::OpenerSends, true);
    // A peer that ignores the limit gets RESET REFUSED, not a session error.
    pair.acceptor.inject(
        pair.now,
        Open {
            stream: StreamId(101),
            kind: StreamKind::OpenerSends,
            top_level: true,
        },
    );
    assert!(pair.acceptor.errors.is_empty());
    assert!(pair.acceptor.events.is_empty());
    let sent = frames(&pair.acceptor.take_transmit());
    assert!(matches!(
        &sent[..],
        [Frame::Reset(Reset {
            stream: StreamId(101),
            code: ErrorCode::REFUSED,
            ..
        })]
    ));
    // Frames that follow for the refused stream are ignored.
    pair.acceptor.inject(
        pair.now,
        Data {
            stream: StreamId(101),
            payload: "x".into(),
        },
    );
    assert!(pair.acceptor.errors.is_empty() && pair.acceptor.events.is_empty());
}

#[test]
fn streams_opened_before_the_handshake_beyond_the_limit_are_refused() {
    let mut acceptor = config();
    acceptor.max_streams = 1;
    let mut pair = Pair::new(config(), acceptor);
    let a = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("limit unknown yet");
    let b = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("limit unknown yet");
    pair.drive();
    assert!(pair
        .dialer
        .events
        .iter()
        .any(|e| matches!(e, Event::Reset { id, code: ErrorCode::REFUSED, .. } if *id == b)));
    assert!(pair
        .acceptor
        .events
        .iter()
        .any(|e| matches!(e, Event::Opened { id, .. } if *id == a)));
    assert_eq!(pair.dialer.session.stream_count(), 1);
}

#[test]
fn pending_opens_limit_refuses_unclaimed_attachments() {
    let mut acceptor = config();
    acceptor.max_pending_opens = 2;
    let mut pair = Pair::connected_with(config(), acceptor);
    let n1 = opened(&mut pair, StreamKind::OpenerSends, false);
    let _n2 = opened(&mut pair, StreamKind::OpenerReceives, false);
    assert_eq!(pair.acceptor.session.pending_count(), 2);
    // Top-level streams do not count against the pending limit.
    let _top = opened(&mut pair, StreamKind::OpenerSends, true);
    let n3 = pair
        .dialer
        .session
        .open(StreamKind::Bytes, false)
        .expect("open");
    pair.drive();
    assert_eq!(
        pair.dialer.next_event(),
        Some(Event::Reset {
            id: n3,
            code: ErrorCode::REFUSED,
            reason: "too many unclaimed attachments (MAX_PENDING_OPENS)".into()
        })
    );
    // Claiming one frees a slot.
    assert_eq!(pair.acceptor.session.claim(n1), Ok(StreamKind::OpenerSends));
    assert_eq!(pair.acceptor.session.pending_count(), 1);
    let _n4 = opened(&mut pair, StreamKind::Bytes, false);
    assert_eq!(
        pair.acceptor.session.claim(n3),
        Err(StreamError::UnknownReference(n3))
    );
}

#[test]
fn claim_succeeds_after_the_nested_stream_already_ended() {
    let mut pair = Pair::connected();
    let carrier = opened(&mut pair, StreamKind::OpenerSends, true);
    // OPEN nested, DATA on it, CLOSE it, then the message referencing it.
    let nested = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, false)
        .expect("open");
    pair.dialer
        .session
        .send_data(nested, b"item")
        .expect("send");
    pair.dialer.session.close(nested).expect("close");
    pair.dialer
        .session
        .send_data(carrier, b"{\"ch\":3}")
        .expect("send");
    pair.drive();
    let events: Vec<_> = pair.acceptor.events.drain(..).collect();
    assert!(matches!(
        events[0],
        Event::Opened {
            top_level: false,
            ..
        }
    ));
    assert!(matches!(events[1], Event::Data { id, .. } if id == nested));
    assert_eq!(events[2], Event::Closed { id: nested });
    assert!(matches!(events[3], Event::Data { id, .. } if id == carrier));
    assert_eq!(
        pair.acceptor.session.stream_count(),
        1,
        "ended stream no longer counts as open"
    );
    assert_eq!(
        pair.acceptor.session.claim(nested),
        Ok(StreamKind::OpenerSends)
    );
    assert_eq!(
        pair.acceptor.session.claim(nested),
        Err(StreamError::UnknownReference(nested))
    );
    assert_eq!(pair.acceptor.session.pending_count(), 0);
}

#[test]
fn claim_rejects_what_is_not_a_pending_peer_attachment() {
    let mut pair = Pair::connected();
    let top = opened(&mut pair, StreamKind::OpenerSends, true);
    let own = pair
        .acceptor
        .session
        .open(StreamKind::OpenerSends, false)
        .expect("open");
    for id in [top, own, StreamId(777)] {
        assert_eq!(
            pair.acceptor.session.claim(id),
            Err(StreamError::UnknownReference(id))
        );
    }
}

#[test]
fn resetting_an_unclaimed_attachment_releases_it() {
    let mut pair = Pair::connected();
    let nested = opened(&mut pair, StreamKind::OpenerSends, false);
    pair.acceptor
        .session
        .reset(nested, ErrorCode::UNKNOWN_REFERENCE, "never referenced");
    assert_eq!(pair.acceptor.session.pending_count(), 0);
    assert_eq!(pair.acceptor.session.stream_count(), 0);
    pair.drive();
    assert!(matches!(
        pair.dialer.next_event(),
        Some(Event::Reset {
            code: ErrorCode::UNKNOWN_REFERENCE,
            ..
        })
    ));
}

#[test]
fn frames_for_a_stream_never_opened_are_protocol_errors() {
    let mut pair = Pair::connected();
    pair.acceptor.inject(
        pair.now,
        Data {
            stream: StreamId(5),
            payload: "x".into(),
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::UnknownStream {
            frame_type: FrameType::DATA,
            id: StreamId(5)
        })]
    );
    // Our own parity, beyond what we allocated.
    let mut pair = Pair::connected();
    pair.acceptor.inject(
        pair.now,
        Close {
            stream: StreamId(2),
        },
    );
    assert!(matches!(
        pair.acceptor.errors[..],
        [Error::Protocol(Violation::UnknownStream { .. })]
    ));
}

#[test]
fn open_rules_parity_and_increasing_ids() {
    let mut pair = Pair::connected();
    let open = |id| Open {
        stream: StreamId(id),
        kind: StreamKind::OpenerSends,
        top_level: true,
    };
    pair.acceptor.inject(pair.now, open(2));
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::OpenWrongParity(StreamId(2)))]
    );
    let mut pair = Pair::connected();
    pair.acceptor.inject(pair.now, open(7));
    pair.acceptor.inject(pair.now, open(5));
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::StreamIdNotIncreasing {
            id: StreamId(5),
            highest: StreamId(7)
        })]
    );
}

#[test]
fn data_from_the_wrong_direction_is_a_protocol_error() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::OpenerReceives, false);
    // The acceptor is the sender of an OpenerReceives stream; the dialer is not.
    pair.acceptor.inject(
        pair.now,
        Data {
            stream: id,
            payload: "x".into(),
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::WrongDirection {
            frame_type: FrameType::DATA,
            id
        })]
    );
}

#[test]
fn data_after_close_is_a_protocol_error() {
    let mut pair = Pair::connected();
    let id = opened(&mut pair, StreamKind::Bytes, false);
    pair.acceptor.inject(pair.now, Close { stream: id });
    pair.acceptor.inject(
        pair.now,
        Data {
            stream: id,
            payload: "x".into(),
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::AfterClose {
            frame_type: FrameType::DATA,
            id
        })]
    );
}

#[test]
fn local_misuse_is_reported_not_sent() {
    let mut pair = Pair::connected();
    assert_eq!(
        pair.dialer.session.close(StreamId(99)),
        Err(StreamError::UnknownStream(StreamId(99)))
    );
    assert_eq!(
        pair.dialer.session.send_data(StreamId(0), b"x"),
        Err(SendError::Stream(StreamError::UnknownStream(StreamId(0))))
    );
    let id = opened(&mut pair, StreamKind::OpenerSends, true);
    assert_eq!(
        pair.acceptor.session.close(id),
        Err(StreamError::NotSender(id))
    );
    pair.acceptor
        .session
        .reset(StreamId(12345), ErrorCode::CANCEL, "no-op");
    assert_eq!(pair.acceptor.session.transmit_len(), 0);
}

#[test]
fn goaway_with_an_error_code_is_a_remote_error() {
    let mut pair = Pair::connected();
    pair.acceptor
        .session
        .goaway(pair.now, ErrorCode::INTERNAL_ERROR, "disk full");
    pair.drive();
    let want = Error::Remote {
        code: ErrorCode::INTERNAL_ERROR,
        reason: "disk full".into(),
    };
    assert_eq!(pair.dialer.errors, vec![want.clone()]);
    assert_eq!(pair.dialer.failure(), Some(&want));
    // No GOAWAY is sent back to a peer that already left.
    assert_eq!(pair.dialer.session.poll_transmit(), None);
}
