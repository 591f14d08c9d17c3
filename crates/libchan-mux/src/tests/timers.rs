//! Keepalive and PING.

use std::time::Duration;

use super::util::{config, frames, Pair};
use crate::codes::ErrorCode;
use crate::error::Error;
use crate::frame::{Frame, Ping};
use crate::Event;

const INTERVAL: Duration = crate::config::DEFAULT_KEEPALIVE;

fn pings(bytes: &[u8]) -> Vec<Ping> {
    frames(bytes)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Ping(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn keepalive_pings_an_idle_peer_and_the_ack_keeps_the_session() {
    let mut pair = Pair::connected();
    assert_eq!(
        pair.dialer.session.poll_timeout(),
        Some(pair.now + INTERVAL)
    );
    pair.advance(INTERVAL);
    // Both sides were idle; each sends one PING.
    let sent = pair.dialer.take_transmit();
    assert_eq!(pings(&sent).len(), 1);
    assert!(!pings(&sent)[0].ack);
    pair.acceptor.feed(pair.now, &sent);
    pair.drive();
    assert!(pair
        .dialer
        .events
        .iter()
        .any(|e| matches!(e, Event::PingAck { .. })));
    for _ in 0..5 {
        pair.advance(INTERVAL);
        pair.drive();
    }
    assert!(pair.dialer.failure().is_none() && pair.acceptor.failure().is_none());
}

#[test]
fn keepalive_times_out_when_the_peer_goes_silent() {
    let mut pair = Pair::connected();
    pair.advance(INTERVAL);
    assert_eq!(pings(&pair.dialer.take_transmit()).len(), 1);
    pair.advance(INTERVAL - Duration::from_millis(1));
    assert!(pair.dialer.failure().is_none());
    pair.advance(Duration::from_millis(1));
    assert_eq!(
        pair.dialer.failure(),
        Some(&Error::KeepaliveTimeout(INTERVAL))
    );
    let goaway = frames(&pair.dialer.take_transmit())
        .into_iter()
        .find_map(|f| match f {
            Frame::GoAway(g) => Some(g),
            _ => None,
        })
        .expect("GOAWAY");
    assert_eq!(goaway.code, ErrorCode::KEEPALIVE_TIMEOUT);
}

#[test]
fn any_input_resets_the_keepalive_timer() {
    let mut pair = Pair::connected();
    for _ in 0..10 {
        pair.advance(INTERVAL - Duration::from_secs(1));
        assert!(pings(&pair.dialer.take_transmit()).is_empty());
        // The acceptor sends something (a PING of its own) just in time.
        pair.acceptor.session.ping(pair.now);
        pair.drive();
    }
    assert!(pair.dialer.failure().is_none());
}

#[test]
fn disabled_keepalive_arms_no_timer() {
    let mut quiet = config();
    quiet.keepalive = None;
    let mut pair = Pair::connected_with(quiet.clone(), quiet);
    assert_eq!(pair.dialer.session.poll_timeout(), None);
    pair.advance(Duration::from_secs(3600));
    assert!(pair.dialer.failure().is_none());
}

#[test]
fn ping_ack_reports_the_round_trip_time() {
    let mut pair = Pair::connected();
    pair.dialer.session.ping(pair.now);
    let sent = pair.dialer.take_transmit();
    pair.now += Duration::from_millis(40);
    pair.acceptor.feed(pair.now, &sent);
    let reply = pair.acceptor.take_transmit();
    assert_eq!(pings(&reply).len(), 1);
    assert!(pings(&reply)[0].ack);
    assert_eq!(pings(&reply)[0].payload, pings(&sent)[0].payload);
    pair.now += Duration::from_millis(40);
    pair.dialer.feed(pair.now, &reply);
    assert_eq!(
        pair.dialer.next_event(),
        Some(Event::PingAck {
            rtt: Duration::from_millis(80)
        })
    );
}

#[test]
fn unflushed_ping_replies_are_coalesced() {
    let mut pair = Pair::connected();
    for _ in 0..1000 {
        pair.acceptor.inject(
            pair.now,
            Ping {
                ack: false,
                payload: [1; 8],
            },
        );
    }
    assert_eq!(pings(&pair.acceptor.take_transmit()).len(), 1);
    pair.acceptor.inject(
        pair.now,
        Ping {
            ack: false,
            payload: [2; 8],
        },
    );
    assert_eq!(pings(&pair.acceptor.take_transmit()).len(), 1);
}

#[test]
fn an_unsolicited_ping_ack_is_ignored() {
    let mut pair = Pair::connected();
    pair.dialer.inject(
        pair.now,
        Ping {
            ack: true,
            payload: [9; 8],
        },
    );
    assert!(pair.dialer.events.is_empty() && pair.dialer.errors.is_empty());
}
