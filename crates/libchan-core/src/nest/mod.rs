//! Nesting: channel ends and byte streams inside messages.
//!
//! While a session encodes a message it installs an [`Exporter`] for the
//! current thread; the `Serialize` impls of [`Sender`](crate::Sender),
//! [`Receiver`](crate::Receiver) and [`ByteStream`] hand
//! their end to it and write the [`ChannelRef`] it returns in their place.
//! Decoding mirrors this with an [`Importer`]. Codecs see only `ChannelRef`
//! values, which is why any serde format carries nested ends at any depth
//! (struct fields, `Vec`, `Option`, maps) with no code of its own, and why a
//! codec outside serde can do the same by calling [`export`] and [`import`].
//!
//! The scope is a thread-local set for the duration of one synchronous
//! encode or decode; outside a scope, serializing an end is an error
//! ([`NestError::NoSession`]).

mod held;
mod scope;
mod serde_impls;

pub use scope::{
    export, import, with_exporter, with_exporter_boxed, with_importer, with_importer_boxed,
};

use serde::{Deserialize, Serialize};

use crate::error::NestError;
use crate::transport::{ExportedReceiver, ExportedSender, IncomingEnd};
use crate::ByteStream;

/// What kind of end a [`ChannelRef`] names, seen from the message's reader:
/// a `sender` field lets the reader send, a `receiver` field lets it receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    /// The reader gets a `Sender`.
    Sender,
    /// The reader gets a `Receiver`.
    Receiver,
    /// The reader gets a `ByteStream`.
    Stream,
}

impl RefKind {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Sender => "sender",
            RefKind::Receiver => "receiver",
            RefKind::Stream => "stream",
        }
    }
}

/// How a message names a nested end on the wire: its kind and the id of the
/// stream that carries it (see `docs/PROTOCOL.md`, "Channel references").
///
/// Every serde codec writes it as a struct named `ChannelRef` with the fields
/// `kind` (a lowercase string) and `id` (an unsigned integer); in JSON:
/// `{"kind":"sender","id":3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "ChannelRef")]
pub struct ChannelRef {
    /// What the reader gets.
    pub kind: RefKind,
    /// The stream id.
    pub id: u64,
}

/// An end leaving the process inside a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutgoingEnd {
    /// A sender: the peer will send into a channel of ours.
    Sender(ExportedSender),
    /// A receiver: the peer will receive from a channel of ours.
    Receiver(ExportedReceiver),
    /// A byte stream.
    Stream(ByteStream),
}

/// Installed by a session while it encodes a message.
pub trait Exporter: std::any::Any {
    /// Takes `end` over and returns the reference to write in its place.
    ///
    /// Must not encode anything itself (the encoder is running): queue the
    /// work and do it once the message is complete.
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError>;
}

/// Installed by a session while it decodes a message.
///
/// Within one decode, each reference reaches [`import`](Self::import) at
/// most once: libchan keeps the end it resolved to for the rest of the
/// decode, so a format that decodes part of a message twice (serde's
/// `#[serde(untagged)]` enums try each variant over buffered input) gets
/// the same end again. A sender named twice yields clones of one sender;
/// a receiver or byte stream is handed out again only after the earlier
/// handle was dropped (the variant that held it failed), and is an
/// [`NestError::UnknownReference`] while that handle lives. An end whose
/// handles were all dropped by the end of the decode is given up then
/// (a sender closes, a receiver cancels its stream), as it would have
/// been without this.
pub trait Importer: std::any::Any {
    /// Resolves a reference read from the message into the end it names.
    /// An unknown, reused or wrong-kind reference is an error, never a panic.
    fn import(&mut self, reference: ChannelRef) -> Result<IncomingEnd, NestError>;

    /// The capacity (messages from local senders before `send` waits) of
    /// the channels built for ends that arrive: a session-wide setting.
    /// The default is [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY).
    fn channel_capacity(&self) -> usize {
        crate::DEFAULT_CAPACITY
    }
}

#[cfg(test)]
mod tests;
