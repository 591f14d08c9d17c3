//! # libchan-transport-websocket: libchan sessions over WebSocket
//!
//! The multiplexed libchan protocol (`libchan-mux`) carried in WebSocket
//! **binary** messages, so libchan runs where only HTTP gets through:
//! behind reverse proxies and load balancers, on the same port as a REST
//! API, from a browser. Either side opens channels toward the other, and
//! messages carry nested channels and byte streams, exactly as over TCP.
//!
//! * Client: [`connect`] (`ws://`), [`Connector`] for `wss://` (rustls) and
//!   [`connect_with_request`] to send headers (a bearer token, cookies).
//! * Server: [`Listener`] or [`accept`] / [`Server::accept`] on any
//!   stream, doing the HTTP upgrade itself, with an optional request check
//!   ([`Server::check_request`]) that may refuse with an HTTP status and
//!   TLS ([`Server::with_tls`]); or [`accept_upgraded`] for a connection an
//!   HTTP server (axum, hyper) already upgraded.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libchan_core::SessionExt;
//! use libchan_transport_websocket::{connect, Config, Listener, Server};
//! use libchan_codec_json::Json;
//!
//! let listener = Listener::bind("127.0.0.1:0", Server::new(Config::new(Json))).await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let (session, _peer) = listener.accept().await?;
//!     println!("session for {}", session.request().uri().path());
//!     let mut rx = session.accept::<String>().await?.expect("a channel");
//!     while let Some(line) = rx.recv().await? {
//!         println!("got {line}");
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let session = connect(&format!("ws://{addr}/libchan"), Config::new(Json)).await?;
//! let tx = session.open::<String>()?;
//! tx.send("hello over a websocket".into()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! Everything the libchan protocol promises over a byte stream (see the TCP
//! transport): ordered, no duplicates, per channel; per-channel flow
//! control; every handle reports a lost session. On top:
//!
//! * libchan's bytes travel in binary messages only; message boundaries mean
//!   nothing (a write batch of frames is one message, cut at 256 KiB).
//! * Pings are answered; a **text** message, a message larger than the
//!   session's `max_frame_size` plus 256 KiB, or a WebSocket protocol
//!   violation ends the session with a typed [`Error`] (and the peer gets
//!   close code 1003, 1009 or 1002).
//! * A close frame from the peer before the libchan session ended is a lost
//!   session whose error carries the close code and reason
//!   ([`Error::ClosedByPeer`]); a clean libchan close ends with a close
//!   frame of code 1000 (normal closure).
//! * Connecting, TLS and the HTTP upgrade are bounded by the session's
//!   handshake timeout ([`Error::HandshakeTimeout`]).
//!
//! Session errors reach you as [`SessionError::Io`](libchan_core::SessionError::Io)
//! whose `std::io::Error` carries the [`Error`]: [`Error::find`] gets it back.
//!
//! ## What it does not do
//!
//! * No WebSocket extensions (no permessage-deflate) and no subprotocol
//!   negotiation of its own; a server check may require one.
//! * `wss://` needs a rustls configuration from you (roots are your
//!   choice: [`Connector::with_root_certificates`]); there is no built-in
//!   trust store.
//! * No reconnection: a lost session is lost; open a new one.

#![deny(missing_docs)]

mod client;
mod error;
mod io;
mod server;
mod session;

pub use client::{connect, connect_with_request, Connector};
pub use error::{Error, Rejection};
pub use server::{accept, accept_upgraded, upgrade_response, Listener, Server};
pub use session::WsSession;

#[doc(no_inline)]
pub use libchan_mux::driver::SessionConfig as Config;
/// rustls, for [`Connector::with_tls`] and [`Server::with_tls`].
pub use rustls;
/// The `http` crate's types used in upgrade requests and responses.
pub use tokio_tungstenite::tungstenite::http;
