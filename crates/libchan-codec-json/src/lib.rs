//! # libchan-codec-json: JSON messages for libchan
//!
//! [`Json`] is a [`Codec`] for any serde type, through `serde_json`. Nested
//! channel ends and byte streams are written as their channel reference,
//! `{"kind":"sender","id":3}`, wherever they sit in the message.
//!
//! ```
//! use libchan_core::{Codec, Payload};
//! use libchan_codec_json::Json;
//!
//! let mut out = Vec::new();
//! vec![1u32, 2, 3].encode(&Json, &mut out)?;
//! assert_eq!(out, b"[1,2,3]");
//! assert_eq!(Vec::<u32>::decode(&Json, &out)?, vec![1, 2, 3]);
//! assert_eq!(Json.name(), "json");
//! # Ok::<_, libchan_core::CodecError>(())
//! ```
//!
//! Binary fields (`Vec<u8>`, `Bytes`) become arrays of numbers, as serde_json
//! writes them: readable, and portable to any JSON library, but four times
//! larger than msgpack for bulk data.

#![deny(missing_docs)]

use std::any::Any;

use libchan_core::{Codec, CodecError, SerdeCodec};

/// The codec's wire name.
pub const NAME: &str = "json";

/// JSON, through serde_json. Each message is one JSON value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    fn name(&self) -> &str {
        NAME
    }

    fn serde(&self) -> Option<&dyn SerdeCodec> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl SerdeCodec for Json {
    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let mut ser = serde_json::Serializer::new(out);
        erased_serde::serialize(value, &mut ser).map_err(|e| CodecError::format(NAME, e))
    }

    fn decode(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), CodecError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        {
            let mut erased = <dyn erased_serde::Deserializer<'_>>::erase(&mut de);
            visit(&mut erased).map_err(|e| CodecError::format(NAME, e))?;
        }
        // Only whitespace may follow the value.
        de.end().map_err(|e| CodecError::format(NAME, e))
    }
}
