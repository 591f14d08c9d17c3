//! Handshake: magic, HELLO, version, roles, codec selection.

use std::time::Duration;

use super::util::{config, frames, preface, Pair};
use crate::codes::{ErrorCode, FrameType, SettingId};
use crate::config::PeerSettings;
use crate::error::{Error, Violation};
use crate::frame::{self, Frame, GoAway, Hello, Ping, Setting, MAGIC, VERSION};
use crate::{Event, Limits, Role, SendError, StreamKind};

fn goaway_sent(bytes: &[u8]) -> Option<GoAway> {
    frames(bytes).into_iter().find_map(|f| match f {
        Frame::GoAway(g) => Some(g),
        _ => None,
    })
}

#[test]
fn handshake_picks_the_dialers_first_common_codec() {
    let mut pair = Pair::new(
        Limits::new(["xml", "msgpack", "json"]),
        Limits::new(["json", "msgpack"]),
    );
    pair.drive();
    for side in [&mut pair.dialer, &mut pair.acceptor] {
        match side.next_event() {
            Some(Event::Ready { codec, peer }) => {
                assert_eq!(codec, "msgpack");
                assert_eq!(peer.max_frame_size, crate::config::DEFAULT_MAX_FRAME_SIZE);
            }
            other => panic!("expected Ready, got {other:?}"),
        }
        assert_eq!(side.session.codec(), Some("msgpack"));
        assert!(side.session.peer_settings().is_some());
    }
}

#[test]
fn peer_settings_reflect_the_peers_hello() {
    let mut acceptor_config = config();
    acceptor_config.max_frame_size = 64 << 10;
    acceptor_config.initial_window = 32 << 10;
    acceptor_config.max_streams = 7;
    acceptor_config.max_pending_opens = 3;
    let pair = Pair::connected_with(config(), acceptor_config);
    assert_eq!(
        pair.dialer.session.peer_settings(),
        Some(&PeerSettings {
            max_frame_size: 64 << 10,
            initial_window: 32 << 10,
            max_streams: 7,
            max_pending_opens: 3,
            session_window: crate::config::DEFAULT_SESSION_WINDOW,
            max_pending_fds: crate::config::DEFAULT_MAX_PENDING_FDS,
        })
    );
}

#[test]
fn codec_mismatch_fails_both_sides_with_both_lists() {
    let mut pair = Pair::new(Limits::new(["xml", "json"]), Limits::new(["msgpack"]));
    pair.drive();
    let want = Error::CodecMismatch {
        dialer: vec!["xml".into(), "json".into()],
        acceptor: vec!["msgpack".into()],
    };
    for side in [&pair.dialer, &pair.acceptor] {
        assert_eq!(side.failure(), Some(&want));
        // handle_input returned it (and returns it again for later input).
        assert_eq!(side.errors.first(), Some(&want));
        let goaway = goaway_sent(&side.sent).expect("GOAWAY sent");
        assert_eq!(goaway.code, ErrorCode::CODEC_MISMATCH);
        assert!(goaway.reason.contains("msgpack") && goaway.reason.contains("xml"));
        assert!(side.session.is_ended());
    }
}

#[test]
fn version_mismatch_names_both_versions() {
    let mut pair = Pair::new(config(), config());
    // A future peer: magic, then a HELLO whose version is 2 and whose rest
    // this version cannot parse.
    let mut wire = MAGIC.to_vec();
    wire.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xff]);
    pair.acceptor.feed(pair.now, &wire);
    let want = Error::VersionMismatch {
        local: VERSION,
        peer: 2,
    };
    assert_eq!(pair.acceptor.errors, vec![want.clone()]);
    assert!(want.to_string().contains("version 1") && want.to_string().contains("version 2"));
    let goaway = goaway_sent(&pair.acceptor.take_transmit()).expect("GOAWAY");
    assert_eq!(goaway.code, ErrorCode::VERSION_MISMATCH);
}

#[test]
fn two_dialers_are_a_role_conflict() {
    let mut pair = Pair::new(config(), config());
    pair.acceptor
        .feed(pair.now, &preface(Role::Acceptor, config()));
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::RoleConflict(Role::Acceptor)]
    );
    pair.dialer.feed(pair.now, &preface(Role::Dialer, config()));
    assert_eq!(pair.dialer.errors, vec![Error::RoleConflict(Role::Dialer)]);
}

#[test]
fn bad_magic_fails_with_peer_not_speaking_libchan() {
    let mut pair = Pair::new(config(), config());
    pair.acceptor
        .feed(pair.now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(pair.acceptor.errors, vec![Error::BadMagic]);
    assert_eq!(
        Error::BadMagic.to_string(),
        "peer is not speaking libchan (bad magic)"
    );
    let goaway = goaway_sent(&pair.acceptor.take_transmit()).expect("GOAWAY");
    assert_eq!(goaway.code, ErrorCode::PROTOCOL_ERROR);
    // Input after the failure is refused with the same error.
    assert_eq!(
        pair.acceptor.session.handle_input(pair.now, b"libchan\0"),
        Err(Error::BadMagic)
    );
}

#[test]
fn bad_magic_is_detected_on_a_partial_prefix() {
    let mut pair = Pair::new(config(), config());
    pair.acceptor.feed(pair.now, b"lib");
    assert!(pair.acceptor.errors.is_empty());
    pair.acceptor.feed(pair.now, b"X");
    assert_eq!(pair.acceptor.errors, vec![Error::BadMagic]);
}

#[test]
fn first_frame_must_be_hello() {
    let mut pair = Pair::new(config(), config());
    pair.acceptor.feed(pair.now, &MAGIC);
    pair.acceptor.inject(
        pair.now,
        Ping {
            ack: false,
            payload: [0; 8],
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::ExpectedHello(FrameType::PING))]
    );
}

