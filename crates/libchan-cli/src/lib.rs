//! # libchan-cli: the `libchan` command, and what it is built from
//!
//! The binary (`libchan demo | serve | exec | cat | gateway | forward |
//! bench`, see `libchan --help`) is a thin shell around the modules here,
//! which programs can use too:
//!
//! * [`services`]: the documented service set of `libchan serve` (echo, a
//!   streamed response, nested channels both ways, byte-stream echo,
//!   `exec`) and the wire types a Rust client sends them; the contract for
//!   other languages is `docs/SERVICES.md`.
//! * [`gateway`]: the TCP gateway behind `libchan gateway` and `libchan
//!   forward`: raw TCP connections carried as byte streams over one
//!   session.
//! * [`transport`]: transports by name (`--transport`), with dialling,
//!   listening, and loopback pairs for running both ends in one process.

#![deny(missing_docs)]

pub mod gateway;
pub mod services;
pub mod transport;
