//! # libchan-transport-inmem: a connected pair of sessions in one process
//!
//! [`pair`] returns two [`InmemSession`]s wired to each other. Channels
//! opened on one are accepted on the other; values move between them
//! without serialization, and ends nested in messages stay the same live
//! handles, so delivery is exactly once and no forwarding ever happens.
//! Useful in tests, and to run code written against [`Session`] inside one
//! process.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use libchan_core::SessionExt;
//!
//! let (client, server) = libchan_transport_inmem::pair();
//! let tx = client.open::<String>()?;
//! tx.send("hello".into()).await?;
//! let mut rx = server.accept::<String>().await?.expect("a channel");
//! assert_eq!(rx.recv().await?, Some("hello".into()));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # });
//! ```
//!
//! ## Guarantees
//!
//! * Exactly-once, ordered delivery per sender; no encoding, so any
//!   [`Payload`](libchan_core::Payload) type works and nothing can fail to decode.
//! * [`Session::abort`] breaks the pair as a
//!   lost connection would: every top-level channel opened over it breaks
//!   (receivers get [`ChannelError::SessionLost`](libchan_core::ChannelError)
//!   after what is queued). Ends nested in messages are plain in-memory
//!   channels and do not break with the session.
//! * [`close`](libchan_core::Session::close), or dropping one side, ends the
//!   pair cleanly: channels already open are unaffected (they never depended
//!   on the session), and the peer's `accept` returns `None` once it took
//!   what was opened before.
//! * Opening a channel never waits; at most [`Config::max_pending_accepts`]
//!   channels may wait for `accept` before `open` fails with a limit error.

#![deny(missing_docs)]

mod session;

pub use session::{pair, pair_with_config, Config, InmemSession};

#[doc(no_inline)]
pub use libchan_core::Session;
