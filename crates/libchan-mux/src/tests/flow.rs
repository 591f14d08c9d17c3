//! Flow control: credit, blocking, overdraft, batching, violations.

use super::util::{config, frames, Pair};
use crate::codes::ErrorCode;
use crate::error::{Error, Violation};
use crate::frame::{Credit, Data, Frame};
use crate::{Event, Limits, SendError, StreamId, StreamKind};

/// A pair whose acceptor grants a 4 KiB window and takes 2 KiB frames.
fn small_window_pair() -> (Pair, StreamId) {
    let mut acceptor = config();
    acceptor.initial_window = 4096;
    acceptor.max_frame_size = 2048;
    let mut pair = Pair::connected_with(config(), acceptor);
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
    (pair, id)
}

fn received(pair: &mut Pair) -> Vec<usize> {
    let mut sizes = Vec::new();
    while let Some(event) = pair.acceptor.next_event() {
        if let Event::Data { payload, .. } = event {
            sizes.push(payload.len());
        }
    }
    sizes
}

#[test]
fn data_flows_with_credit_blocks_at_zero_and_resumes_on_credit() {
    let (mut pair, id) = small_window_pair();
    let session = &mut pair.dialer.session;
    assert_eq!(session.send_credit(id), 4096);
    session.send_data(id, &[1; 2048]).expect("credit 4096");
    session.send_data(id, &[2; 2048]).expect("credit 2048");
    assert_eq!(session.send_credit(id), 0);
    assert_eq!(session.send_data(id, b"x"), Err(SendError::Blocked));
    pair.drive();
    assert_eq!(received(&mut pair), vec![2048, 2048]);
    // Nothing is consumed yet: no CREDIT, still blocked.
    assert!(pair.dialer.events.is_empty());
    // Consuming half a window returns credit in one CREDIT frame.
    pair.acceptor.session.consumed(id, 2048);
    let sent = pair.acceptor.take_transmit();
    assert_eq!(
        frames(&sent),
        vec![Frame::Credit(Credit {
            stream: id,
            increment: 2048
        })]
    );
    pair.dialer.feed(pair.now, &sent);
    assert_eq!(pair.dialer.next_event(), Some(Event::Credit { id }));
    assert_eq!(pair.dialer.session.send_credit(id), 2048);
    pair.dialer
        .session
        .send_data(id, b"x")
        .expect("credit again");
}

#[test]
fn credit_is_batched_per_half_window() {
    let (mut pair, id) = small_window_pair();
    for _ in 0..4 {
        pair.dialer.session.send_data(id, &[0; 1000]).expect("send");
    }
    pair.drive();
    received(&mut pair);
    pair.acceptor.session.consumed(id, 1000);
    assert_eq!(
        pair.acceptor.session.transmit_len(),
        0,
        "1000 < half window"
    );
    pair.acceptor.session.consumed(id, 1048);
    assert_eq!(
        frames(&pair.acceptor.take_transmit()),
        vec![Frame::Credit(Credit {
            stream: id,
            increment: 2048
        })]
    );
    // Consuming more than was received (4000) mints no credit: the 1952
    // bytes left stay below half a window.
    pair.acceptor.session.consumed(id, 1_000_000);
    assert_eq!(pair.acceptor.session.transmit_len(), 0);
    pair.dialer
        .session
        .send_data(id, &[0; 1000])
        .expect("credit left");
    pair.drive();
    pair.acceptor.session.consumed(id, 1000);
    assert_eq!(
        frames(&pair.acceptor.take_transmit()),
        vec![Frame::Credit(Credit {
            stream: id,
            increment: 2952
        })]
    );
}

#[test]
fn overdraft_lets_a_message_larger_than_the_window_through() {
    let mut acceptor = config();
    acceptor.initial_window = 1024;
    acceptor.max_frame_size = 1 << 20;
    let mut pair = Pair::connected_with(config(), acceptor);
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let big = vec![9u8; 100_000];
    pair.dialer
        .session
        .send_data(id, &big)
        .expect("credit > 0 allows any size");
    assert_eq!(pair.dialer.session.send_credit(id), 1024 - 100_000);
    assert_eq!(
        pair.dialer.session.send_data(id, b"more"),
        Err(SendError::Blocked)
    );
    pair.drive();
    assert_eq!(received(&mut pair), vec![100_000]);
    assert!(pair.acceptor.errors.is_empty());
    pair.acceptor.session.consumed(id, 100_000);
    pair.drive();
    assert_eq!(pair.dialer.next_event(), Some(Event::Credit { id }));
    assert_eq!(pair.dialer.session.send_credit(id), 1024);
}

