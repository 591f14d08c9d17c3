//! Timers as data (model: quinn-proto `connection/timer.rs`).
//!
//! The session never reads a clock: it records deadlines in a small table
//! indexed by [`Timer`]; the driver asks for the earliest with
//! `Connection::poll_timeout`, sleeps until then and calls
//! `Connection::handle_timeout(now)`.

use std::time::Instant;

/// The session's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The peer's HELLO must arrive before this deadline.
    Handshake = 0,
    /// Nothing received since the last keepalive deadline: send a PING, or
    /// fail if the previous one went unanswered.
    Keepalive = 1,
    /// A graceful close must have finished by this deadline.
    Linger = 2,
}

impl Timer {
    /// Every timer, in table order.
    pub(crate) const VALUES: [Self; 3] = [Self::Handshake, Self::Keepalive, Self::Linger];
}

/// A deadline per [`Timer`], `None` when stopped.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable {
    data: [Option<Instant>; Timer::VALUES.len()],
}

impl TimerTable {
    /// Arms `timer` to fire at `when`.
    pub(crate) fn set(&mut self, timer: Timer, when: Instant) {
        self.data[timer as usize] = Some(when);
    }

    /// Stops `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.data[timer as usize] = None;
    }

    /// Stops every timer.
    pub(crate) fn stop_all(&mut self) {
        self.data = Default::default();
    }

    /// Whether `timer` is armed and due at `now`.
    pub(crate) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.data[timer as usize].is_some_and(|t| t <= now)
    }

    /// The earliest armed deadline.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn next_timeout_is_the_earliest_armed_deadline() {
        let now = Instant::now();
        let mut timers = TimerTable::default();
        assert_eq!(timers.next_timeout(), None);
        timers.set(Timer::Keepalive, now + Duration::from_secs(30));
        timers.set(Timer::Handshake, now + Duration::from_secs(10));
        assert_eq!(timers.next_timeout(), Some(now + Duration::from_secs(10)));
        assert!(!timers.is_expired(Timer::Handshake, now));
        assert!(timers.is_expired(Timer::Handshake, now + Duration::from_secs(10)));
        timers.stop(Timer::Handshake);
        assert_eq!(timers.next_timeout(), Some(now + Duration::from_secs(30)));
        timers.stop_all();
        assert_eq!(timers.next_timeout(), None);
    }
}
