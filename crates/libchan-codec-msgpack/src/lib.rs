//! # libchan-codec-msgpack: MessagePack messages for libchan
//!
//! [`Msgpack`] is a [`Codec`] for any serde type, through `rmp-serde`. Each
//! message is exactly one MessagePack value, in the self-describing form
//! that other languages' MessagePack libraries read without a schema:
//!
//! | serde                     | MessagePack                                   |
//! |---------------------------|-----------------------------------------------|
//! | struct                    | map from field name (str) to value            |
//! | map                       | map                                           |
//! | seq, tuple, tuple struct  | array                                         |
//! | bytes (`Bytes`, `serde_bytes`) | bin                                      |
//! | `Vec<u8>`                 | array of integers (serde calls it a seq)      |
//! | integers, floats, bool    | the smallest int encoding, float 32/64, bool  |
//! | string, char              | str                                           |
//! | `None`, `()`              | nil                                           |
//! | unit struct               | empty array                                   |
//! | `Some(x)`, newtype struct | `x` itself                                    |
//! | unit variant              | str (the variant name)                        |
//! | other enum variants       | a one-entry map `{name: value}`               |
//!
//! Nested channel ends and byte streams are written as their channel
//! reference, the map `{"kind": "sender", "id": 3}`, wherever they sit:
//!
//! ```
//! use libchan_core::{Codec, Payload};
//! use libchan_codec_msgpack::Msgpack;
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Point { x: u8, y: i8 }
//!
//! let mut out = Vec::new();
//! Point { x: 1, y: -1 }.encode(&Msgpack, &mut out)?;
//! // fixmap(2) "x" 1 "y" -1
//! assert_eq!(out, b"\x82\xa1x\x01\xa1y\xff");
//! assert_eq!(Point::decode(&Msgpack, &out)?, Point { x: 1, y: -1 });
//! assert_eq!(Msgpack.name(), "msgpack");
//! # Ok::<_, libchan_core::CodecError>(())
//! ```
//!
//! Like JSON, `None` and `Some(None)` both become nil, so an
//! `Option<Option<T>>` (or `Option<()>`) does not survive a round trip
//! unchanged; wrap the inner value in a struct if the difference matters.
//!
//! ## Decoding untrusted bytes
//!
//! Decoding never panics on hostile input and never allocates more than the
//! input can fill: nesting (enum variants included) is limited to
//! [`MAX_DEPTH`], every length a message declares for a string, bin or ext
//! is checked against the bytes actually present before they are read, and
//! the element count an array or map declares is capped by the remaining
//! input before it reaches a `Deserialize` impl as a size hint (each element
//! takes at least one byte). Bytes after the value are an error.

#![deny(missing_docs)]

mod guard;
mod scan;

use std::any::Any;
use std::cell::Cell;
use std::io::Read;

use libchan_core::{Codec, CodecError, SerdeCodec};

use crate::guard::{Budget, Guarded};

/// The codec's wire name.
pub const NAME: &str = "msgpack";

/// The deepest nesting of compound values (arrays, maps, ext values, and
/// enum variants with content) a message may have; a message that is one
/// array has depth 1.
///
/// Decoding recurses once per level, so a limit is what keeps a hostile
/// message from overflowing the stack; 128 is serde_json's limit too, so a
/// message that decodes with one codec decodes with the other.
pub const MAX_DEPTH: usize = 128;

/// MessagePack, through rmp-serde. Each message is one MessagePack value;
/// structs are written as maps keyed by field name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Msgpack;

impl Codec for Msgpack {
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

impl SerdeCodec for Msgpack {
    /// Appends the value to `out`; on error, `out` is left as it was.
    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let start = out.len();
        let mut ser = rmp_serde::Serializer::new(&mut *out).with_struct_map();
        let result = erased_serde::serialize(value, &mut ser);
        if let Err(e) = result {
            out.truncate(start);
            return Err(CodecError::format(NAME, e));
        }
        Ok(())
    }

    fn decode(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), CodecError> {
        if scan::one_value(bytes) {
            // Well formed, every count within the bytes after it, nothing
            // trailing: decoded from the slice, strings and bins borrowed
            // rather than copied through a reader. The guard still limits
            // nesting; its count cap (the whole message) is already met.
            let budget = Budget::new(bytes.len());
            let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
            de.set_max_depth(MAX_DEPTH + 1);
            let mut erased =
                <dyn erased_serde::Deserializer<'_>>::erase(Guarded::new(&mut de, &budget));
            return visit(&mut erased).map_err(|e| CodecError::format(NAME, e));
        }
        // Anything else goes through the reader, which keeps the guard's
        // count of bytes left exact and says where decoding failed.
        let budget = Budget::new(bytes.len());
        let left = &budget.left;
        let mut de = rmp_serde::Deserializer::new(Input { rest: bytes, left });
        // The guard enforces MAX_DEPTH (counting enums too); rmp-serde's own
        // count of arrays and maps, which fails when it reaches zero, stays
        // as a second line.
        de.set_max_depth(MAX_DEPTH + 1);
        {
            let mut erased =
                <dyn erased_serde::Deserializer<'_>>::erase(Guarded::new(&mut de, &budget));
            visit(&mut erased).map_err(|e| {
                let at = bytes.len() - left.get();
                CodecError::format(NAME, format!("{e} (at byte {at})"))
            })?;
        }
        match left.get() {
            0 => Ok(()),
            n => Err(CodecError::format(
                NAME,
                format!("{n} trailing bytes after the message"),
            )),
        }
    }
}

/// The message bytes, read front to back, publishing how many are left so
/// that [`Guarded`] can cap declared counts and `decode` can reject
/// trailing bytes.
struct Input<'a> {
    rest: &'a [u8],
    left: &'a Cell<usize>,
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.rest.read(buf)?;
        self.left.set(self.rest.len());
        Ok(n)
    }
}
