//! What the three handle types share: a slot for the live end, shared by
//! clones, and its hand-written protobuf encoding (`field 1 = id`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use libchan_core::nest::{self, ChannelRef, OutgoingEnd, RefKind};
use libchan_core::transport::IncomingEnd;
use libchan_core::{Codec, CodecError, NestError, Payload};
use prost::bytes::{Buf, BufMut};
use prost::encoding::{skip_field, uint64, DecodeContext, WireType};
use prost::DecodeError;

use crate::scope;

/// The field number of the id in every reference message.
const ID_TAG: u32 = 1;

/// A kind of end a handle holds.
pub(crate) trait End: Send + Sized + 'static {
    /// What the reader of a message gets.
    const KIND: RefKind;
    /// The protobuf message type, for errors.
    const WHAT: &'static str;

    /// The end to hand the exporter: a clone of a sender, or the end itself
    /// taken out of the slot for ends that move (receivers, byte streams).
    fn outgoing(slot: &mut Option<Self>) -> Result<OutgoingEnd, NestError>;

    /// The end an import resolved a reference to.
    fn arrived(end: IncomingEnd) -> Result<Self, NestError>;

    /// One word for `Debug`.
    fn describe(&self) -> &'static str;
}

/// A handle's state, behind the mutex clones share.
pub(crate) struct Slot<E> {
    pub(crate) end: Option<E>,
    /// What this handle wrote in the latest encode pass that met it.
    written: Option<Written>,
}

#[derive(Clone, Copy)]
struct Written {
    pass: u64,
    /// `None`: the export failed (the pass reports it) and nothing is written.
    id: Option<u64>,
}

/// A slot shared by a handle and its clones.
pub(crate) struct Shared<E>(Arc<Mutex<Slot<E>>>);

impl<E: End> Shared<E> {
    pub(crate) fn new(end: Option<E>) -> Self {
        Shared(Arc::new(Mutex::new(Slot { end, written: None })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Slot<E>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the end out, for a typed conversion.
    pub(crate) fn take(&self) -> Result<E, NestError> {
        self.lock().end.take().ok_or_else(|| spent(E::WHAT))
    }

    /// The id to write for this handle in the running encode pass: exported
    /// on first use in the pass, the same id on every later call. `None`
    /// outside a pass, or when the export failed (recorded for the pass).
    fn id(&self) -> Option<u64> {
        let pass = scope::current_pass()?;
        // The lock is held across the export so that two passes encoding
        // clones of this handle on two threads cannot overwrite each other's
        // id between a pass's `encoded_len` and its `encode_raw`. Exporters
        // never touch a handle, so this cannot deadlock.
        let mut slot = self.lock();
        if let Some(w) = slot.written.filter(|w| w.pass == pass) {
            return w.id;
        }
        let exported = E::outgoing(&mut slot.end).and_then(|end| nest::export(end, E::WHAT));
        let id = match exported {
            Ok(reference) => Some(reference.id),
            Err(e) => {
                scope::fail(e);
                None
            }
        };
        slot.written = Some(Written { pass, id });
        id
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.id().map_or(0, |id| uint64::encoded_len(ID_TAG, &id))
    }

    pub(crate) fn encode_raw(&self, buf: &mut impl BufMut) {
        if let Some(id) = self.id() {
            uint64::encode(ID_TAG, &id, buf);
        }
    }

    pub(crate) fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag != ID_TAG {
            // Unknown fields are skipped, as protobuf readers do.
            return skip_field(wire_type, tag, buf, ctx);
        }
        let mut id = 0;
        uint64::merge(wire_type, &mut id, buf, ctx)?;
        let mut slot = self.lock();
        if slot.end.is_some() {
            // A second id in one reference (or a reference merged into a
            // handle that holds an end): never written by libchan.
            return Err(decode_error(format!("{}: the id is given twice", E::WHAT)));
        }
        let end = nest::import(ChannelRef { kind: E::KIND, id }, E::WHAT)
            .and_then(E::arrived)
            .map_err(|e| {
                let err = decode_error(format!("{}: {e}", E::WHAT));
                scope::fail(e);
                err
            })?;
        slot.end = Some(end);
        Ok(())
    }

    pub(crate) fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.lock();
        let state = slot.end.as_ref().map_or("empty", E::describe);
        f.debug_tuple(name).field(&format_args!("{state}")).finish()
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<E> PartialEq for Shared<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<E> Eq for Shared<E> {}

impl<E> Hash for Shared<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

/// The error for a handle with no end to convert or send.
pub(crate) fn spent(what: &str) -> NestError {
    NestError::Refused(format!(
        "this {what} holds no channel end (it is empty, or its end was already taken or sent)"
    ))
}

#[allow(deprecated)] // prost 0.14 has no other way to make a DecodeError with a message.
fn decode_error(text: String) -> DecodeError {
    DecodeError::new(text)
}

/// Implements `prost::Message`, `Clone`, `PartialEq`, `Eq`, `Hash`,
/// `Default` and `Debug` for a handle newtype over [`Shared`].
macro_rules! handle_impls {
    ($name:ident) => {
        impl prost::Message for $name {
            fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
                self.0.encode_raw(buf)
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: prost::encoding::WireType,
                buf: &mut impl prost::bytes::Buf,
                ctx: prost::encoding::DecodeContext,
            ) -> Result<(), prost::DecodeError> {
                self.0.merge_field(tag, wire_type, buf, ctx)
            }

            fn encoded_len(&self) -> usize {
                self.0.encoded_len()
            }

            /// Empties this handle (its clones keep the end).
            fn clear(&mut self) {
                *self = Self::default();
            }
        }

        /// Empty: holds no end, and encodes as an empty message.
        impl Default for $name {
            fn default() -> Self {
                $name($crate::handle::Shared::new(None))
            }
        }

        /// A clone shares the end: whichever is converted or sent first
        /// takes it.
        impl Clone for $name {
            fn clone(&self) -> Self {
                $name(self.0.clone())
            }
        }

        /// Two handles are equal when one is a clone of the other.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(stringify!($name), f)
            }
        }
    };
}

