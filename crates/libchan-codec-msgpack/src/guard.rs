//! Closes two gaps rmp-serde leaves for hostile input.
//!
//! * **Declared counts.** rmp-serde checks every string, bin and ext length
//!   against the bytes it can actually read, but it passes an array's or
//!   map's declared element count (up to 2^32 - 1) straight through as
//!   `size_hint`. serde's own collections only trust a hint up to 1 MiB, but
//!   any other `Deserialize` impl may call `Vec::with_capacity(hint)`. Every
//!   element takes at least one byte, so no honest count exceeds the bytes
//!   left, and each hint is clamped to that.
//! * **Enum nesting.** rmp-serde limits the nesting of arrays and maps, but
//!   not of the one-entry maps that carry enum variants, so a recursive
//!   enum's `{"V": {"V": ...}}` could recurse until the stack overflows.
//!   Every compound value (array, map, and enum variant with content)
//!   counts against [`MAX_DEPTH`].
//!
//! [`Guarded`] wraps the deserializer, and everything it hands to visitors.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use crate::MAX_DEPTH;

/// What a message has left to spend: bytes, and nesting levels.
pub(crate) struct Budget {
    /// Bytes not read yet; [`crate::Input`] keeps it current.
    pub(crate) left: Cell<usize>,
    /// Compound values open around the current position.
    depth: Cell<usize>,
}

impl Budget {
    /// The budget of a message of `len` bytes.
    pub(crate) fn new(len: usize) -> Self {
        Budget {
            left: Cell::new(len),
            depth: Cell::new(0),
        }
    }

    /// Runs `f` one compound level deeper.
    fn nested<T, E: de::Error>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let outer = self.depth.get();
        if outer >= MAX_DEPTH {
            return Err(E::custom(format_args!(
                "values nested more than {MAX_DEPTH} deep"
            )));
        }
        self.depth.set(outer + 1);
        let result = f();
        self.depth.set(outer);
        result
    }
}

/// A deserializer whose sequences and maps report at most `left` elements,
/// and whose values nest at most [`MAX_DEPTH`] deep.
pub(crate) struct Guarded<'a, D> {
    de: D,
    budget: &'a Budget,
}

impl<'a, D> Guarded<'a, D> {
    /// Wraps `de`, which must read the bytes `budget` counts.
    pub(crate) fn new(de: D, budget: &'a Budget) -> Self {
        Guarded { de, budget }
    }
}

/// Forwards `deserialize_*` methods, wrapping the visitor.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method($($arg,)* Guard { inner: visitor, budget: self.budget })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A visitor that wraps what it is handed before passing it on.
struct Guard<'a, V> {
    inner: V,
    budget: &'a Budget,
}

/// Forwards `visit_*` methods that carry a plain value.
macro_rules! visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guard<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Guarded::new(d, self.budget))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner
            .visit_newtype_struct(Guarded::new(d, self.budget))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let Guard { inner, budget } = self;
        budget.nested(|| inner.visit_seq(Guard { inner: seq, budget }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let Guard { inner, budget } = self;
        budget.nested(|| inner.visit_map(Guard { inner: map, budget }))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        // Counted in `VariantAccess`, once a variant turns out to have content.
        self.inner.visit_enum(Guard {
            inner: data,
            budget: self.budget,
        })
    }
}

impl<'a, S> Guard<'a, S> {
    /// The declared count `hint`, capped by the bytes left.
    fn cap(&self, hint: Option<usize>) -> Option<usize> {
        hint.map(|n| n.min(self.budget.left.get()))
    }

    fn seed<T>(&self, inner: T) -> Guard<'a, T> {
        Guard {
            inner,
            budget: self.budget,
        }
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.cap(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.cap(self.inner.size_hint())
    }
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Guard<'a, A> {
    type Error = A::Error;
    type Variant = Guard<'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let budget = self.budget;
        let (value, variant) = self.inner.variant_seed(Guard {
            inner: seed,
            budget,
        })?;
        Ok((
            value,
            Guard {
                inner: variant,
                budget,
            },
        ))
    }
}

/// A variant with content (newtype, tuple, struct) is one compound level.
impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.budget.nested(|| self.inner.newtype_variant_seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.seed(visitor);
        self.budget
            .nested(|| self.inner.tuple_variant(len, visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.seed(visitor);
        self.budget
            .nested(|| self.inner.struct_variant(fields, visitor))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Guard<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Guarded::new(d, self.budget))
    }
}
