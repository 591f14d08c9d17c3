//! The libchan multiplexing protocol as a pure state machine ("sans-IO").
//!
//! This crate turns one ordered byte stream (TCP, a unix socket, TLS, a
//! WebSocket) into many typed-channel streams with per-stream flow control.
//! It does no IO, spawns nothing and reads no clock: a driver feeds a
//! [`Connection`] the bytes it reads and the current time, and writes out the
//! bytes the session produces. See [`Connection`] for the call order, and
//! `docs/PROTOCOL.md` in the repository for the wire format.
//!
//! ```
//! use std::time::Instant;
//! use libchan_mux::{Limits, Event, Role, Connection, StreamKind};
//!
//! let now = Instant::now();
//! let mut dialer = Connection::new(Role::Dialer, Limits::new(["msgpack", "json"]), now)?;
//! let mut acceptor = Connection::new(Role::Acceptor, Limits::new(["json"]), now)?;
//!
//! // Open a channel and send a message before the handshake finishes.
//! let id = dialer.open(StreamKind::OpenerSends, true)?;
//! dialer.send_data(id, b"hello")?;
//!
//! // A driver would move these bytes over a socket.
//! let wire = dialer.poll_transmit().expect("magic, HELLO, OPEN, DATA");
//! acceptor.handle_input(now, &wire)?;
//!
//! assert!(matches!(acceptor.poll_event(), Some(Event::Ready { codec, .. }) if codec == "json"));
//! assert!(matches!(acceptor.poll_event(), Some(Event::Opened { top_level: true, .. })));
//! match acceptor.poll_event() {
//!     Some(Event::Data { payload, .. }) => assert_eq!(&payload[..], b"hello"),
//!     other => panic!("expected data, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: [`frame`] holds the wire format (one file per frame type, all
//! decoding through a checked reader); `session` the state machine (stream
//! states, credit accounting, timers as data); [`codes`] the open wire
//! enums; [`error`] the errors and their wire codes.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod codes;
pub mod config;
mod connection;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod error;
pub mod frame;
mod reader;
mod stream_id;

#[cfg(test)]
mod tests;

pub use codes::{ErrorCode, FrameType, Role, SettingId, StreamKind};
pub use config::{Limits, PeerSettings};
pub use connection::{Connection, Counters, Event, MAX_CREDIT, SMALL_PAYLOAD};
pub use error::{ConfigError, Error, SendError, StreamError, Violation};
pub use frame::Frame;
pub use stream_id::StreamId;
