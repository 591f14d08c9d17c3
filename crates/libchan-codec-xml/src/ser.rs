//! serde data model -> XML, through quick-xml's writer.
//!
//! One method per serde type, each writing the element the crate docs list
//! for it; compound values close their elements in `end`.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::Writer;
use serde::ser::{self, Serialize};

use crate::error::Error;
use crate::text::{base64_encode, escape_attribute, escape_text, float_text, is_xml_char};

/// Writes one value as XML elements into a byte buffer.
pub(crate) struct Serializer<'o> {
    writer: Writer<&'o mut Vec<u8>>,
    /// Reused for the text of each leaf element.
    scratch: String,
}

impl<'o> Serializer<'o> {
    pub(crate) fn new(out: &'o mut Vec<u8>) -> Self {
        Serializer {
            writer: Writer::new(out),
            scratch: String::new(),
        }
    }

    fn start(&mut self, tag: &str) -> Result<(), Error> {
        Ok(self
            .writer
            .write_event(Event::Start(BytesStart::new(tag)))?)
    }

    /// `<tag name="...">`, for a struct field or an enum variant.
    fn start_named(&mut self, tag: &str, name: &str) -> Result<(), Error> {
        if let Some(c) = name.chars().find(|&c| !is_xml_char(c)) {
            return Err(Error::new(format!(
                "the name {name:?} has the character {c:?}, which XML cannot carry"
            )));
        }
        let mut start = BytesStart::new(tag);
        start.push_attribute(Attribute {
            key: QName("name"),
            value: Cow::Owned(escape_attribute(name)),
        });
        Ok(self.writer.write_event(Event::Start(start))?)
    }

    fn end(&mut self, tag: &str) -> Result<(), Error> {
        Ok(self.writer.write_event(Event::End(BytesEnd::new(tag)))?)
    }

    fn empty(&mut self, tag: &str) -> Result<(), Error> {
        Ok(self
            .writer
            .write_event(Event::Empty(BytesStart::new(tag)))?)
    }

    /// `<tag>text</tag>`, with `fill` writing the already-escaped text.
    fn leaf(&mut self, tag: &str, fill: impl FnOnce(&mut String)) -> Result<(), Error> {
        self.scratch.clear();
        fill(&mut self.scratch);
        self.start(tag)?;
        let text = BytesText::from_escaped(self.scratch.as_str());
        self.writer.write_event(Event::Text(text))?;
        self.end(tag)
    }

    /// `<str>`, or `<str encoding="base64">` when the string has a character
    /// XML 1.0 cannot carry even as a character reference.
    fn string(&mut self, s: &str) -> Result<(), Error> {
        if s.chars().all(is_xml_char) {
            return self.leaf("str", |out| escape_text(s, out));
        }
        self.scratch.clear();
        base64_encode(s.as_bytes(), &mut self.scratch);
        let mut start = BytesStart::new("str");
        start.push_attribute(("encoding", "base64"));
        self.writer.write_event(Event::Start(start))?;
        let text = BytesText::from_escaped(self.scratch.as_str());
        self.writer.write_event(Event::Text(text))?;
        self.end("str")
    }

    fn int(&mut self, v: impl std::fmt::Display) -> Result<(), Error> {
        self.leaf("int", |out| {
            use std::fmt::Write as _;
            let _ = write!(out, "{v}");
        })
    }
}

/// An open compound value; `end` closes `tags`, innermost first.
pub(crate) struct Compound<'a, 'o> {
    ser: &'a mut Serializer<'o>,
    tags: &'static [&'static str],
}

impl Compound<'_, '_> {
    fn close(self) -> Result<(), Error> {
        for tag in self.tags {
            self.ser.end(tag)?;
        }
        Ok(())
    }
}

impl<'a, 'o> ser::Serializer for &'a mut Serializer<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.leaf("bool", |out| out.push_str(if v { "true" } else { "false" }))
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.int(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.leaf("float", |out| float_text(v, out))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.leaf("float", |out| float_text(v, out))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.leaf("bytes", |out| base64_encode(v, out))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.empty("none")
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        self.start("some")?;
        value.serialize(&mut *self)?;
        self.end("some")
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.empty("unit")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.empty("unit")
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.start_named("variant", variant)?;
        value.serialize(&mut *self)?;
        self.end("variant")
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        self.start("seq")?;
        Ok(Compound {
            ser: self,
            tags: &["seq"],
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.start_named("variant", variant)?;
        self.start("seq")?;
        Ok(Compound {
            ser: self,
            tags: &["seq", "variant"],
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        self.start("map")?;
        Ok(Compound {
            ser: self,
            tags: &["map"],
        })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.start("struct")?;
        Ok(Compound {
            ser: self,
            tags: &["struct"],
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.start_named("variant", variant)?;
        self.start("struct")?;
        Ok(Compound {
            ser: self,
            tags: &["struct", "variant"],
        })
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.ser.start("entry")?;
        self.ser.start("key")?;
        key.serialize(&mut *self.ser)?;
        self.ser.end("key")
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.ser.start("value")?;
        value.serialize(&mut *self.ser)?;
        self.ser.end("value")?;
        self.ser.end("entry")
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.ser.start_named("field", key)?;
        value.serialize(&mut *self.ser)?;
        self.ser.end("field")
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.ser.start_named("field", key)?;
        value.serialize(&mut *self.ser)?;
        self.ser.end("field")
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}