pub(crate) use handle_impls;

/// An end that arrived from a session, not yet typed. Dropping it untyped
/// still tells the peer: a sender closes its channel (so a request whose
/// reply handle is dropped gets no reply, not a hang) and a receiver cancels
/// it, exactly as dropping a typed end would.
pub(crate) struct Arrived(Option<IncomingEnd>);

impl Arrived {
    pub(crate) fn new(end: IncomingEnd) -> Self {
        Arrived(Some(end))
    }

    pub(crate) fn into_inner(mut self) -> Option<IncomingEnd> {
        self.0.take()
    }
}

impl Drop for Arrived {
    fn drop(&mut self) {
        // Typing an end with a payload that is never sent and reads any
        // bytes, then dropping it, runs the usual teardown.
        match self.0.take() {
            Some(end @ IncomingEnd::Outbound(_)) => {
                drop(libchan_core::transport::sender_from_incoming::<Discard>(
                    end,
                    libchan_core::DEFAULT_CAPACITY,
                ))
            }
            Some(end @ IncomingEnd::Inbound(_)) => {
                drop(libchan_core::transport::receiver_from_incoming::<Discard>(
                    end,
                    libchan_core::DEFAULT_CAPACITY,
                ))
            }
            _ => {}
        }
    }
}

/// The payload of an end dropped untyped: nothing is ever sent on it, and
/// whatever arrives before the cancel is dropped unread.
struct Discard;

impl Payload for Discard {
    fn encode(&self, codec: &dyn Codec, _out: &mut Vec<u8>) -> Result<(), CodecError> {
        Err(CodecError::Unsupported {
            codec: codec.name().to_owned(),
            type_name: "an untyped libchan handle",
        })
    }

    fn decode(_codec: &dyn Codec, _bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Discard)
    }
}
