//! XML -> serde data model, over quick-xml's event reader.
//!
//! [`tokens`] folds the reader's events into tokens: a start tag, an end
//! tag, or one run of text (text, CDATA and references joined, comments
//! dropped). This module reads the value grammar of the crate docs from
//! them, with one token of lookahead.

mod tokens;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use self::tokens::{Element, Kind, Token, Tokens};
use crate::error::Error;
use crate::text::{base64_decode, parse_float, trim};
use crate::MAX_DEPTH;

/// Reads one value from one XML document.
pub(crate) struct Deserializer<'i> {
    tokens: Tokens<'i>,
    /// Compound values open around the current position.
    depth: usize,
}

impl<'i> Deserializer<'i> {
    pub(crate) fn new(text: &'i str) -> Self {
        Deserializer {
            tokens: Tokens::new(text),
            depth: 0,
        }
    }

    /// How far into the document the reader is, for error messages.
    pub(crate) fn position(&self) -> u64 {
        self.tokens.position()
    }

    /// Checks that only whitespace and comments follow the root element.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        self.tokens.skip_space()?;
        match self.tokens.next()? {
            Token::Eof => Ok(()),
            _ => Err(Error::new("content after the root element")),
        }
    }

    /// Reads the text of a `<str>` element (already opened as `el`).
    fn string(&mut self, el: &Element) -> Result<String, Error> {
        let text = self.tokens.leaf_text()?;
        match el.attribute.as_deref() {
            None => Ok(text.into_owned()),
            Some("base64") => String::from_utf8(base64_decode(&text)?)
                .map_err(|_| Error::new("a base64 string is not UTF-8")),
            Some(other) => Err(Error::new(format!("unknown string encoding {other:?}"))),
        }
    }

    /// Runs `f` one compound level deeper, then reads the end tag.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::new(format!(
                "values nested more than {MAX_DEPTH} deep"
            )));
        }
        self.depth += 1;
        let value = f(self)?;
        self.tokens.close()?;
        self.depth -= 1;
        Ok(value)
    }

    /// Reads the rest of the value whose start tag was `el`.
    fn value<V: Visitor<'i>>(&mut self, el: Element, visitor: V) -> Result<V::Value, Error> {
        match el.kind {
            Kind::Unit => {
                self.tokens.close()?;
                visitor.visit_unit()
            }
            Kind::None => {
                self.tokens.close()?;
                visitor.visit_none()
            }
            Kind::Some => self.nested(|de| visitor.visit_some(de)),
            Kind::Bool => match trim(&self.tokens.leaf_text()?) {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                other => Err(Error::new(format!("not a boolean: {other:?}"))),
            },
            Kind::Int => int(&self.tokens.leaf_text()?, visitor),
            Kind::Float => visitor.visit_f64(parse_float(
                &self.tokens.leaf_text()?,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            )?),
            Kind::Str => visitor.visit_string(self.string(&el)?),
            Kind::Bytes => visitor.visit_byte_buf(base64_decode(&self.tokens.leaf_text()?)?),
            Kind::Seq => self.nested(|de| visitor.visit_seq(Items { de })),
            Kind::Map => self.nested(|de| visitor.visit_map(Entries { de })),
            Kind::Struct => self.nested(|de| visitor.visit_map(Fields { de })),
            Kind::Variant => self.nested(|de| {
                visitor.visit_map(VariantEntry {
                    de,
                    name: el.attribute,
                })
            }),
            Kind::Entry | Kind::Key | Kind::Value | Kind::Field => Err(Error::new(format!(
                "{} where a value was expected",
                el.kind
            ))),
        }
    }
}

/// A field or variant name, handed to serde as a string.
fn name_deserializer(name: String) -> de::value::StringDeserializer<Error> {
    name.into_deserializer()
}

/// Visits an integer as the narrowest of i64/u64/i128/u128 that holds it.
fn int<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, Error> {
    let t = trim(text);
    let bad = || Error::new(format!("not an integer: {t:?}"));
    if t.starts_with('-') {
        match t.parse::<i64>() {
            Ok(v) => visitor.visit_i64(v),
            Err(_) => visitor.visit_i128(t.parse().map_err(|_| bad())?),
        }
    } else {
        match t.parse::<u64>() {
            Ok(v) => visitor.visit_u64(v),
            Err(_) => visitor.visit_u128(t.parse().map_err(|_| bad())?),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let el = self.tokens.open()?;
        self.value(el, visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let el = self.tokens.open()?;
        if el.kind != Kind::Float {
            return self.value(el, visitor);
        }
        let text = self.tokens.leaf_text()?;
        visitor.visit_f32(parse_float(
            &text,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        )?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let el = self.tokens.open()?;
        match el.kind {
            Kind::None | Kind::Some => self.value(el, visitor),
            other => Err(Error::new(format!(
                "expected <none> or <some>, found {other}"
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let el = self.tokens.open()?;
        match el.kind {
            Kind::Str => visitor.visit_enum(name_deserializer(self.string(&el)?)),
            Kind::Variant => self.nested(|de| {
                visitor.visit_enum(Variant {
                    de,
                    name: el.attribute.unwrap_or_default(),
                })
            }),
            other => Err(Error::new(format!(
                "expected an enum (<str> or <variant>), found {other}"
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// The children of a `<seq>`.
struct Items<'d, 'i> {
    de: &'d mut Deserializer<'i>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.de.tokens.at_end()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// The `<entry><key>…</key><value>…</value></entry>` children of a `<map>`.
struct Entries<'d, 'i> {
    de: &'d mut Deserializer<'i>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.de.tokens.at_end()? {
            return Ok(None);
        }
        self.de.tokens.expect(Kind::Entry)?;
        self.de.tokens.expect(Kind::Key)?;
        let key = seed.deserialize(&mut *self.de)?;
        self.de.tokens.close()?;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.de.tokens.expect(Kind::Value)?;
        let value = seed.deserialize(&mut *self.de)?;
        self.de.tokens.close()?;
        self.de.tokens.close()?;
        Ok(value)
    }
}

/// The `<field name="…">` children of a `<struct>`.
struct Fields<'d, 'i> {
    de: &'d mut Deserializer<'i>,
}

impl<'de> de::MapAccess<'de> for Fields<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.de.tokens.at_end()? {
            return Ok(None);
        }
        let name = self
            .de
            .tokens
            .expect(Kind::Field)?
            .attribute
            .unwrap_or_default();
        seed.deserialize(name_deserializer(name)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = seed.deserialize(&mut *self.de)?;
        self.de.tokens.close()?;
        Ok(value)
    }
}

/// A `<variant>` read without knowing it is an enum: a one-entry map.
struct VariantEntry<'d, 'i> {
    de: &'d mut Deserializer<'i>,
    name: Option<String>,
}

impl<'de> de::MapAccess<'de> for VariantEntry<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.name.take() {
            Some(name) => seed.deserialize(name_deserializer(name)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }
}

/// A `<variant name="…">` read as an enum.
struct Variant<'d, 'i> {
    de: &'d mut Deserializer<'i>,
    name: String,
}

impl<'d, 'de> de::EnumAccess<'de> for Variant<'d, 'de> {
    type Error = Error;
    type Variant = &'d mut Deserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let name = seed.deserialize(name_deserializer(self.name))?;
        Ok((name, self.de))
    }
}

/// The content of a `<variant>`: one value (for a unit variant, nothing or
/// `<unit/>`).
impl<'de> de::VariantAccess<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if self.tokens.at_end()? {
            return Ok(());
        }
        self.tokens.expect(Kind::Unit)?;
        self.tokens.close()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
