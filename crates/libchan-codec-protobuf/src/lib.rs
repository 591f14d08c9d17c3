//! # libchan-codec-protobuf: Protocol Buffers messages for libchan
//!
//! A schema-first codec. You describe your messages in `.proto` files, which
//! other languages compile too; prost turns them into Rust structs; those
//! structs travel on libchan channels wrapped in [`Proto<T>`], with the
//! [`Protobuf`] codec (wire name `"protobuf"`). Channel ends and byte
//! streams inside messages are fields of the types `libchan.Sender`,
//! `libchan.Receiver` and `libchan.ByteStream`, from the `libchan.proto`
//! this crate ships ([`LIBCHAN_PROTO`]); in the generated Rust they are live
//! handles: [`SenderRef`], [`ReceiverRef`], [`ByteStreamRef`].
//!
//! ## Picking the codec
//!
//! A session speaks the codec its configuration offers, negotiated in the
//! handshake (a peer offering no common codec is a clear
//! [`CodecMismatch`](libchan_core::SessionError::CodecMismatch) error):
//!
//! ```text
//! use libchan_codec_protobuf::{Protobuf, Proto};
//! let listener = libchan_transport_tcp::Listener::bind(addr, Config::new(Protobuf)).await?;
//! let session = libchan_transport_tcp::connect(addr, Config::new(Protobuf)).await?;
//! let requests = session.open::<Proto<app::Request>>()?;
//! ```
//!
//! With the `libchan` facade, enable its `protobuf` feature and use
//! `libchan::codec::Protobuf`. Only `Proto<T>` payloads travel over a
//! protobuf session (a serde type is refused with
//! [`CodecError::Unsupported`](libchan_core::CodecError::Unsupported)), and
//! `Proto<T>` travels only over a protobuf session. In memory
//! (`libchan-transport-inmem`) nothing is encoded: messages and the handles
//! in them move as they are, and work the same.
//!
//! ## Generating the Rust types: build.rs
//!
//! Nothing needs a system `protoc`. With the `build` feature, the `build`
//! module compiles `.proto` files with `protox` (a protobuf compiler in
//! Rust) and generates code with `prost-build`, mapping the `libchan.*`
//! types to the handles. `libchan.proto` is built in: `import
//! "libchan.proto";` works without a copy of it in your tree.
//!
//! ```toml
//! [dependencies]
//! libchan-codec-protobuf = "0.1"
//! prost = "0.14"
//!
//! [build-dependencies]
//! libchan-codec-protobuf = { version = "0.1", features = ["build"] }
//! ```
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     # #[cfg(feature = "build")]
//!     libchan_codec_protobuf::build::compile(&["proto/app.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! ```text
//! // proto/app.proto
//! syntax = "proto3";
//! package app;
//! import "libchan.proto";
//!
//! message Request {
//!   string query = 1;
//!   libchan.Sender reply = 2;      // carries Proto<app::Reply> messages
//!   libchan.ByteStream data = 3;
//! }
//! message Reply { string answer = 1; }
//! ```
//!
//! ```text
//! // src/main.rs
//! pub mod app { include!(concat!(env!("OUT_DIR"), "/app.rs")); }
//! // app::Request { query: String, reply: Option<SenderRef>, data: Option<ByteStreamRef> }
//! ```
//!
//! The element type of a channel is not part of the schema (protobuf has no
//! generics), so the handles are untyped and you name the type when you
//! convert: `SenderRef::new(tx)` from a `Sender<Proto<app::Reply>>`, and
//! `reply.into_sender::<Proto<app::Reply>>()` on the other side. Document
//! the element type beside each field, as above.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use libchan_codec_protobuf::{Proto, SenderRef};
//! use libchan_core::{pipe, Sender};
//!
//! // What prost-build generates for `message Ask { string q = 1; libchan.Sender reply = 2; }`:
//! #[derive(Clone, PartialEq, prost::Message)]
//! pub struct Ask {
//!     #[prost(string, tag = "1")]
//!     pub q: String,
//!     #[prost(message, optional, tag = "2")]
//!     pub reply: Option<SenderRef>,
//! }
//!
//! let (requests, mut incoming) = pipe::<Proto<Ask>>();
//! tokio::spawn(async move {
//!     while let Ok(Some(Proto(ask))) = incoming.recv().await {
//!         let reply: Sender<Proto<String>> =
//!             ask.reply.unwrap_or_default().into_sender().expect("a reply channel");
//!         let _ = reply.send(Proto(ask.q.to_uppercase())).await;
//!     }
//! });
//! let answer = requests
//!     .call_with(|tx: Sender<Proto<String>>| {
//!         Proto(Ask { q: "hello".into(), reply: Some(SenderRef::new(tx)) })
//!     })
//!     .await?;
//! assert_eq!(*answer, "HELLO");
//! # Ok::<_, libchan_core::ChannelError>(())
//! # });
//! ```
//!
//! Through the `libchan` facade (feature `protobuf`), point the generated
//! code at the facade's re-export instead:
//! `build::Builder::new().handles_path("::libchan::codec::protobuf").compile(..)`.
//!
//! ## What the handles promise
//!
//! * **Clone shares.** Like every prost message a handle is `Clone`,
//!   `PartialEq` and `Default`; a clone shares its end (whichever copy is
//!   converted or sent first takes it), equality is identity, and the
//!   default is an empty handle, written as an empty embedded message.
//! * **Sending exports.** When a session encodes a `Proto<T>`, each handle
//!   in it exports its end once (prost asks for lengths several times; the
//!   handle answers with the same id). A [`SenderRef`] keeps its sender, so
//!   the same message can be sent again; a [`ReceiverRef`] or
//!   [`ByteStreamRef`] moves its end out. A message must not hold the same
//!   handle (or two clones of it) twice: the reader would see one stream
//!   named twice and reject the message.
//! * **Arrived handles are typed by you.** A handle decoded from a session
//!   becomes a typed end when you convert it (`into_sender::<P>()`,
//!   `into_receiver::<P>()`); to pass a received sender or receiver on,
//!   convert it and wrap the typed end in a new handle (a received sender
//!   sent back to its owner then arrives there as the owner's own channel,
//!   with no forwarding). Dropping an arrived handle unconverted ends its
//!   channel as dropping the typed end would: the writer's receiver sees a
//!   clean close, or its sender sees `Closed`.
//! * **Only in a session.** Handles are written by `Proto<T>`'s encoding
//!   inside a session. prost's own `encode_to_vec` on a message writes them
//!   as empty references, and decoding a reference outside a session fails.
//!
//! ## How another language's protobuf user talks to a libchan service
//!
//! Compile your `.proto` files and `libchan.proto` with your language's
//! protobuf compiler as usual. A libchan session is the framed protocol of
//! `docs/PROTOCOL.md`; offer the codec name `protobuf` in HELLO. Each DATA
//! frame on a message channel carries exactly one protobuf-encoded message
//! (no length prefix: the frame delimits it).
//!
//! A `libchan.Sender`, `libchan.Receiver` or `libchan.ByteStream` field is
//! an embedded message whose field 1 is the **stream id** as a varint; the
//! message type says which end the reader gets. The stream itself is opened
//! by an OPEN frame (without `TOP_LEVEL`) written **before** the DATA frame
//! of the message that names it: kind 1 (the writer receives) for a
//! `libchan.Sender`, kind 0 (the writer sends) for a `libchan.Receiver`,
//! kind 2 for a `libchan.ByteStream`. A reader that meets the id of a
//! stream it opened itself in a `libchan.Sender` is getting its own channel
//! back.
//!
//! Worked example: a client in another language dials a libchan service
//! that accepts a channel of `app.Request` (the `.proto` above) and
//! answers each request with one `app.Reply` on its reply channel. The
//! client writes:
//!
//! ```text
//! 6c69626368616e00                          # magic "libchan\0"
//! 0000000e 00 00 0000000000000000           # HELLO, 14 bytes:
//!   0001 00 01 08 70726f746f627566 00       #   version 1, dialer, codecs ["protobuf"], no settings
//! 00000001 01 01 0000000000000001  00       # OPEN stream 1, TOP_LEVEL, kind 0: the request channel
//! 00000001 01 00 0000000000000003  01       # OPEN stream 3, nested, kind 1: the reply channel
//! 00000001 01 00 0000000000000005  02       # OPEN stream 5, nested, kind 2: the byte stream
//! 0000000c 02 00 0000000000000001           # DATA on stream 1, 12 bytes: app.Request
//!   0a 02 68 69                             #   field 1 (query), length 2, "hi"
//!   12 02 08 03                             #   field 2 (reply): libchan.Sender { id: 3 }
//!   1a 02 08 05                             #   field 3 (data): libchan.ByteStream { id: 5 }
//! 00000005 02 00 0000000000000005 68656c6c6f   # DATA on stream 5: the bytes "hello"
//! 00000000 04 00 0000000000000005           # CLOSE stream 5: no more bytes from us
//! ```
//!
//! The service writes its own magic and HELLO, then each answer as one DATA
//! frame on stream 3 holding one encoded message, here `app.Reply { answer:
//! "hi: 5 bytes" }` = `0a 0b 68693a2035206279746573`, and CLOSE on stream 3
//! when it drops the reply channel. (It may also send CREDIT and PING
//! frames; a client that receives a lot must send CREDIT as it consumes,
//! see "Flow control" in `docs/PROTOCOL.md`.) This exchange is played
//! against a real service by this crate's `tests/wire.rs`.
//!
//! ## Decoding untrusted bytes
//!
//! Decoding is prost's: it never panics on malformed input, checks every
//! declared length against the bytes present before reading, and stops at
//! 100 levels of nested messages (prost's recursion limit; this crate's
//! tests check that it is in force, since the `no-recursion-limit` feature
//! of prost would lift it). Collections grow only as elements are actually
//! read, so memory is bounded by the message size, which the session caps
//! (`MAX_FRAME_SIZE`). A reference that names no stream the session knows,
//! or a stream of the wrong kind, is an error
//! ([`CodecError::Nest`](libchan_core::CodecError::Nest)).

#![deny(missing_docs)]

#[cfg(feature = "build")]
pub mod build;
#[cfg(feature = "conformance")]
pub mod conformance;
mod handle;
mod proto;
mod scope;
mod sender;
mod stream;

use std::any::Any;

use libchan_core::Codec;

pub use proto::Proto;
pub use sender::{ReceiverRef, SenderRef};
pub use stream::ByteStreamRef;

/// The codec's wire name.
pub const NAME: &str = "protobuf";

/// The source of `libchan.proto` (package `libchan`): the reference messages
/// `Sender`, `Receiver` and `ByteStream`. The `build` helper makes it
/// importable as `"libchan.proto"`; give it to other languages' compilers
/// as is.
pub const LIBCHAN_PROTO: &str = include_str!("../proto/libchan.proto");

/// Protocol Buffers, through prost. Each message is one [`Proto<T>`]
/// encoded as a protobuf message, without a length prefix.
#[derive(Debug, Clone, Copy, Default)]
pub struct Protobuf;

impl Codec for Protobuf {
    fn name(&self) -> &str {
        NAME
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