#[test]
fn a_sender_exceeding_window_plus_max_frame_is_a_flow_control_error() {
    let (mut pair, id) = small_window_pair();
    // A misbehaving dialer ignores credit: window 4096 + frame 2048 = 6144 allowed.
    for _ in 0..3 {
        pair.acceptor.inject(
            pair.now,
            Data {
                stream: id,
                payload: vec![0; 2048].into(),
            },
        );
    }
    assert!(pair.acceptor.errors.is_empty());
    pair.acceptor.inject(
        pair.now,
        Data {
            stream: id,
            payload: vec![0; 1].into(),
        },
    );
    let want = Error::Protocol(Violation::FlowControl {
        id,
        outstanding: 6145,
        limit: 6144,
    });
    assert_eq!(pair.acceptor.errors, vec![want.clone()]);
    assert_eq!(want.code(), ErrorCode::FLOW_CONTROL_ERROR);
    pair.drive();
    assert!(matches!(
        pair.dialer.failure(),
        Some(Error::Remote {
            code: ErrorCode::FLOW_CONTROL_ERROR,
            ..
        })
    ));
}

#[test]
fn credit_overflow_is_a_flow_control_error() {
    let (mut pair, id) = small_window_pair();
    let credit = |increment| Credit {
        stream: id,
        increment,
    };
    // Reaching 2^62 honestly takes 2^30 frames; start just below the ceiling.
    pair.dialer
        .session
        .set_send_credit_for_test(id, crate::MAX_CREDIT - i64::from(u32::MAX));
    pair.dialer.inject(pair.now, credit(u32::MAX));
    assert!(pair.dialer.errors.is_empty());
    assert_eq!(pair.dialer.session.send_credit(id), crate::MAX_CREDIT);
    pair.dialer.inject(pair.now, credit(1));
    assert_eq!(
        pair.dialer.errors,
        vec![Error::Protocol(Violation::CreditOverflow(id))]
    );
}

#[test]
fn a_payload_above_the_peers_max_frame_size_is_too_large() {
    let (mut pair, id) = small_window_pair();
    assert_eq!(
        pair.dialer.session.send_data(id, &[0; 2049]),
        Err(SendError::TooLarge {
            len: 2049,
            max: 2048
        })
    );
    assert_eq!(pair.dialer.session.transmit_len(), 0);
    let r = pair.dialer.session.send_data_with(id, |buf| {
        buf.extend_from_slice(&[0; 3000]);
        Ok::<(), std::convert::Infallible>(())
    });
    assert_eq!(
        r,
        Err(SendError::TooLarge {
            len: 3000,
            max: 2048
        })
    );
    assert_eq!(pair.dialer.session.transmit_len(), 0);
    assert_eq!(pair.dialer.session.send_credit(id), 4096);
}

