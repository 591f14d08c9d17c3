//! # libchan-core: channels like Go's, over any transport
//!
//! The spec crate of [libchan]: typed [`Sender`]/[`Receiver`] channels,
//! in-memory [`pipe`]s, [`ByteStream`]s, the seed's untyped [`Message`],
//! request/response, and the traits that codecs ([`Codec`]) and transports
//! ([`Session`]) implement. It depends on no codec and no transport; most
//! users depend on the `libchan` facade instead.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use libchan_core::{pipe, Request, Sender};
//!
//! // A service: answers each request on the reply channel the request carries.
//! let (client, mut requests) = pipe::<Request<String, usize>>();
//! tokio::spawn(async move {
//!     while let Ok(Some(req)) = requests.recv().await {
//!         let len = req.body.len();
//!         let _ = req.respond(len).await;
//!     }
//! });
//!
//! assert_eq!(client.call("hello".to_string()).await?, 5);
//! # Ok::<_, libchan_core::ChannelError>(())
//! # });
//! ```
//!
//! ## Semantics
//!
//! * Channels are unidirectional, ordered per sender, typed. `send` waits
//!   when the receiver is slow; `recv` returns `Ok(None)` after a clean close
//!   (the last [`Sender`] dropped) and an error when the channel broke.
//! * Ends and byte streams can be put in messages at any depth; a session
//!   exports them as it encodes ([`nest`]) and the peer gets live handles.
//! * In memory, delivery is exactly once. Over a connection, it is ordered
//!   per channel without duplicates; if the connection dies, every affected
//!   handle reports an error.
//!
//! [libchan]: https://github.com/docker/libchan

#![deny(missing_docs)]

mod byte_stream;
mod chan;
pub mod codec;
mod error;
mod message;
pub mod nest;
mod request;
pub mod transport;

pub use byte_stream::{ByteStream, DuplexIo, PAIR_BUFFER};
pub use chan::{pipe, pipe_with_capacity, Permit, Receiver, SendFuture, Sender, SharedReceiver};
pub use codec::{Codec, Payload, SerdeCodec};
pub use error::{
    BoxError, ByteStreamError, ChannelError, CodecError, ConnectionLoss, HandshakeError, Initiator,
    LimitError, NestError, SendError, SessionError, TryRecvError, TrySendError,
};
pub use message::Message;
pub use request::{Request, Responder};
pub use transport::{Session, SessionExt, SessionId, SessionStats};

/// Messages a channel buffers from local senders before `send` waits.
pub const DEFAULT_CAPACITY: usize = 32;

/// Capacity of the reply channel made by request helpers: replies are few,
/// and a responder that streams many is paced by its receiver.
pub(crate) const REPLY_CAPACITY: usize = 16;
