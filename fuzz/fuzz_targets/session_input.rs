//! Arbitrary bytes after a valid preface into a Connection: must never panic,
//! and must keep its own invariants (bounded buffering, sticky errors).
//!
//! Input layout: byte 0 picks our role (bit 0) and the chunk size the rest
//! is fed in (bits 1..); the rest is what the peer sends after its preface.

#![no_main]

use std::time::{Duration, Instant};

use libchan_mux::{Limits, ErrorCode, Event, Role, Connection, StreamKind};
use libfuzzer_sys::fuzz_target;

fn config() -> Limits {
    let mut c = Limits::new(["json", "msgpack"]);
    // Small limits so the fuzzer reaches them.
    c.max_frame_size = 1024;
    c.initial_window = 2048;
    c.max_streams = 8;
    c.max_pending_opens = 4;
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let role = if control & 1 == 0 {
        Role::Acceptor
    } else {
        Role::Dialer
    };
    let chunk = usize::from(control >> 1).max(1);
    let mut now = Instant::now();
    let mut session = Connection::new(role, config(), now).expect("valid config");
    let mut peer = Connection::new(role.peer(), config(), now).expect("valid config");
    let preface = peer.poll_transmit().expect("preface");
    session
        .handle_input(now, &preface)
        .expect("a valid preface is accepted");
    // Streams of ours for the peer's frames to hit.
    let _ = session.open(StreamKind::OpenerSends, true);
    let _ = session.open(StreamKind::Bytes, false);
    let mut failed = None;
    for part in rest.chunks(chunk) {
        match session.handle_input(now, part) {
            Ok(()) => assert!(failed.is_none(), "input accepted after a failure"),
            Err(e) => {
                if let Some(first) = &failed {
                    assert_eq!(first, &e, "the error is sticky");
                }
                failed = Some(e);
            }
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::Data { id, payload } => {
                    session.consumed(id, payload.len());
                }
                Event::Opened {
                    id,
                    top_level: false,
                    ..
                } => {
                    if id.0 % 3 == 0 {
                        let _ = session.claim(id);
                    } else {
                        session.reset(id, ErrorCode::CANCEL, "fuzz");
                    }
                }
                Event::Credit { id } => {
                    let _ = session.send_data(id, b"x");
                }
                _ => {}
            }
        }
        let _ = session.poll_transmit();
        now += Duration::from_millis(500);
        session.handle_timeout(now);
    }
});
