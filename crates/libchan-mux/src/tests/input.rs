//! Feeding bytes: splits, limits, unknown frames, malformed frames.

use bytes::{Bytes, BytesMut};

use super::util::{config, frames, Pair};
use crate::codes::{ErrorCode, FrameType};
use crate::error::Error;
use crate::frame::{self, Credit, Frame, Head, Unknown};
use crate::{Connection, Event, Limits, Role, StreamId, StreamKind};

/// A dialer's output exercising every frame type the acceptor can receive.
pub(crate) fn busy_dialer_output() -> Vec<u8> {
    let mut pair = Pair::connected();
    let a = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let b = pair
        .dialer
        .session
        .open(StreamKind::Bytes, false)
        .expect("open");
    pair.dialer
        .session
        .send_data(a, b"first message")
        .expect("send");
    pair.dialer
        .session
        .send_data(b, &[0u8; 3000])
        .expect("send");
    pair.dialer
        .session
        .send_data(a, b"")
        .expect("empty message");
    pair.dialer.session.ping(pair.now);
    pair.dialer.session.close(a).expect("close");
    pair.dialer.session.reset(b, ErrorCode::CANCEL, "bye");
    let mut bytes = pair.dialer.sent.clone();
    bytes.extend_from_slice(&pair.dialer.take_transmit());
    bytes
}

fn events_after_feeding(chunks: &[&[u8]]) -> Vec<Event> {
    let now = std::time::Instant::now();
    let mut acceptor = Connection::new(Role::Acceptor, config(), now).expect("config");
    let mut events = Vec::new();
    for chunk in chunks {
        acceptor.handle_input(now, chunk).expect("valid input");
        while let Some(e) = acceptor.poll_event() {
            events.push(e);
        }
    }
    events
}

#[test]
fn every_split_of_the_byte_stream_yields_the_same_events() {
    let wire = busy_dialer_output();
    let whole = events_after_feeding(&[&wire]);
    assert!(whole.len() >= 8, "{whole:?}");
    let byte_by_byte: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(events_after_feeding(&byte_by_byte), whole);
    for size in [2, 3, 13, 14, 15, 1000] {
        let chunks: Vec<&[u8]> = wire.chunks(size).collect();
        assert_eq!(events_after_feeding(&chunks), whole, "chunks of {size}");
    }
    for cut in 0..wire.len() {
        let (a, b) = wire.split_at(cut);
        assert_eq!(events_after_feeding(&[a, b]), whole, "cut at {cut}");
    }
}

#[test]
fn oversize_length_is_rejected_before_allocation() {
    let mut acceptor_config = config();
    acceptor_config.max_frame_size = 64 << 10;
    let mut pair = Pair::connected_with(config(), acceptor_config);
    let mut wire = BytesMut::new();
    Head {
        length: (64 << 10) + 1,
        frame_type: FrameType::DATA,
        flags: 0,
        stream: StreamId(1),
    }
    .encode(&mut wire);
    pair.acceptor.feed(pair.now, &wire);
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Malformed(frame::Error::TooLarge {
            frame_type: FrameType::DATA,
            length: (64 << 10) + 1,
            max: 64 << 10
        })]
    );
    let goaway = frames(&pair.acceptor.take_transmit())
        .into_iter()
        .find_map(|f| match f {
            Frame::GoAway(g) => Some(g),
            _ => None,
        })
        .expect("GOAWAY");
    assert_eq!(goaway.code, ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn unknown_frame_types_are_skipped() {
    let mut pair = Pair::connected();
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    pair.acceptor.clear_events();
    for stream in [StreamId(0), id, StreamId(999)] {
        pair.acceptor.inject(
            pair.now,
            Unknown {
                frame_type: FrameType(0x99),
                flags: 0xff,
                stream,
                payload: Bytes::from_static(b"from the future"),
            },
        );
    }
    assert!(pair.acceptor.errors.is_empty());
    assert!(pair.acceptor.events.is_empty());
    pair.dialer
        .session
        .send_data(id, b"still fine")
        .expect("send");
    pair.drive();
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Data { .. })
    ));
}

#[test]
fn a_malformed_frame_fails_the_session_and_sends_goaway() {
    let mut pair = Pair::connected();
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    // A CREDIT with increment 0 (the encoder never makes one: patch it).
    let mut wire = BytesMut::new();
    Credit {
        stream: id,
        increment: 1,
    }
    .encode(&mut wire);
    let last = wire.len() - 1;
    wire[last] = 0;
    pair.dialer.feed(pair.now, &wire);
    let want = Error::Malformed(frame::Error::ZeroIncrement);
    assert_eq!(pair.dialer.errors, vec![want.clone()]);
    assert_eq!(pair.dialer.failure(), Some(&want));
    pair.drive();
    // The acceptor learns why from the GOAWAY.
    assert_eq!(
        pair.acceptor.failure(),
        Some(&Error::Remote {
            code: ErrorCode::PROTOCOL_ERROR,
            reason: "malformed frame from peer: CREDIT increment is 0".into()
        })
    );
}

#[test]
fn nothing_is_read_after_a_failure() {
    let mut pair = Pair::connected();
    pair.acceptor
        .feed(pair.now, &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(pair.acceptor.errors.len(), 1);
    let first = pair.acceptor.errors[0].clone();
    let _ = pair.acceptor.take_transmit();
    pair.acceptor.feed(pair.now, &[1, 2, 3]);
    assert_eq!(pair.acceptor.errors, vec![first.clone(), first]);
    assert_eq!(pair.acceptor.session.poll_transmit(), None);
}

#[test]
fn input_after_a_clean_close_is_ignored() {
    let mut pair = Pair::connected();
    pair.dialer
        .session
        .goaway(pair.now, ErrorCode::NO_ERROR, "done");
    pair.drive();
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::GoAway {
            reason: "done".into()
        })
    );
    assert_eq!(pair.acceptor.next_event(), Some(Event::Drained));
    assert!(matches!(
        pair.dialer.next_event(),
        Some(Event::GoAway { .. })
    ));
    assert_eq!(pair.dialer.next_event(), Some(Event::Drained));
    assert!(pair.acceptor.session.is_ended());
    pair.acceptor.feed(pair.now, b"garbage after the end");
    assert!(pair.acceptor.errors.is_empty());
}

#[test]
fn a_tiny_receive_limit_still_accepts_a_full_hello() {
    let mut small = Limits::new(["json"]);
    small.max_frame_size = crate::config::MIN_MAX_FRAME_SIZE;
    // 100 codecs make the HELLO ~1.5 KiB, above the 1 KiB frame limit.
    let many = Limits::new(
        (0..100)
            .map(|i| format!("codec-{i:08}"))
            .chain(["json".to_string()]),
    );
    let mut pair = Pair::new(many, small);
    pair.drive();
    assert!(
        pair.acceptor.errors.is_empty(),
        "{:?}",
        pair.acceptor.errors
    );
    assert_eq!(pair.acceptor.session.codec(), Some("json"));
}
