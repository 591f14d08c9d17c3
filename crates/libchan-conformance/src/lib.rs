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
                return e;
            }
            i += 1;
            tokio::task::yield_now().await;
        }
    })
    .await
}

/// Instantiates every transport case as a `#[tokio::test]` in a module
/// named `conformance`, each calling the case with the harness `$harness`.
#[macro_export]
macro_rules! transport_suite {
    ($harness:expr) => {
        $crate::transport_suite!(conformance, $harness);
    };
    ($module:ident, $harness:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::__cases!($harness;
                top_level_channels_from_either_side,
                messages_keep_their_order_per_channel,
                dropping_the_last_sender_closes_cleanly,
                closing_the_session_ends_accept,
                lost_session_breaks_every_channel,
                dropped_receiver_fails_the_sender,
                nested_ends_at_depth_travel_both_ways,
                reply_channels_answer_requests,
                seed_message_request_response,
                byte_stream_in_a_message_is_duplex,
                end_sent_back_reaches_its_owner_directly,
                thousand_concurrent_channels,
                slow_receiver_makes_the_sender_wait,
                queued_messages_outlive_the_last_sender
            );
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
