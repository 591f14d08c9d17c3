//! Behaviour tests: two sessions wired together in memory on virtual time.

mod close;
mod flow;
mod handshake;
mod input;
mod open_kinds;
mod proptests;
mod streams;
mod timers;
mod util;
