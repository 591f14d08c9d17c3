//! # libchan-codec-xml: XML messages for libchan
//!
//! [`Xml`] is a [`Codec`] for any serde type. It is written against
//! libchan's public codec traits only, with quick-xml's event reader and
//! writer underneath: the proof that a codec plugs in from outside.
//!
//! ```
//! use libchan_core::{Codec, Payload};
//! use libchan_codec_xml::Xml;
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Point { x: i32, label: String }
//!
//! let mut out = Vec::new();
//! Point { x: -1, label: "a<b".into() }.encode(&Xml, &mut out)?;
//! assert_eq!(
//!     String::from_utf8(out.clone()).unwrap(),
//!     r#"<struct><field name="x"><int>-1</int></field><field name="label"><str>a&lt;b</str></field></struct>"#
//! );
//! assert_eq!(Point::decode(&Xml, &out)?, Point { x: -1, label: "a<b".into() });
//! assert_eq!(Xml.name(), "xml");
//! # Ok::<_, libchan_core::CodecError>(())
//! ```
//!
//! ## The mapping
//!
//! Each message is one XML 1.0 document in UTF-8 whose root element is the
//! value. Every value is one element, named for its serde type, so a
//! document is self-describing and any XML library can read it:
//!
//! | serde type | element |
//! |---|---|
//! | unit, unit struct | `<unit/>` |
//! | `None` | `<none/>` |
//! | `Some(v)` | `<some>v</some>` |
//! | bool | `<bool>true</bool>`, `<bool>false</bool>` |
//! | any integer (8 to 128 bits) | `<int>-42</int>`: decimal |
//! | f32, f64 | `<float>1.5</float>`: the shortest decimal that reads back as the same value (`1e300`, `-0.0`), or `NaN`, `INF`, `-INF` |
//! | string, char | `<str>text</str>`, or `<str encoding="base64">…</str>` (below) |
//! | bytes (`Bytes`, `serde_bytes`) | `<bytes>AAH/gA==</bytes>`: base64 (RFC 4648, standard alphabet, padded) |
//! | seq, tuple, tuple struct | `<seq>v v …</seq>` |
//! | map | `<map><entry><key>k</key><value>v</value></entry>…</map>` |
//! | struct | `<struct><field name="f">v</field>…</struct>`, fields in serialization order |
//! | newtype struct | the inner value itself |
//! | unit variant | `<str>Name</str>` (like JSON and msgpack) |
//! | newtype variant | `<variant name="Name">v</variant>` |
//! | tuple variant | `<variant name="Name"><seq>…</seq></variant>` |
//! | struct variant | `<variant name="Name"><struct>…</struct></variant>` |
//!
//! Text is escaped with `&amp;`, `&lt;`, `&gt;`, plus `&#13;` for a carriage
//! return (a parser would turn a literal one into a line feed). Attribute
//! values also escape `"` as `&quot;` and tab and line feed as `&#9;` and
//! `&#10;`. The writer adds no whitespace, no XML declaration and no
//! namespaces.
//!
//! A nested channel end or byte stream is written as its channel reference,
//! a struct with the fields `kind` and `id`. The message
//! `Req { reply: Sender<String> }` is
//!
//! ```xml
//! <struct><field name="reply"><struct><field name="kind"><str>sender</str></field><field name="id"><int>1</int></field></struct></field></struct>
//! ```
//!
//! A `BTreeMap` of `{"one": 1, "two words": 2}` is (line breaks added)
//!
//! ```xml
//! <map><entry><key><str>one</str></key><value><int>1</int></value></entry>
//! <entry><key><str>two words</str></key><value><int>2</int></value></entry></map>
//! ```
//!
//! and the bytes `[0, 1, 255, 128]` (as `bytes::Bytes`) are
//! `<bytes>AAH/gA==</bytes>`; a `Vec<u8>`, which serde treats as a sequence,
//! is `<seq><int>0</int><int>1</int><int>255</int><int>128</int></seq>`.
//!
//! ## What XML cannot carry, and what this codec does
//!
//! * **Characters outside XML 1.0** (U+0000 to U+001F other than tab, line
//!   feed and carriage return, and U+FFFE, U+FFFF) cannot appear in a
//!   document at all, not even as `&#1;`. A string containing one is written
//!   as `<str encoding="base64">` holding the base64 of its UTF-8 bytes. A
//!   field or variant *name* containing one cannot be encoded (an error).
//! * **Whitespace** inside `<str>` is kept exactly, including a string that
//!   is only whitespace; whitespace *between* elements means nothing.
//! * **`Option`** is `<none/>` or `<some>…</some>`, so `Some(None)`,
//!   `Some(())` and `Some("")` all survive, unlike in JSON.
//! * **Map keys** are values like any other, so keys that are not XML names
//!   (`"two words"`) or not strings at all need no special case.
//! * **Integer extremes** (`i64::MIN`, `u64::MAX`, 128-bit) are decimal text.
//!
//! ## Reading
//!
//! The decoder reads what the writer writes, and also what other XML
//! libraries commonly produce for it: whitespace and comments between
//! elements and around the root, an optional `<?xml version="1.0"?>`
//! declaration (encoding UTF-8 if given), a UTF-8 byte order mark, CDATA
//! sections and character references in text, `<tag></tag>` for `<tag/>`,
//! and whitespace around the text of numbers, booleans and base64. It
//! rejects everything else: a DTD, processing instructions, entities other
//! than the five predefined ones, unknown elements or attributes, characters
//! outside XML 1.0, and anything after the root element. Values may be
//! nested at most [`MAX_DEPTH`] deep. Decoding never panics and allocates
//! no more than the document's own size calls for.

#![deny(missing_docs)]

mod de;
mod error;
mod ser;
mod text;

use std::any::Any;

use libchan_core::{Codec, CodecError, SerdeCodec};

/// The codec's wire name.
pub const NAME: &str = "xml";

/// The deepest nesting of compound values (`<some>`, `<seq>`, `<map>`,
/// `<struct>`, `<variant>`) a message may have.
///
/// Decoding recurses once per level, so a limit is what keeps a hostile
/// message from overflowing the stack; 128 is serde_json's limit too.
pub const MAX_DEPTH: usize = 128;

/// XML, through quick-xml. Each message is one XML document whose root
/// element is the value; see the [crate docs](crate) for the mapping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Xml;

impl Codec for Xml {
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

impl SerdeCodec for Xml {
    /// Appends the document to `out`; on error, `out` is left as it was.
    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let start = out.len();
        let result = erased_serde::serialize(value, &mut ser::Serializer::new(out));
        result.map_err(|e| {
            out.truncate(start);
            CodecError::format(NAME, e)
        })
    }

    fn decode(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), CodecError> {
        let text = std::str::from_utf8(bytes).map_err(|e| CodecError::format(NAME, e))?;
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        let bom = text.len() - body.len();
        let mut de = de::Deserializer::new(body);
        let result = visit(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
            .map_err(|e| e.to_string())
            .and_then(|()| de.end().map_err(|e| e.to_string()));
        result.map_err(|e| {
            let at = de.position() + bom as u64;
            CodecError::format(NAME, format!("{e} (at byte {at})"))
        })
    }
}
