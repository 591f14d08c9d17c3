//! # libchan: channels like Go's, over the network
//!
//! Typed [`Sender`]/[`Receiver`] channels that work the same in memory and
//! across a connection. Messages are ordinary Rust values; they may carry
//! further channel ends and byte streams at any depth, so a request brings
//! its own reply channel, its own stdin/stdout, its own event feed.
//!
//! Pick the pieces with cargo features: one per codec (`json`, `msgpack`,
//! `xml`, `protobuf`) and one per transport (`inmem`, `tcp`, `unix`, `tls`,
//! `websocket`, `http2`), for example
//! `libchan = { version = "0.1", features = ["msgpack", "tcp"] }`.
//!
//! ## Choosing a codec
//!
//! The codec is a property of the session, not of your types: the same
//! `#[derive(Serialize, Deserialize)]` message travels with any of them, and
//! the two peers agree on one in the handshake (the dialer's first choice
//! that the acceptor also offers; none in common is a
//! [`SessionError::CodecMismatch`] naming both lists).
//!
//! | feature | codec | pick it when |
//! |---|---|---|
//! | `json` | JSON (`codec::Json`) | peers in other languages, debugging with eyes and `jq` |
//! | `msgpack` | MessagePack (`codec::Msgpack`) | throughput and binary payloads (`Bytes` travel as `bin`) |
//! | `xml` | XML (`codec::Xml`) | an XML ecosystem on the other side |
//! | `protobuf` | Protocol Buffers (`codec::Protobuf`) | schema-first: `.proto` files shared with other languages; messages are prost types wrapped in `codec::Proto<T>`, channel fields are `libchan.Sender` / `libchan.Receiver` / `libchan.ByteStream` |
//!
//! ```
//! # #[cfg(all(feature = "json", feature = "msgpack", feature = "tcp"))]
//! # fn config() -> libchan::tcp::Config {
//! use std::sync::Arc;
//! use libchan::codec::{Json, Msgpack};
//!
//! // Prefer msgpack, fall back to json for peers that only speak json.
//! libchan::tcp::Config::with_codecs(vec![Arc::new(Msgpack), Arc::new(Json)])
//! # }
//! ```
//!
//! In memory ([`inmem`]) nothing is encoded: values move as they are.
//!
//! ## Request/response
//!
//! ```
//! use libchan::{Request, SessionExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Two connected sessions; over TCP or a unix socket only this line changes.
//! let (client, server) = libchan::inmem::pair();
//!
//! // The server answers every request on the reply channel it carries.
//! tokio::spawn(async move {
//!     let mut requests = server
//!         .accept::<Request<String, String>>()
//!         .await?
//!         .expect("the client opens a channel");
//!     while let Some(req) = requests.recv().await? {
//!         let answer = format!("hello, {}", req.body);
//!         req.respond(answer).await?;
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! // The client opens a channel and calls: a fresh reply channel per request.
//! let service = client.open::<Request<String, String>>()?;
//! let answer = service.call("world".to_string()).await?;
//! assert_eq!(answer, "hello, world");
//! # Ok(()) }
//! ```
//!
//! ## Serving many connections
//!
//! An accept error concerns one connection (too many open files, a
//! connection reset before it was accepted), not the listener: keep
//! accepting, after a short pause so a lasting condition does not spin.
//!
//! ```no_run
//! # #[cfg(all(feature = "json", feature = "tcp"))]
//! # async fn serve() -> Result<(), libchan::SessionError> {
//! use libchan::prelude::*;
//! use libchan::tcp::{Config, Listener};
//!
//! let listener = Listener::bind("0.0.0.0:7000", Config::new(libchan::codec::Json)).await?;
//! loop {
//!     let (session, peer) = match listener.accept().await {
//!         Ok(accepted) => accepted,
//!         Err(e) => {
//!             eprintln!("accept failed: {e}");
//!             tokio::time::sleep(std::time::Duration::from_millis(100)).await;
//!             continue;
//!         }
//!     };
//!     tokio::spawn(async move {
//!         while let Ok(Some(mut requests)) = session.accept::<Request<String, usize>>().await {
//!             while let Ok(Some(req)) = requests.recv().await {
//!                 let (body, responder) = req.into_parts();
//!                 let _ = responder.respond(body.len()).await;
//!             }
//!         }
//!         eprintln!("{peer} went away");
//!     });
//! }
//! # }
//! ```
//!
//! The limits every connection has (largest message, windows, timeouts,
//! stream counts) are [`Limits`], set through the transport's `Config`.
//!
//! ## Fan-out without a slow subscriber stalling the rest
//!
//! [`Sender::try_send`] never waits: a subscriber whose channel is full is
//! skipped (or dropped), one that went away is removed.
//!
//! ```
//! use libchan::{Sender, TrySendError};
//!
//! fn publish(subscribers: &mut Vec<Sender<String>>, event: &str) {
//!     subscribers.retain(|s| match s.try_send(event.to_owned()) {
//!         Ok(()) | Err(TrySendError::Full(_)) => true, // delivered, or skipped this once
//!         Err(_) => false,                             // gone or broken: unsubscribe
//!     });
//! }
//! # let (tx, _rx) = libchan::pipe::<String>();
//! # publish(&mut vec![tx], "hello");
//! ```
//!
//! ## The untyped message of the original libchan
//!
//! [`Message`] carries data bytes, an optional [`ByteStream`] and an optional
//! return channel; [`Sender::send_ret`] is the original `RetPipe`.
//!
//! ## Semantics in one paragraph
//!
//! `send` waits while the receiver is slow (bounded buffers and per-channel
//! credit); `recv` returns `Ok(None)` after a clean close (the last sender
//! dropped) and an error when the channel broke (session lost, peer reset,
//! undecodable message). Ordered per channel, never duplicated; in memory
//! exactly once; over a connection, messages may be lost only when the
//! connection dies, and then every affected handle reports it.

