//! Arbitrary bytes from the very start of a connection (magic, HELLO, ...)
//! into a Connection of either role: must never panic, and a session that
//! reports Ready must have computed a codec both lists contain.
//!
//! Input layout: byte 0 picks our role (bit 0) and the chunk size the rest is
//! fed in (bits 1..).

#![no_main]

use std::time::{Duration, Instant};

use libchan_mux::{Limits, Event, Role, Connection};
use libfuzzer_sys::fuzz_target;

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
    let ours = ["json", "msgpack", "xml"];
    let mut now = Instant::now();
    let mut session = Connection::new(role, Limits::new(ours), now).expect("valid config");
    for part in rest.chunks(chunk) {
        let _ = session.handle_input(now, part);
        while let Some(event) = session.poll_event() {
            if let Event::Ready { codec, .. } = event {
                assert!(ours.contains(&codec.as_str()), "chose {codec:?}, not ours");
                assert_eq!(session.codec(), Some(codec.as_str()));
            }
        }
        let _ = session.poll_transmit();
        now += Duration::from_secs(1);
        session.handle_timeout(now);
    }
});