#[test]
fn send_data_with_encodes_in_place_and_rolls_back_on_error() {
    let (mut pair, id) = small_window_pair();
    pair.dialer.session.send_data(id, b"before").expect("send");
    let queued = pair.dialer.session.transmit_len();
    let r = pair.dialer.session.send_data_with(id, |buf| {
        assert!(buf.is_empty(), "the closure sees only its own payload");
        buf.extend_from_slice(b"half-written");
        Err("codec failed")
    });
    assert_eq!(r, Err(SendError::Encode("codec failed")));
    assert_eq!(pair.dialer.session.transmit_len(), queued);
    pair.dialer
        .session
        .send_data_with(id, |buf| {
            buf.extend_from_slice(b"{\"n\":1}");
            Ok::<(), ()>(())
        })
        .expect("send");
    pair.drive();
    let payloads: Vec<_> = pair
        .acceptor
        .events
        .drain(..)
        .filter_map(|e| match e {
            Event::Data { payload, .. } => Some(payload),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, vec![&b"before"[..], &b"{\"n\":1}"[..]]);
    assert_eq!(pair.dialer.session.send_credit(id), 4096 - 6 - 7);
}

#[test]
fn a_stalled_stream_does_not_stall_others() {
    let (mut pair, slow) = small_window_pair();
    let fast = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.dialer
        .session
        .send_data(slow, &[0; 2048])
        .expect("send");
    pair.dialer
        .session
        .send_data(slow, &[0; 2048])
        .expect("send");
    assert_eq!(
        pair.dialer.session.send_data(slow, b"x"),
        Err(SendError::Blocked)
    );
    for _ in 0..10 {
        pair.dialer
            .session
            .send_data(fast, &[1; 1000])
            .expect("fast stream has its own credit");
        pair.drive();
        pair.acceptor.session.consumed(fast, 1000);
    }
    pair.drive();
    assert!(pair.acceptor.errors.is_empty());
}

#[test]
fn large_windows_credit_in_u32_chunks() {
    let mut acceptor = Limits::new(["json"]);
    acceptor.initial_window = 1 << 34;
    acceptor.max_frame_size = u32::MAX;
    let mut pair = Pair::connected_with(config(), acceptor);
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    pair.acceptor.session.receive_for_test(id, 1 << 33);
    pair.acceptor.session.consumed(id, 1 << 33);
    let credits = frames(&pair.acceptor.take_transmit());
    let total: u64 = credits
        .iter()
        .map(|f| match f {
            Frame::Credit(c) => u64::from(c.increment),
            other => panic!("unexpected {other:?}"),
        })
        .sum();
    assert_eq!(total, 1 << 33);
    assert_eq!(credits.len(), 3);
}

/// A pair whose acceptor grants a session window of 64 KiB, and 48 KiB per
/// stream.
fn small_session_pair() -> Pair {
    let mut acceptor = config();
    acceptor.session_window = 64 << 10;
    acceptor.initial_window = 48 << 10;
    Pair::connected_with(config(), acceptor)
}

#[test]
fn the_session_window_bounds_data_across_streams() {
    let mut pair = small_session_pair();
    let a = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    let b = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.dialer.session.send_data(a, &[0; 40 << 10]).expect("a");
    pair.dialer
        .session
        .send_data(b, &[0; 30 << 10])
        .expect("b: session credit 24 KiB left");
    // Both streams still have credit of their own; the session has none.
    assert!(pair.dialer.session.send_credit(a) > 0 && pair.dialer.session.send_credit(b) > 0);
    assert_eq!(
        pair.dialer.session.send_data(a, b"x"),
        Err(SendError::Blocked)
    );
    assert_eq!(
        pair.dialer.session.send_data(b, b"x"),
        Err(SendError::Blocked)
    );
    pair.drive();
    pair.acceptor.clear_events();
    // Consuming returns stream credit, but only session credit unblocks.
    pair.acceptor.session.consumed(a, 40 << 10);
    pair.drive();
    assert!(pair.dialer.events.is_empty(), "still no session credit");
    pair.acceptor.session.consumed_session(40 << 10);
    pair.drive();
    let mut unblocked: Vec<StreamId> = pair
        .dialer
        .events
        .drain(..)
        .filter_map(|e| match e {
            Event::Credit { id } => Some(id),
            _ => None,
        })
        .collect();
    unblocked.sort();
    assert_eq!(
        unblocked,
        vec![a, b],
        "every stream blocked on the session resumes"
    );
}

#[test]
fn data_beyond_the_session_window_is_a_flow_control_error() {
    let mut pair = small_session_pair();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = pair
            .dialer
            .session
            .open(StreamKind::OpenerSends, true)
            .expect("open");
        ids.push(id);
    }
    pair.drive();
    pair.acceptor.clear_events();
    // A peer that ignores the session window: 3 × 40 KiB > 64 KiB + 4 MiB? No:
    // it must exceed window + one frame, so send frames of 1 MiB.
    for (i, id) in ids.iter().enumerate() {
        pair.acceptor.inject(
            pair.now,
            Data {
                stream: *id,
                payload: vec![i as u8; 40 << 10].into(),
            },
        );
    }
    assert!(
        pair.acceptor.errors.is_empty(),
        "120 KiB is within 64 KiB + one frame"
    );
    let mut big = config();
    big.max_frame_size = 16 << 10;
    big.session_window = 64 << 10;
    let mut pair = Pair::connected_with(config(), big);
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    pair.acceptor.clear_events();
    for _ in 0..6 {
        pair.acceptor.inject(
            pair.now,
            Data {
                stream: id,
                payload: vec![0; 16 << 10].into(),
            },
        );
    }
    assert!(matches!(
        pair.acceptor.errors.as_slice(),
        [Error::Protocol(Violation::FlowControl {
            id: StreamId(0),
            ..
        })]
    ));
}

#[test]
fn data_for_an_ended_stream_returns_its_session_credit_at_once() {
    let mut pair = Pair::connected();
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.drive();
    pair.acceptor
        .session
        .reset(id, ErrorCode::CANCEL, "not reading");
    let _ = pair.acceptor.take_transmit();
    // 9 MiB for the cancelled stream, racing the RESET: above half the
    // default session window, so the credit goes back in one CREDIT.
    for _ in 0..3 {
        pair.acceptor.inject(
            pair.now,
            Data {
                stream: id,
                payload: vec![0; 3 << 20].into(),
            },
        );
    }
    assert!(pair.acceptor.errors.is_empty());
    assert!(
        frames(&pair.acceptor.take_transmit())
            .iter()
            .any(|f| matches!(
                f,
                Frame::Credit(Credit {
                    stream: StreamId(0),
                    ..
                })
            )),
        "session credit for ignored DATA is returned"
    );
}

#[test]
fn a_full_send_buffer_blocks_data_until_it_is_taken() {
    let mut dialer = config();
    dialer.max_send_buffer = 8 << 10;
    let mut pair = Pair::connected_with(dialer, config());
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.dialer
        .session
        .send_data(id, &[1; 6 << 10])
        .expect("room");
    pair.dialer
        .session
        .send_data(id, &[2; 6 << 10])
        .expect("a message may start below the mark");
    assert_eq!(
        pair.dialer.session.send_data(id, b"x"),
        Err(SendError::Blocked)
    );
    assert!(!pair.dialer.session.poll_send_ready(id));
    let _ = pair.dialer.session.poll_transmit().expect("frames queued");
    assert_eq!(
        pair.dialer.session.poll_event(),
        Some(Event::Credit { id }),
        "taking the buffer unblocks the stream"
    );
    pair.dialer.session.send_data(id, b"x").expect("room again");
}
