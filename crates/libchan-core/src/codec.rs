//! Codecs: how a message becomes bytes and back.
//!
//! Two traits meet here:
//!
//! * [`Codec`] is what a codec crate implements: a wire name (negotiated in
//!   the session handshake) and the format bridges it offers. A serde data
//!   format (json, msgpack, xml) offers [`SerdeCodec`]; a codec outside serde
//!   (protobuf's prost messages) is reached by downcasting [`Codec::as_any`]
//!   from its own payload types. Nothing here assumes serde for every codec.
//! * [`Payload`] is what a message type implements to travel over a session
//!   whose codec is only known at run time. Every serde type gets it for free.
//!
//! Nested channel ends are not the codec's business: while a session encodes
//! or decodes, it installs an exporter/importer ([`crate::nest`]) that the
//! `Serialize`/`Deserialize` impls of [`Sender`](crate::Sender),
//! [`Receiver`](crate::Receiver) and [`ByteStream`](crate::ByteStream) call.

use std::any::Any;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;

/// A serialization format a session can speak.
///
/// Implement it in your own crate to add a format; nothing else in libchan
/// needs to change. The wire name must be stable: it is what the handshake
/// compares.
pub trait Codec: Send + Sync + fmt::Debug + 'static {
    /// The codec's wire name (`"json"`, `"msgpack"`, ...), at most 32 bytes of ASCII.
    fn name(&self) -> &str;

    /// The serde bridge, when this codec is a serde data format.
    fn serde(&self) -> Option<&dyn SerdeCodec> {
        None
    }

    /// The concrete codec, for payload types outside serde to downcast to.
    fn as_any(&self) -> &dyn Any;
}

/// A serde data format, seen through `erased_serde` so that a session can
/// pick its codec at run time while message types stay generic.
pub trait SerdeCodec: Send + Sync {
    /// Appends the encoding of `value` to `out`.
    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError>;

    /// Decodes `bytes`: hands a deserializer over them to `visit`, then checks
    /// that nothing but whitespace/padding follows the value.
    fn decode(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), CodecError>;
}

/// A message type that can travel over a session, whatever its codec.
///
/// Implemented for every `Serialize + DeserializeOwned` type through the
/// codec's [`SerdeCodec`] bridge. A codec outside serde provides impls for
/// its own message types (downcasting [`Codec::as_any`]).
pub trait Payload: Send + Sized + 'static {
    /// Appends the encoding of `self` with `codec` to `out`.
    fn encode(&self, codec: &dyn Codec, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes one value from exactly `bytes`.
    fn decode(codec: &dyn Codec, bytes: &[u8]) -> Result<Self, CodecError>;

    /// Decodes one value from exactly `bytes`, a buffer the message has to
    /// itself: a type that can share it (prost's `bytes::Bytes` fields, say)
    /// may keep slices of it instead of copying. Sessions call this for
    /// large messages, whose buffer holds nothing else, so a value that
    /// keeps a slice keeps no more than its own message. The default copies,
    /// through [`decode`](Self::decode).
    fn decode_shared(codec: &dyn Codec, bytes: &bytes::Bytes) -> Result<Self, CodecError> {
        Self::decode(codec, bytes)
    }
}

impl<T> Payload for T
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    fn encode(&self, codec: &dyn Codec, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let serde = codec.serde().ok_or_else(|| unsupported::<T>(codec))?;
        serde.encode(self, out)
    }

    fn decode(codec: &dyn Codec, bytes: &[u8]) -> Result<Self, CodecError> {
        let serde = codec.serde().ok_or_else(|| unsupported::<T>(codec))?;
        let mut value = None;
        serde.decode(bytes, &mut |de| {
            value = Some(erased_serde::deserialize::<T>(de)?);
            Ok(())
        })?;
        // A SerdeCodec that returns Ok must have called `visit`; treat a
        // codec that did not as having rejected the input.
        value.ok_or_else(|| {
            CodecError::format(codec.name(), "the codec produced no value from the message")
        })
    }
}

fn unsupported<T>(codec: &dyn Codec) -> CodecError {
    CodecError::Unsupported {
        codec: codec.name().to_owned(),
        type_name: std::any::type_name::<T>(),
    }
}
