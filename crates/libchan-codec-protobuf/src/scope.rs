//! Encode and decode passes: what a handle needs to know about the message
//! it is part of, beyond what prost's `Message` methods carry.
//!
//! prost encodes in two steps that cannot fail: `encoded_len` (called once
//! per level of nesting for every embedded message, so several times for a
//! deep one) and `encode_raw`. A handle must export its end exactly once per
//! message and write the same id every time it is asked, and an export that
//! fails must fail the whole message. So [`Proto`](crate::Proto) runs each
//! encode as a *pass* with a process-unique number: a handle remembers the
//! id it got in the current pass, and a failure is recorded here and
//! returned when the pass ends. Decoding records failures the same way, so
//! the caller gets the typed [`NestError`] rather than prost's text.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

use libchan_core::NestError;

thread_local! {
    /// The encode pass running on this thread (0: none).
    static PASS: Cell<u64> = const { Cell::new(0) };
    /// Passes (encode or decode) running on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The first failure of the innermost running pass.
    static FAILURE: RefCell<Option<NestError>> = const { RefCell::new(None) };
}

/// Pass numbers are unique in the process, so a handle that moved between
/// threads can never mistake another thread's pass for the one it saw.
static NEXT_PASS: AtomicU64 = AtomicU64::new(1);

/// Restores the outer pass when a pass ends, even by unwinding.
struct Restore {
    pass: u64,
    failure: Option<NestError>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        PASS.with(|p| p.set(self.pass));
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        FAILURE.with(|f| *f.borrow_mut() = self.failure.take());
    }
}

fn run<R>(pass: u64, f: impl FnOnce() -> R) -> (R, Option<NestError>) {
    let _restore = Restore {
        pass: PASS.with(|p| p.replace(pass)),
        failure: FAILURE.with(|f| f.borrow_mut().take()),
    };
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = f();
    let failure = FAILURE.with(|f| f.borrow_mut().take());
    (result, failure)
}

/// Runs `f` (one message's encode) as a new pass; returns its result and
/// the first export failure of the pass.
pub(crate) fn encode_pass<R>(f: impl FnOnce() -> R) -> (R, Option<NestError>) {
    run(NEXT_PASS.fetch_add(1, Ordering::Relaxed), f)
}

/// Runs `f` (one message's decode); returns its result and the first import
/// failure.
pub(crate) fn decode_pass<R>(f: impl FnOnce() -> R) -> (R, Option<NestError>) {
    run(0, f)
}

/// The encode pass running on this thread, if any.
pub(crate) fn current_pass() -> Option<u64> {
    match PASS.with(Cell::get) {
        0 => None,
        pass => Some(pass),
    }
}

/// Records `err` as the running pass's failure (the first one wins). Outside
/// any pass there is nobody to tell: the caller's prost error says it.
pub(crate) fn fail(err: NestError) {
    if DEPTH.with(Cell::get) > 0 {
        FAILURE.with(|f| {
            f.borrow_mut().get_or_insert(err);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_nest_and_restore() {
        assert_eq!(current_pass(), None);
        let ((outer, inner, after), failure) = encode_pass(|| {
            let outer = current_pass();
            fail(NestError::NoSession("outer"));
            let (inner, inner_failure) = encode_pass(|| {
                fail(NestError::NoSession("inner"));
                fail(NestError::NoSession("second"));
                current_pass()
            });
            assert_eq!(inner_failure, Some(NestError::NoSession("inner")));
            (outer, inner, current_pass())
        });
        assert!(outer.is_some() && inner.is_some() && outer != inner);
        assert_eq!(after, outer, "the outer pass is restored");
        assert_eq!(failure, Some(NestError::NoSession("outer")));
        assert_eq!(current_pass(), None);
    }

    #[test]
    fn failures_outside_a_pass_are_not_kept() {
        fail(NestError::NoSession("stray"));
        let ((), failure) = decode_pass(|| ());
        assert_eq!(failure, None);
    }
}