#![deny(missing_docs)]

pub use libchan_core::{
    pipe, pipe_with_capacity, BoxError, ByteStream, ChannelError, Codec, CodecError,
    ConnectionLoss, DuplexIo, HandshakeError, Initiator, LimitError, Message, NestError, Payload,
    Permit, Receiver, Request, Responder, SendError, SendFuture, Sender, Session, SessionError,
    SessionExt, SessionId, SessionStats, SharedReceiver, TryRecvError, TrySendError,
    DEFAULT_CAPACITY,
};

/// The session limits of every connection transport (`tcp`, `unix`, `tls`,
/// `websocket`, `http2`): one type, held as `limits` by each transport's
/// `Config`.
/// Its documentation has the table of every limit and its default.
///
/// ```
/// # #[cfg(all(feature = "json", feature = "tcp"))] {
/// let mut config = libchan::tcp::Config::new(libchan::codec::Json);
/// let limits: &mut libchan::Limits = &mut config.limits;
/// limits.max_frame_size = 64 << 10;
/// limits.handshake_timeout = std::time::Duration::from_secs(3);
/// # }
/// ```
#[cfg(any(
    feature = "tcp",
    feature = "unix",
    feature = "tls",
    feature = "websocket",
    feature = "http2"
))]
pub use libchan_mux::Limits;

/// Why a [`Limits`] value was refused (the source of
/// [`SessionError::Config`]).
#[cfg(any(
    feature = "tcp",
    feature = "unix",
    feature = "tls",
    feature = "websocket",
    feature = "http2"
))]
pub use libchan_mux::ConfigError;

/// For transport and codec authors only: what a session implements and is
/// handed ([`Session`], the exported and incoming ends, [`new_session_id`](transport::new_session_id),
/// [`sender_from_incoming`](transport::sender_from_incoming), ...), and the
/// nesting scope a codec encodes and decodes ends through
/// ([`transport::nest`]). A program that uses libchan needs nothing from
/// here; `libchan-conformance` checks what is built with it.
pub mod transport {
    #[doc(inline)]
    pub use libchan_core::transport::*;

    /// How channel ends inside a message are exported and imported while a
    /// codec runs.
    pub mod nest {
        #[doc(inline)]
        pub use libchan_core::nest::*;
    }
}

