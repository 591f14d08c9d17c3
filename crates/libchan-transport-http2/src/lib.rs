//! # libchan-transport-http2: libchan sessions over HTTP/2
//!
//! A libchan session carried by one HTTP/2 stream: the client `POST`s a
//! session request, the server answers `200`, and from then on the request
//! body and the response body are the two directions of the multiplexed
//! libchan protocol (`libchan-mux`, `docs/PROTOCOL.md`). Every channel,
//! nested end and byte stream of the session is a libchan stream inside
//! it. The result is ordinary HTTP/2 that standard reverse proxies
//! (HAProxy, tested) forward, authentication middleware can inspect, and
//! HTTP servers (hyper, axum) can route beside other endpoints. Either
//! side opens channels toward the other, exactly as over TCP.
//!
//! * h2c with prior knowledge (`http://`) and h2 over TLS with ALPN `h2`
//!   (`https://`, rustls).
//! * Client: [`connect`], [`Connector`] for `https://`,
//!   [`connect_with_request`] to send headers (a bearer token), and
//!   [`Client`] for many sessions on one connection.
//! * Server: [`Listener`], or [`Server::serve_connection`] on any stream,
//!   with a request check ([`Server::check_request`]) that may refuse with
//!   an HTTP status; [`accept_request`] for a request an HTTP server
//!   already routed; [`Server::serve_h2_request`] for a request from your
//!   own h2 accept loop.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libchan_core::SessionExt;
//! use libchan_transport_http2::{connect_with_request, http, Config, Listener, Rejection, Server};
//! use libchan_codec_json::Json;
//!
//! let server = Server::new(Config::new(Json)).check_request(|req| {
//!     match req.headers().get(http::header::AUTHORIZATION) {
//!         Some(token) if token == "Bearer s3cr3t" => Ok(()),
//!         _ => Err(Rejection::unauthorized("a bearer token is required")),
//!     }
//! });
//! let listener = Listener::bind("127.0.0.1:0", server).await?;
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
//! let request = http::Request::post(format!("http://{addr}/libchan"))
//!     .header(http::header::AUTHORIZATION, "Bearer s3cr3t")
//!     .body(())?;
//! let session = connect_with_request(request, Config::new(Json)).await?;
//! let tx = session.open::<String>()?;
//! tx.send("hello over HTTP/2".into()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! Everything the libchan protocol promises over a byte stream (see the TCP
//! transport): ordered, no duplicates, per channel; per-channel flow
//! control and a session window; every handle reports a lost session. On
//! top:
//!
//! * The session's bytes travel in DATA frames of one stream, paced by
//!   HTTP/2 flow control (stream and connection windows) underneath
//!   libchan's own credit; message boundaries mean nothing to HTTP/2.
//! * A clean end is the libchan goodbye (GOAWAY inside the stream), then
//!   `END_STREAM` both ways. A reset of the stream (`RST_STREAM`, from the
//!   peer or a proxy) breaks this session only, with
//!   [`Error::StreamReset`]; an HTTP/2 `GOAWAY` with an error, or a lost
//!   connection, breaks every session on the connection.
//! * Connecting, TLS, the HTTP/2 handshake and the session request are
//!   bounded by the session's handshake timeout
//!   ([`Error::HandshakeTimeout`]).
//!
//! Session errors reach you as [`SessionError::Io`](libchan_core::SessionError::Io)
//! whose `std::io::Error` carries the [`Error`]: [`Error::find`] gets it back.
//!
//! ## What it does not do
//!
//! * One libchan channel is not one HTTP/2 stream: the whole session is
//!   one stream (`docs/PROTOCOL.md`, "Over HTTP/2", says why).
//! * No HTTP/1.1: a session needs a full-duplex body, which HTTP/1.1
//!   proxies and servers do not give (use the WebSocket transport there).
//! * No trust store of its own (`https://` needs roots from you), no
//!   reconnection.

#![deny(missing_docs)]

mod body;
mod client;
mod error;
mod io;
mod server;
mod session;

pub use body::ResponseBody;
pub use client::{connect, connect_with_request, Client, Connector};
pub use error::{Error, Rejection};
pub use server::{accept, accept_request, Connection, Listener, Server, DEFAULT_MAX_SESSIONS};
pub use session::H2Session;

/// The h2 crate this transport is built on (its `Reason` codes appear in
/// [`Error`]; [`Server::serve_h2_request`] takes its types).
pub use h2;
/// The `http` crate's types used in requests and responses.
pub use http;
#[doc(no_inline)]
pub use libchan_mux::driver::SessionConfig as Config;
/// rustls, for [`Connector::with_tls`] and [`Server::with_tls`].
pub use rustls;

/// The ALPN protocol id of HTTP/2 over TLS, offered by every client and
/// required by every server of this crate.
pub const ALPN: &[u8] = b"h2";

/// The content type of a session request and of the response that
/// accepts it: `application/x-libchan`.
pub const CONTENT_TYPE: &str = "application/x-libchan";
