//! # libchan-conformance: one suite, every transport and codec
//!
//! The behaviour every libchan transport promises, written once. A transport
//! (ours or yours) implements [`Harness`] — "give me a connected pair of
//! sessions" and "cut the connection under them" — and instantiates every
//! case as its own test with [`transport_suite!`]:
//!
//! ```text
//! // tests/conformance.rs of your transport crate
//! struct MyHarness;
//!
//! #[async_trait::async_trait]
//! impl libchan_conformance::Harness for MyHarness {
//!     type Session = my_transport::Session;
//!     async fn pair(&self) -> (Self::Session, Self::Session) { /* dial + accept */ }
//!     async fn sever(&self, dialer: &Self::Session, acceptor: &Self::Session) { /* kill the socket */ }
//! }
//!
//! libchan_conformance::transport_suite!(MyHarness);
//! ```
//!
//! Codecs have their own checks in [`codec`]. Each case is an `async fn`
//! taking the harness, so the suite can also be driven by hand
//! ([`cases::run_all`]). Every wait inside a case is bounded by
//! [`CASE_TIMEOUT`]; a case that hits it fails naming what it waited for
//! (a hang is a failure, never a pass), and no case asserts on timing.

#![deny(missing_docs)]

pub mod cases;
pub mod codec;
pub mod fault;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod types;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use libchan_core::Session;

/// The longest any single step of a case may wait before the case fails as
/// hung. Generous: it only separates "slow machine" from "never".
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a transport provides to be tested.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// The transport's session type.
    type Session: Session;

    /// A fresh, connected pair of sessions: `(dialer, acceptor)`.
    async fn pair(&self) -> (Self::Session, Self::Session);

    /// Breaks the connection under the pair abruptly, as a crashed peer or a
    /// cut cable would (no goodbye).
    async fn sever(&self, dialer: &Self::Session, acceptor: &Self::Session);

    /// The largest message the peer accepts, in encoded bytes, if the
    /// transport limits it (a mux transport: the peer's `max_frame_size`).
    /// `None` (the default) means unlimited: the oversize case then checks
    /// that a large message goes through intact instead.
    fn max_message_size(&self) -> Option<usize> {
        None
    }
}

/// Awaits `fut`, failing the case if it takes longer than [`CASE_TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(CASE_TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("conformance: hung waiting for {what} (more than {CASE_TIMEOUT:?})"),
    }
}

/// Keeps sending values made by `make` until a send fails, and returns that
/// error; fails the case if none does within [`CASE_TIMEOUT`]. For breaks
/// that reach a sender asynchronously (a lost connection, a peer's cancel):
/// sends queued before the break arrives may still succeed.
pub async fn first_send_error<T: Send + 'static>(
    what: &str,
    tx: &libchan_core::Sender<T>,
    mut make: impl FnMut(u64) -> T,
) -> libchan_core::ChannelError {
    within(what, async {
        let mut i = 0;
        loop {
            if let Err(e) = tx.send(make(i)).await {
                return e.into_error();
            }
            i += 1;
            tokio::task::yield_now().await;
        }
    })
    .await
}

/// Calls the macro `$crate::$callback!` with `$args` and the name of every
/// transport case: the one place the case list is written.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_case {
    ($callback:ident; $($args:tt)*) => {
        $crate::$callback!($($args)*;
            top_level_channels_from_either_side,
            messages_keep_their_order_per_channel,
            dropping_the_last_sender_closes_cleanly,
            closing_the_session_ends_accept,
            lost_session_breaks_every_channel,
            dropped_receiver_is_seen_by_an_idle_sender,
            dropping_every_handle_closes_an_idle_session,
            nested_ends_at_depth_travel_both_ways,
            nested_receiver_delivers_without_other_traffic,
            reply_channels_answer_requests,
            seed_message_request_response,
            byte_stream_in_a_message_is_duplex,
            byte_stream_dropped_without_shutdown_reads_as_an_error,
            failing_byte_stream_source_reads_as_an_error,
            byte_stream_carries_256_mib_intact,
            byte_stream_half_closes_each_way,
            byte_stream_reader_gone_mid_stream_fails_the_writer,
            hundred_byte_streams_at_once,
            end_sent_back_reaches_its_owner_directly,
            thousand_concurrent_channels,
            burst_of_calls_on_fresh_channels_is_not_refused,
            slow_receiver_makes_the_sender_wait,
            queued_messages_outlive_the_last_sender,
            graceful_close_delivers_everything_sent_both_ways,
            requests_sent_before_close_reach_a_late_accept,
            sender_abort_reaches_the_receiver_with_its_reason,
            sender_dropped_in_a_panic_breaks_the_channel,
            session_abort_reaches_the_peer_as_an_abort,
            oversize_message_is_a_limit_error_before_and_after_the_handshake
        );
    };
}

/// Instantiates every transport case as a `#[tokio::test]` in a module
/// named `conformance` (or `$module`), each calling the case with the
/// harness `$harness`.
#[macro_export]
macro_rules! transport_suite {
    ($harness:expr) => {
        $crate::transport_suite!(conformance, $harness);
    };
    ($module:ident, $harness:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::__for_each_case!(__cases; $harness);
        }
    };
}

/// Instantiates only the named cases (for a harness that exists to check a
/// few of them under special conditions, such as a slow link).
#[macro_export]
macro_rules! transport_cases {
    ($module:ident, $harness:expr; $($case:ident),+ $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::__cases!($harness; $($case),+);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cases {
    ($harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::cases::$case(&$harness).await;
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __run_cases {
    ($harness:expr; $($case:ident),* $(,)?) => {
        $( $crate::cases::$case($harness).await; )*
    };
}