/// The names most programs use, in one import: `use libchan::prelude::*;`.
///
/// The traits bring the session calls (`open`, `accept`, `close`,
/// `handshake`, ...) into scope on every session type.
pub mod prelude {
    pub use libchan_core::{
        pipe, pipe_with_capacity, ByteStream, ChannelError, Message, Receiver, Request, Responder,
        SendError, Sender, Session, SessionError, SessionExt, SharedReceiver, TryRecvError,
        TrySendError,
    };
}

/// Codecs, one per feature.
pub mod codec {
    pub use libchan_core::codec::{Codec, Payload, SerdeCodec};

    #[cfg(feature = "json")]
    #[doc(inline)]
    pub use libchan_codec_json::Json;

    #[cfg(feature = "msgpack")]
    #[doc(inline)]
    pub use libchan_codec_msgpack::Msgpack;

    #[cfg(feature = "xml")]
    #[doc(inline)]
    pub use libchan_codec_xml::Xml;

    #[cfg(feature = "protobuf")]
    #[doc(inline)]
    pub use libchan_codec_protobuf::{ByteStreamRef, Proto, Protobuf, ReceiverRef, SenderRef};

    /// The protobuf codec's crate, for the path generated code names the
    /// handles by: `build::Builder::handles_path("::libchan::codec::protobuf")`.
    #[cfg(feature = "protobuf")]
    pub use libchan_codec_protobuf as protobuf;
}

/// TCP: [`connect`](tcp::connect), [`Listener`](tcp::Listener),
/// [`from_stream`](tcp::from_stream) for a stream connected another way, and the
/// session configuration (codecs offered, limits).
#[cfg(feature = "tcp")]
pub mod tcp {
    #[doc(inline)]
    pub use libchan_transport_tcp::{connect, from_stream, Config, Listener, Role, TcpSession};
}

/// TLS (rustls) over TCP or any byte stream: [`connect`](tls::connect),
/// [`Listener`](tls::Listener), [`connect_over`](tls::connect_over) /
/// [`accept_over`](tls::accept_over), the TLS configuration
/// ([`ClientTls`](tls::ClientTls), [`ServerTls`](tls::ServerTls)) and the
/// peer's verified identity ([`TlsSession::peer_identity`](tls::TlsSession::peer_identity)).
#[cfg(feature = "tls")]
pub mod tls {
    #[doc(inline)]
    pub use libchan_transport_tls::*;
}

/// WebSocket: libchan in binary messages, [`connect`](websocket::connect)
/// (`ws://`, or `wss://` through a [`Connector`](websocket::Connector) with
/// rustls), [`Listener`](websocket::Listener) / [`Server`](websocket::Server)
/// (with a request check for authentication), and
/// [`accept_upgraded`](websocket::accept_upgraded) to mount an endpoint in
/// an existing HTTP server.
#[cfg(feature = "websocket")]
pub mod websocket {
    #[doc(inline)]
    pub use libchan_transport_websocket::{
        accept, accept_upgraded, connect, connect_with_request, http, rustls, upgrade_response,
        Config, Connector, Error, Listener, Rejection, Server, WsSession,
    };
}

/// Unix sockets, where a byte stream backed by a file descriptor
/// ([`ByteStream::from_fd`]) travels as the descriptor itself:
/// [`connect`](unix::connect), [`Listener`](unix::Listener),
/// [`pair`](unix::pair), and a [`Handoff`](unix::Handoff) to a child process.
#[cfg(feature = "unix")]
pub mod unix {
    #[doc(inline)]
    pub use libchan_transport_unix::*;
}

/// HTTP/2: a session carried by one HTTP/2 stream, h2c (`http://`) or h2
/// over TLS with ALPN (`https://`), through standard reverse proxies:
/// [`connect`](http2::connect) / [`Connector`](http2::Connector) /
/// [`Client`](http2::Client), [`Listener`](http2::Listener) /
/// [`Server`](http2::Server) (with a request check for authentication), and
/// [`accept_request`](http2::accept_request) to mount an endpoint in an
/// HTTP server beside other routes.
#[cfg(feature = "http2")]
pub mod http2 {
    #[doc(inline)]
    pub use libchan_transport_http2::*;
}

/// The in-process transport: a connected pair of sessions.
#[cfg(feature = "inmem")]
pub mod inmem {
    #[doc(inline)]
    pub use libchan_transport_inmem::{pair, pair_with_config, Config, InmemSession};
}
