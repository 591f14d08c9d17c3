//! Credit accounting, per stream and per direction.
//!
//! A data sender starts with the receiver's `INITIAL_WINDOW` of credit. It may
//! send DATA whenever its credit is > 0 and subtracts the payload length, so
//! credit can go negative ("overdraft"): a message larger than the window
//! still goes through and nothing deadlocks. The receiver therefore accepts
//! up to window + max frame size outstanding bytes, and returns credit with
//! CREDIT frames as its application consumes data, batched to one CREDIT per
//! half window.
//!
//! Invariant making the receiver's check sound: the receiver's view of the
//! sender's credit (granted − received) is never below the sender's own
//! (CREDIT in flight raises only the former, DATA in flight lowers only the
//! latter).

/// Credit ceiling: 2^62. CREDIT that would raise credit above it is a
/// protocol error, so `i64` arithmetic on credit never overflows.
pub const MAX_CREDIT: i64 = 1 << 62;

/// Our credit for sending on one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SendCredit {
    credit: i64,
}

impl SendCredit {
    /// Credit starting at the receiver's window (at most [`MAX_CREDIT`]).
    pub(crate) fn new(window: u64) -> Self {
        Self {
            credit: i64::try_from(window).unwrap_or(MAX_CREDIT).min(MAX_CREDIT),
        }
    }

    /// Current credit; negative while in overdraft.
    pub(crate) fn get(&self) -> i64 {
        self.credit
    }

    /// Whether a DATA frame may be sent now.
    pub(crate) fn can_send(&self) -> bool {
        self.credit > 0
    }

    /// Records a sent payload.
    pub(crate) fn consume(&mut self, len: usize) {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        self.credit = self.credit.saturating_sub(len);
    }

    /// Adds granted credit. Returns whether credit went from ≤ 0 to > 0, or
    /// `Err(())` if it would exceed [`MAX_CREDIT`] (a protocol error).
    pub(crate) fn grant(&mut self, increment: u64) -> Result<bool, ()> {
        let was_blocked = self.credit <= 0;
        let increment = i64::try_from(increment).map_err(|_| ())?;
        let credit = self.credit.checked_add(increment).ok_or(())?;
        if credit > MAX_CREDIT {
            return Err(());
        }
        self.credit = credit;
        Ok(was_blocked && credit > 0)
    }
}

/// The receive side of one stream: what the peer may still send, and what
/// the application has consumed but we have not yet credited back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// Our `INITIAL_WINDOW`.
    window: u64,
    /// Our view of the peer's credit: granted − received. Between
    /// −max_frame_size and `window`.
    credit: i64,
    /// Received bytes not yet consumed by the application.
    buffered: u64,
    /// Consumed bytes not yet credited back.
    unacked: u64,
}

/// The peer sent more than its credit allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overrun {
    /// Bytes received beyond what we have credited.
    pub(crate) outstanding: u64,
    /// Window plus max frame size.
    pub(crate) limit: u64,
}

impl RecvWindow {
    /// A window of `window` bytes (1024..=2^62, validated by `Limits`).
    pub(crate) fn new(window: u64) -> Self {
        Self {
            window,
            credit: i64::try_from(window).unwrap_or(MAX_CREDIT).min(MAX_CREDIT),
            buffered: 0,
            unacked: 0,
        }
    }

    /// Records `len` received bytes; errs if the peer now has more than
    /// window + `max_frame_size` bytes outstanding.
    pub(crate) fn on_data(&mut self, len: usize, max_frame_size: u32) -> Result<(), Overrun> {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let credit = self.credit.saturating_sub(len);
        let floor = -i64::from(max_frame_size);
        if credit < floor {
            let window = i64::try_from(self.window).unwrap_or(MAX_CREDIT);
            return Err(Overrun {
                outstanding: u64::try_from(window.saturating_sub(credit)).unwrap_or(u64::MAX),
                limit: self.window.saturating_add(u64::from(max_frame_size)),
            });
        }
        self.credit = credit;
        self.buffered = self
            .buffered
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        Ok(())
    }

    /// Received bytes the application has not consumed yet.
    pub(crate) fn buffered(&self) -> u64 {
        self.buffered
    }

    /// The application consumed `n` bytes (clamped to what was received and
    /// not yet consumed, so a buggy caller cannot mint credit). Returns the
    /// increment to send once half a window has accumulated.
    pub(crate) fn consumed(&mut self, n: u64) -> Option<u64> {
        let n = n.min(self.buffered);
        self.buffered -= n;
        self.unacked += n;
        if self.unacked == 0 || self.unacked < (self.window / 2).max(1) {
            return None;
        }
        let increment = std::mem::take(&mut self.unacked);
        // credit + unacked <= window always holds, so this cannot overflow.
        self.credit = self
            .credit
            .saturating_add(i64::try_from(increment).unwrap_or(MAX_CREDIT));
        Some(increment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_overdraft_and_resume() {
        let mut c = SendCredit::new(100);
        assert!(c.can_send());
        c.consume(250); // a message larger than the window still goes
        assert_eq!(c.get(), -150);
        assert!(!c.can_send());
        assert_eq!(c.grant(100), Ok(false));
        assert_eq!(c.grant(51), Ok(true));
        assert!(c.can_send());
    }

    #[test]
    fn sender_credit_overflow_is_an_error() {
        let mut c = SendCredit::new(u64::MAX);
        assert_eq!(c.get(), MAX_CREDIT);
        assert_eq!(c.grant(1), Err(()));
        assert_eq!(c.get(), MAX_CREDIT);
    }

    #[test]
    fn receiver_accepts_window_plus_one_frame_and_no_more() {
        let mut w = RecvWindow::new(1000);
        assert_eq!(w.on_data(1000, 500), Ok(()));
        assert_eq!(w.on_data(500, 500), Ok(()));
        assert_eq!(
            w.on_data(1, 500),
            Err(Overrun {
                outstanding: 1501,
                limit: 1500
            })
        );
    }

    #[test]
    fn receiver_credits_in_half_window_batches() {
        let mut w = RecvWindow::new(1000);
        w.on_data(800, 1000).expect("within window");
        assert_eq!(w.consumed(300), None);
        assert_eq!(w.consumed(300), Some(600));
        // Consuming more than was received is clamped.
        assert_eq!(w.consumed(10_000), None);
        assert_eq!(w.unacked, 200);
        w.on_data(1000, 1000).expect("credit was returned");
    }
}
