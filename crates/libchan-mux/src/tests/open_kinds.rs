//! What a stream may be opened as: descriptor streams (nested, finished at
//! once, pending until claimed) and the rule that a top-level stream is a
//! channel its opener sends on, checked before any limit.

use super::streams::opened;
use super::util::{config, Pair};
use crate::error::{Error, StreamError, Violation};
use crate::frame::Open;
use crate::{Event, StreamId, StreamKind};

#[test]
fn descriptor_streams_are_nested_finished_at_once_and_pending_until_claimed() {
    let mut pair = Pair::connected();
    assert!(pair.dialer.session.peer_accepts_fds());
    assert_eq!(
        pair.dialer.session.open(StreamKind::Fd, true),
        Err(StreamError::TopLevelKind(StreamKind::Fd)),
        "never top-level"
    );
    let id = pair
        .dialer
        .session
        .open(StreamKind::Fd, false)
        .expect("a nested descriptor stream");
    assert_eq!(
        pair.dialer.session.stream_count(),
        0,
        "finished once announced"
    );
    pair.drive();
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Opened {
            id,
            kind: StreamKind::Fd,
            top_level: false
        })
    );
    assert_eq!(pair.acceptor.session.stream_count(), 0);
    assert_eq!(pair.acceptor.session.pending_count(), 1);
    assert_eq!(pair.acceptor.session.claim(id), Ok(StreamKind::Fd));
    assert_eq!(pair.acceptor.session.pending_count(), 0);
}

#[test]
fn descriptor_streams_beyond_the_limit_are_refused_and_toward_a_refuser_are_errors() {
    let mut small = config();
    small.max_pending_fds = 1;
    let mut pair = Pair::connected_with(config(), small);
    let first = pair
        .dialer
        .session
        .open(StreamKind::Fd, false)
        .expect("open");
    let second = pair
        .dialer
        .session
        .open(StreamKind::Fd, false)
        .expect("open");
    pair.drive();
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Opened {
            id: first,
            kind: StreamKind::Fd,
            top_level: false
        })
    );
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::FdRefused { id: second }),
        "the second is refused: its descriptor must be closed"
    );

    let mut none = config();
    none.max_pending_fds = 0;
    let mut pair = Pair::connected_with(config(), none);
    assert!(!pair.dialer.session.peer_accepts_fds());
    assert_eq!(
        pair.dialer.session.open(StreamKind::Fd, false),
        Err(StreamError::FdsNotAccepted)
    );
    pair.acceptor.inject(
        pair.now,
        crate::frame::Open {
            stream: StreamId(1),
            kind: StreamKind::Fd,
            top_level: false,
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(crate::error::Violation::FdNotAccepted(
            StreamId(1)
        ))]
    );
}

#[test]
fn a_top_level_stream_is_a_channel_its_opener_sends_on() {
    // Locally: refused before anything is sent.
    let mut pair = Pair::connected();
    for kind in [
        StreamKind::OpenerReceives,
        StreamKind::Bytes,
        StreamKind::Fd,
    ] {
        assert_eq!(
            pair.dialer.session.open(kind, true),
            Err(StreamError::TopLevelKind(kind))
        );
    }
    assert!(pair.dialer.take_transmit().is_empty());
    // From the peer: a session error, not a channel nobody can use (the
    // opener would wait forever on a reply or bytes that never come).
    for kind in [
        StreamKind::OpenerReceives,
        StreamKind::Bytes,
        StreamKind::Fd,
    ] {
        let mut pair = Pair::connected();
        pair.acceptor.inject(
            pair.now,
            Open {
                stream: StreamId(1),
                kind,
                top_level: true,
            },
        );
        assert_eq!(
            pair.acceptor.errors,
            vec![Error::Protocol(Violation::TopLevelKind {
                id: StreamId(1),
                kind
            })],
            "{kind:?}"
        );
    }
}

#[test]
fn what_an_open_asks_for_is_checked_before_the_limits() {
    let mut limited = config();
    limited.max_streams = 1;
    let mut pair = Pair::connected_with(config(), limited);
    let _full = opened(&mut pair, StreamKind::OpenerSends, true);
    // MAX_STREAMS is reached, yet a top-level byte stream is still the
    // peer's error, not a refusal.
    pair.acceptor.inject(
        pair.now,
        Open {
            stream: StreamId(3),
            kind: StreamKind::Bytes,
            top_level: true,
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::TopLevelKind {
            id: StreamId(3),
            kind: StreamKind::Bytes
        })]
    );
}

#[test]
fn descriptor_streams_do_not_count_against_max_streams() {
    let mut limited = config();
    limited.max_streams = 1;
    let mut pair = Pair::connected_with(config(), limited);
    let _full = opened(&mut pair, StreamKind::OpenerSends, true);
    pair.acceptor.inject(
        pair.now,
        Open {
            stream: StreamId(3),
            kind: StreamKind::Fd,
            top_level: false,
        },
    );
    assert!(pair.acceptor.errors.is_empty());
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Opened {
            id: StreamId(3),
            kind: StreamKind::Fd,
            top_level: false
        })
    );
}