#[test]
fn a_second_hello_is_a_protocol_error() {
    let mut pair = Pair::connected();
    let hello = frames(&preface(Role::Dialer, config()))
        .into_iter()
        .next()
        .expect("HELLO");
    pair.acceptor.inject(pair.now, hello);
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::DuplicateHello)]
    );
}

#[test]
fn a_setting_out_of_range_fails_the_handshake() {
    let mut pair = Pair::new(config(), config());
    pair.acceptor.feed(pair.now, &MAGIC);
    pair.acceptor.inject(
        pair.now,
        Hello {
            version: VERSION,
            role: Role::Dialer,
            codecs: vec!["json".into()],
            settings: vec![Setting {
                id: SettingId::MAX_FRAME_SIZE,
                value: 10,
            }],
        },
    );
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Protocol(Violation::InvalidSetting {
            id: SettingId::MAX_FRAME_SIZE,
            value: 10
        })]
    );
}

#[test]
fn hello_over_4096_bytes_is_rejected_before_reading_it() {
    let mut pair = Pair::new(config(), config());
    let mut wire = MAGIC.to_vec();
    wire.extend_from_slice(&[0, 0, 0x10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    pair.acceptor.feed(pair.now, &wire);
    assert_eq!(
        pair.acceptor.errors,
        vec![Error::Malformed(frame::Error::TooLarge {
            frame_type: FrameType::HELLO,
            length: 4097,
            max: 4096
        })]
    );
}

#[test]
fn frames_sent_before_the_handshake_are_delivered() {
    let mut pair = Pair::new(config(), config());
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    pair.dialer
        .session
        .send_data(id, b"early")
        .expect("within assumed limits");
    // Everything leaves in the dialer's first write, without a round trip.
    let first_write = pair.dialer.take_transmit();
    assert_eq!(frames(&first_write).len(), 3);
    pair.acceptor.feed(pair.now, &first_write);
    assert!(matches!(
        pair.acceptor.next_event(),
        Some(Event::Ready { .. })
    ));
    assert_eq!(
        pair.acceptor.next_event(),
        Some(Event::Opened {
            id,
            kind: StreamKind::OpenerSends,
            top_level: true
        })
    );
    assert!(
        matches!(pair.acceptor.next_event(), Some(Event::Data { payload, .. }) if &payload[..] == b"early")
    );
}

#[test]
fn a_large_message_before_the_handshake_waits_for_ready() {
    let mut pair = Pair::new(config(), config());
    let id = pair
        .dialer
        .session
        .open(StreamKind::OpenerSends, true)
        .expect("open");
    // Before the peer's HELLO, only 1 KiB frames and 1 KiB of credit are assumed.
    assert_eq!(pair.dialer.session.send_credit(id), 1024);
    let big = vec![7u8; 5000];
    assert_eq!(
        pair.dialer.session.send_data(id, &big),
        Err(SendError::Blocked)
    );
    pair.drive();
    assert!(matches!(
        pair.dialer.next_event(),
        Some(Event::Ready { .. })
    ));
    assert_eq!(pair.dialer.next_event(), Some(Event::Credit { id }));
    assert_eq!(
        pair.dialer.session.send_credit(id),
        i64::try_from(crate::config::DEFAULT_INITIAL_WINDOW).expect("fits")
    );
    pair.dialer.session.send_data(id, &big).expect("fits now");
    pair.drive();
    let got: Vec<_> = pair.acceptor.events.drain(..).collect();
    assert!(got
        .iter()
        .any(|e| matches!(e, Event::Data { payload, .. } if payload.len() == 5000)));
}

#[test]
fn handshake_timeout_fails_with_its_code() {
    let mut pair = Pair::new(config(), config());
    let _ = pair.dialer.take_transmit(); // lost: the acceptor never hears it
    pair.advance(Duration::from_secs(9));
    assert!(pair.acceptor.failure().is_none());
    pair.advance(Duration::from_secs(1));
    let want = Error::HandshakeTimeout(crate::config::DEFAULT_HANDSHAKE_TIMEOUT);
    assert_eq!(pair.acceptor.failure(), Some(&want));
    let goaway = goaway_sent(&pair.acceptor.take_transmit()).expect("GOAWAY");
    assert_eq!(goaway.code, ErrorCode::HANDSHAKE_TIMEOUT);
    assert_eq!(pair.acceptor.session.poll_timeout(), None);
}

#[test]
fn handshake_stops_the_handshake_timer() {
    let mut pair = Pair::connected();
    pair.advance(Duration::from_secs(11));
    assert!(pair.dialer.failure().is_none() && pair.acceptor.failure().is_none());
}

#[test]
fn invalid_configs_are_rejected_up_front() {
    let now = std::time::Instant::now();
    assert!(crate::Connection::new(Role::Dialer, Limits::new(Vec::<String>::new()), now).is_err());
}
