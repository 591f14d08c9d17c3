//! Ending the session: the graceful close (GOAWAY both ways, then drain),
//! the abrupt one (GOAWAY with an error code), and failures.
//!
//! ```text
//!   Ready ── goaway(NO_ERROR) sent, or the peer's received ──▶ closing
//!   closing: no new top-level streams either way (ours fail with
//!            `Closing`, the peer's are refused); open streams carry on;
//!            the side that has not sent GOAWAY answers with its own
//!   closing ── both GOAWAYs exchanged and no stream open ──▶ Ended (Drained)
//!   closing ── linger timer ──▶ Ended (Failed: LingerTimeout, GOAWAY ABORTED)
//!   any ── goaway(code ≠ NO_ERROR), or a fatal error ──▶ Ended
//! ```

use std::time::Instant;

use super::{Connection, Event, Phase, Timer};
use crate::codes::ErrorCode;
use crate::error::Error;
use crate::frame::{self, GoAway};

impl Connection {
    /// Ends the session, gracefully with [`ErrorCode::NO_ERROR`], abruptly
    /// with any other code.
    ///
    /// Graceful: queues GOAWAY `NO_ERROR` and starts closing (see the
    /// module docs): no new top-level streams, open ones finish, and
    /// [`Event::Drained`] follows once the peer has answered and nothing is
    /// open; the linger timer (`Limits::linger`, armed from `now`) bounds
    /// the wait. A second call is a no-op.
    ///
    /// Abrupt: queues GOAWAY with `code` and `reason` and ends the session
    /// at once; nothing more is sent or read. Write out
    /// [`poll_transmit`](Self::poll_transmit), then close the connection.
    pub fn goaway(&mut self, now: Instant, code: ErrorCode, reason: &str) {
        if self.phase == Phase::Ended {
            return;
        }
        if code != ErrorCode::NO_ERROR {
            GoAway {
                code,
                reason: frame::truncate_reason(reason).to_owned(),
            }
            .encode(&mut self.transmit);
            self.end();
            return;
        }
        if self.goaway_sent {
            return;
        }
        self.send_goaway(now, reason);
        self.check_drained();
    }

    /// Whether a graceful close is under way (GOAWAY sent or received) or
    /// the session has ended.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.goaway_sent || self.goaway_received || self.phase == Phase::Ended
    }

    /// Queues our GOAWAY `NO_ERROR` and arms the linger timer.
    pub(super) fn send_goaway(&mut self, now: Instant, reason: &str) {
        self.goaway_sent = true;
        GoAway {
            code: ErrorCode::NO_ERROR,
            reason: frame::truncate_reason(reason).to_owned(),
        }
        .encode(&mut self.transmit);
        self.timers.set(Timer::Linger, now + self.config.linger);
        tracing::debug!(open = self.stream_count(), "closing: GOAWAY sent");
    }

    /// The peer sent GOAWAY `NO_ERROR`: it is closing; answer with ours.
    pub(super) fn on_peer_goaway(&mut self, now: Instant, reason: String) {
        if self.goaway_received {
            return;
        }
        tracing::debug!(%reason, "peer is closing the session");
        self.goaway_received = true;
        self.events.push_back(Event::GoAway { reason });
        if !self.goaway_sent {
            self.send_goaway(now, "closing as the peer asked");
        }
        self.check_drained();
    }

    /// Ends the session cleanly once both sides said GOAWAY and nothing is
    /// open any more.
    pub(super) fn check_drained(&mut self) {
        if self.phase != Phase::Ended
            && self.goaway_sent
            && self.goaway_received
            && self.local_open == 0
            && self.remote_open == 0
        {
            tracing::debug!("closed: both sides said GOAWAY and no stream is open");
            self.end();
            self.events.push_back(Event::Drained);
        }
    }

    pub(super) fn end(&mut self) {
        self.phase = Phase::Ended;
        self.timers.stop_all();
    }

    /// Ends the session with `error`: queues GOAWAY (unless the peer sent
    /// one), records and reports the error.
    pub(super) fn fail(&mut self, error: Error) -> Error {
        if error.is_peer_fault() {
            tracing::warn!(%error, code = %error.code(), "session failed: the peer broke the protocol or a limit");
        } else {
            tracing::debug!(%error, code = %error.code(), "session failed");
        }
        if !error.is_remote() {
            GoAway {
                code: error.code(),
                reason: frame::truncate_reason(&error.to_string()).to_owned(),
            }
            .encode(&mut self.transmit);
        }
        self.end();
        self.error = Some(error.clone());
        self.events.push_back(Event::Failed(error.clone()));
        error
    }
}
