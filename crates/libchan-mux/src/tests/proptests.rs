//! Property tests: frame round trips, and no input can panic the decoder
//! or the session.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::input::busy_dialer_output;
use super::util::{config, preface};
use crate::codes::{ErrorCode, FrameType, SettingId};
use crate::frame::{
    read_frame, Close, Credit, Data, Frame, GoAway, Hello, Open, Ping, Reset, Setting, Unknown,
    VERSION,
};
use crate::{Connection, Role, StreamId, StreamKind};

fn stream() -> impl Strategy<Value = StreamId> {
    (1u64..=u64::MAX).prop_map(StreamId)
}

fn reason() -> impl Strategy<Value = String> {
    // At most 64 chars of at most 4 bytes: within the 256-byte cap.
    "\\PC{0,64}"
}

fn kind() -> impl Strategy<Value = StreamKind> {
    prop_oneof![
        Just(StreamKind::OpenerSends),
        Just(StreamKind::OpenerReceives),
        Just(StreamKind::Bytes)
    ]
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        prop_oneof![Just(Role::Dialer), Just(Role::Acceptor)],
        vec("[a-z0-9+.-]{1,32}", 0..8),
        btree_map(any::<u16>(), any::<u64>(), 0..8),
    )
        .prop_map(|(role, codecs, settings)| Hello {
            version: VERSION,
            role,
            codecs,
            settings: settings
                .into_iter()
                .map(|(id, value)| Setting {
                    id: SettingId(id),
                    value,
                })
                .collect(),
        })
}

pub(crate) fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        hello().prop_map(Frame::from),
        (stream(), kind(), any::<bool>()).prop_map(|(stream, kind, top_level)| Open {
            stream,
            kind,
            top_level
        }
        .into()),
        (stream(), vec(any::<u8>(), 0..256)).prop_map(|(stream, p)| Data {
            stream,
            payload: p.into()
        }
        .into()),
        (stream(), 1u32..).prop_map(|(stream, increment)| Credit { stream, increment }.into()),
        stream().prop_map(|stream| Close { stream }.into()),
        (stream(), any::<u32>(), reason()).prop_map(|(stream, code, reason)| Reset {
            stream,
            code: ErrorCode(code),
            reason
        }
        .into()),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, payload)| Ping { ack, payload }.into()),
        (any::<u32>(), reason()).prop_map(|(code, reason)| GoAway {
            code: ErrorCode(code),
            reason
        }
        .into()),
        (8u8.., any::<u8>(), any::<u64>(), vec(any::<u8>(), 0..64)).prop_map(
            |(t, flags, stream, p)| {
                Frame::Unknown(Unknown {
                    frame_type: FrameType(t),
                    flags,
                    stream: StreamId(stream),
                    payload: Bytes::from(p),
                })
            }
        ),
    ]
}

proptest! {
    #[test]
    fn any_frame_round_trips(frame in frame()) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        let encoded = buf.clone();
        let decoded = read_frame(&mut buf, u32::MAX);
        prop_assert_eq!(decoded, Ok(Some(frame.clone())));
        prop_assert!(buf.is_empty());
        // Re-encoding gives the same bytes.
        let mut again = BytesMut::new();
        frame.encode(&mut again);
        prop_assert_eq!(again, encoded);
    }

    #[test]
    fn any_bytes_into_the_frame_decoder_never_panic(bytes in vec(any::<u8>(), 0..512), max in any::<u32>()) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = read_frame(&mut buf, max) {}
    }

    #[test]
    fn any_bytes_after_a_valid_preface_never_panic_the_session(
        bytes in vec(any::<u8>(), 0..1024),
        chunk in 1usize..64,
    ) {
        let now = Instant::now();
        let mut session = Connection::new(Role::Acceptor, config(), now).expect("config");
        let _ = session.handle_input(now, &preface(Role::Dialer, config()));
        for part in bytes.chunks(chunk) {
            let _ = session.handle_input(now, part);
        }
        while session.poll_event().is_some() {}
        let _ = session.poll_transmit();
    }

    #[test]
    fn corrupted_valid_traffic_never_panics_the_session(
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut wire = busy_dialer_output();
        let len = wire.len();
        for (at, byte) in flips {
            if let Some(b) = wire.get_mut(at.index(len)) {
                *b ^= byte | 1;
            }
        }
        let now = Instant::now();
        let mut session = Connection::new(Role::Acceptor, config(), now).expect("config");
        let _ = session.handle_input(now, &wire);
        while session.poll_event().is_some() {}
    }

    #[test]
    fn any_chunking_yields_the_same_events(cuts in vec(any::<prop::sample::Index>(), 0..20)) {
        let wire = busy_dialer_output();
        let now = Instant::now();
        let events = |chunks: Vec<&[u8]>| {
            let mut s = Connection::new(Role::Acceptor, config(), now).expect("config");
            let mut out = Vec::new();
            for c in chunks {
                s.handle_input(now, c).expect("valid");
                while let Some(e) = s.poll_event() {
                    out.push(e);
                }
            }
            out
        };
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len())).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&wire[start..p]);
            start = p;
        }
        chunks.push(&wire[start..]);
        prop_assert_eq!(events(chunks), events(vec![&wire[..]]));
    }
}
