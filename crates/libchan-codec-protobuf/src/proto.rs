//! `Proto<T>`: a prost message as a libchan payload.

use std::any::type_name;
use std::ops::{Deref, DerefMut};

use libchan_core::{Codec, CodecError, Payload};
use prost::Message;

use crate::{scope, Protobuf, NAME};

/// A prost message travelling on a libchan channel: `Sender<Proto<T>>`,
/// `Receiver<Proto<T>>`.
///
/// Every serde type is a [`Payload`] through libchan-core's serde bridge;
/// prost messages are not serde types, so they travel wrapped in `Proto`,
/// which encodes and decodes them with prost when the session's codec is
/// [`Protobuf`] (any other codec refuses them with
/// [`CodecError::Unsupported`]). `Proto` derefs to the message, and
/// converts from and into it.
///
/// ```
/// use libchan_codec_protobuf::{Protobuf, Proto};
/// use libchan_core::Payload;
///
/// // `String` is a prost message (google.protobuf.StringValue).
/// let mut out = Vec::new();
/// Proto("hi".to_string()).encode(&Protobuf, &mut out)?;
/// assert_eq!(out, b"\x0a\x02hi"); // field 1, 2 bytes, "hi"
/// let back = Proto::<String>::decode(&Protobuf, &out)?;
/// assert_eq!(*back, "hi");
/// # Ok::<_, libchan_core::CodecError>(())
/// ```
///
/// Encoding runs the message's channel handles through the session's
/// exporter (each handle exports its end once per message); an export that
/// fails fails the encode with [`CodecError::Nest`] and leaves `out` as it
/// was. Decoding resolves each reference through the session's importer; a
/// reference that does not resolve fails the decode with
/// [`CodecError::Nest`], anything else malformed with
/// [`CodecError::Format`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proto<T>(pub T);

impl<T> Proto<T> {
    /// The message.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Proto<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Proto<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Proto<T> {
    fn from(message: T) -> Self {
        Proto(message)
    }
}

impl<T: Message + Default + Send + 'static> Payload for Proto<T> {
    fn encode(&self, codec: &dyn Codec, out: &mut Vec<u8>) -> Result<(), CodecError> {
        check::<T>(codec)?;
        let start = out.len();
        let (encoded, failure) = scope::encode_pass(|| self.0.encode(out));
        let result = match (encoded, failure) {
            (_, Some(nest)) => Err(CodecError::Nest(nest)),
            (Err(e), None) => Err(CodecError::format(NAME, e)),
            (Ok(()), None) => Ok(()),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn decode(codec: &dyn Codec, bytes: &[u8]) -> Result<Self, CodecError> {
        check::<T>(codec)?;
        match scope::decode_pass(|| T::decode(bytes)) {
            (_, Some(nest)) => Err(CodecError::Nest(nest)),
            (Err(e), None) => Err(CodecError::format(NAME, e)),
            (Ok(message), None) => Ok(Proto(message)),
        }
    }

    /// `bytes::Bytes` fields (`#[prost(bytes = "bytes")]`) become slices of
    /// the message's buffer instead of copies.
    fn decode_shared(codec: &dyn Codec, bytes: &bytes::Bytes) -> Result<Self, CodecError> {
        check::<T>(codec)?;
        match scope::decode_pass(|| T::decode(bytes.clone())) {
            (_, Some(nest)) => Err(CodecError::Nest(nest)),
            (Err(e), None) => Err(CodecError::format(NAME, e)),
            (Ok(message), None) => Ok(Proto(message)),
        }
    }
}

/// Only the protobuf codec carries prost messages.
fn check<T>(codec: &dyn Codec) -> Result<(), CodecError> {
    match codec.as_any().downcast_ref::<Protobuf>() {
        Some(_) => Ok(()),
        None => Err(CodecError::Unsupported {
            codec: codec.name().to_owned(),
            type_name: type_name::<Proto<T>>(),
        }),
    }
}
