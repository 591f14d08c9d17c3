//! Ending a session: the graceful close (GOAWAY both ways, drain), the
//! linger bound, refusals while closing, and the abrupt end.

use std::time::Duration;

use super::util::{config, frames, Pair};
use crate::codes::ErrorCode;
use crate::error::{Error, StreamError, Violation};
use crate::frame::{Frame, Open, Reset};
use crate::{Event, StreamId, StreamKind};

/// The dialer opens a top-level channel the acceptor sees.
fn open_channel(pair: &mut Pair) -> StreamId {
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Opened { .. })
    ));
    id
}

#[test]
fn a_graceful_close_lets_open_streams_finish_then_drains_both_sides() {
    let mut pair = Pair::connected();
    let id = open_channel(&mut pair);
    pair.acceptor
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "shutting down");
    assert!(pair.acceptor.session.is_closing());
    assert!(!pair.acceptor.session.is_ended(), "a stream is still open");
    assert_eq!(
        pair.acceptor.session.open(StreamKind::OpenerSends, true),
        Err(StreamError::Closing),
        "no new top-level channels while closing"
    );
    pair.drive();
    assert_eq!(
        pair.dialer.next_event(),
        Some(Event::GoAway {
            reason: "shutting down".into()
        })
    );
    assert_eq!(
        pair.dialer.session.open(StreamKind::OpenerSends, true),
        Err(StreamError::Closing)
    );
    // The open channel still carries data, and nested streams may still be
    // opened for the messages on it.
    let nested = pair
        .dialer
        .session
        .open(StreamKind::OpenerReceives, false)
        .expect("a nested stream on an open channel");
    pair.dialer.session.send_data(id, b"late").expect("send");
    pair.drive();
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::GoAway { .. })
    ));
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Opened { id, top_level: false, .. }) if id == nested
    ));
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Data { payload, .. }) if &payload[..] == b"late"
    ));
    assert!(pair.acceptor.session.claim(nested).is_ok());
    // Finishing the last streams drains the session on both sides.
    pair.dialer.session.close(id).expect("close");
    pair.acceptor
        .session
        .reset(nested, ErrorCode::CANCEL, "not needed");
    pair.drive();
    assert!(pair.dialer.events.contains(&Event::Drained));
    assert!(pair.acceptor.events.contains(&Event::Drained));
    assert!(pair.dialer.session.is_ended() && pair.acceptor.session.is_ended());
    assert!(pair.dialer.errors.is_empty() && pair.acceptor.errors.is_empty());
    assert_eq!(pair.dialer.session.poll_timeout(), None);
}

#[test]
fn the_peer_answers_a_goaway_with_its_own() {
    let mut pair = Pair::connected();
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "bye");
    let sent = pair.dialer.take_transmit();
    assert!(matches!(&frames(&sent)[..], [Frame::GoAway(g)] if g.code == ErrorCode::NO_ERROR));
    pair.acceptor.feed(pair.now, &sent);
    let answer = pair.acceptor.take_transmit();
    assert!(
        matches!(&frames(&answer)[..], [Frame::GoAway(g)] if g.code == ErrorCode::NO_ERROR),
        "the peer answers with its own GOAWAY"
    );
    assert_eq!(
        pair.acceptor.events.back(),
        Some(&Event::Drained),
        "nothing open: the acceptor is done"
    );
    pair.dialer.feed(pair.now, &answer);
    assert_eq!(pair.dialer.events.back(), Some(&Event::Drained));
}

#[test]
fn a_top_level_open_crossing_our_goaway_is_refused() {
    let mut pair = Pair::connected();
    pair.acceptor
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "closing");
    let _ = pair.acceptor.take_transmit();
    // The dialer opened before it saw the GOAWAY.
    pair.acceptor.inject(
        pair.now,
        Open {
            stream: StreamId(1),
            kind: StreamKind::OpenerSends,
            top_level: true,
        },
    );
    assert!(pair.acceptor.errors.is_empty(), "not a protocol error");
    assert!(matches!(
        &frames(&pair.acceptor.take_transmit())[..],
        [Frame::Reset(Reset {
            stream: StreamId(1),
            code: ErrorCode::REFUSED,
            ..
        })]
    ));
}

#[test]
fn a_top_level_open_after_the_peers_goaway_is_a_protocol_error() {
    let mut pair = Pair::connected();
    // Keep a stream open so the acceptor is still closing, not drained.
    let _open = open_channel(&mut pair);
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "closing");
    let goaway = pair.dialer.take_transmit();
    pair.acceptor.feed(pair.now, &goaway);
    pair.acceptor.inject(
        pair.now,
        Open {
            stream: StreamId(3),
            kind: StreamKind::OpenerSends,
            top_level: true,
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::OpenAfterGoAway(StreamId(3)))]
    );
}

#[test]
fn a_close_that_does_not_finish_in_time_is_aborted() {
    let mut pair = Pair::connected();
    let _id = open_channel(&mut pair);
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "closing");
    pair.drive();
    assert!(!pair.dialer.session.is_ended());
    // Only the dialer's linger runs out (the acceptor's started later).
    pair.now += config().linger;
    pair.dialer.session.handle_timeout(pair.now);
    pair.dialer
        .events
        .extend(std::iter::from_fn(|| pair.dialer.session.poll_event()));
    let want = Error::LingerTimeout {
        linger: config().linger,
        open: 1,
    };
    assert_eq!(pair.dialer.failure(), Some(&want));
    assert_eq!(want.code(), ErrorCode::ABORTED);
    pair.drive();
    assert!(matches!(
        pair.acceptor.failure(),
        Some(Error::Remote {
            code: ErrorCode::ABORTED,
            ..
        })
    ));
}

#[test]
fn a_stream_ending_after_the_linger_started_still_drains_in_time() {
    let mut pair = Pair::connected();
    let id = open_channel(&mut pair);
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "closing");
    pair.drive();
    pair.advance(config().linger / 2);
    pair.dialer.session.close(id).expect("close");
    pair.drive();
    assert!(pair.dialer.events.contains(&Event::Drained));
    pair.advance(Duration::from_secs(3600));
    assert!(pair.dialer.failure().is_none() && pair.acceptor.failure().is_none());
}

#[test]
fn nested_streams_can_be_claimed_after_the_session_ended() {
    let mut pair = Pair::connected();
    let nested = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, false)
        .expect("open");
    pair.dialer.session.send_data(nested, b"x").expect("send");
    pair.dialer.session.close(nested).expect("close");
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "done");
    pair.drive();
    assert!(pair.acceptor.session.is_ended());
    assert_eq!(
        pair.acceptor.session.claim(nested),
        Ok(StreamKind::OpenerSends),
        "a message received before the end may still name it"
    );
}
