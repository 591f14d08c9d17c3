//! Arbitrary plain messages for codec property tests, and byte damage
//! (behind the `proptest` feature).

#![allow(missing_docs)] // test data shapes; the names say what they are

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// One value of every shape: leaves of each serde type the codecs carry,
/// and containers of further nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Text(String),
    Int(i64),
    Uint(u64),
    Small(i8),
    Float(f64),
    Single(f32),
    Flag(bool),
    Blob(Bytes),
    Raw(Vec<u8>),
    Unit,
    Pair(u16, String),
    Record { name: String, at: Option<i32> },
    List(Vec<Node>),
    Maybe(Option<Box<Node>>),
    Map(BTreeMap<String, Node>),
}

/// A message with a field of each kind, and a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    pub text: String,
    pub ch: char,
    pub ints: (i64, u64, i8, u16),
    pub wide: (i128, u128),
    pub float: f64,
    pub single: f32,
    pub bytes: Vec<u8>,
    pub blob: Bytes,
    pub map: BTreeMap<String, Node>,
    pub maybe_text: Option<String>,
    pub maybe: Option<Box<Node>>,
    pub unit: (),
    pub tree: Node,
}

/// Characters that formats tend to get wrong.
const AWKWARD: &[char] = &[
    '\0',
    '\u{1}',
    '\u{8}',
    '\t',
    '\n',
    '\u{b}',
    '\u{c}',
    '\r',
    '\u{1f}',
    ' ',
    '<',
    '>',
    '&',
    '"',
    '\'',
    ']',
    '=',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{2028}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{feff}',
    'é',
    '\u{1f600}',
    '\u{10ffff}',
];

/// Strings of any characters, control characters and whitespace included.
pub fn text() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            2 => any::<char>(),
            2 => proptest::sample::select(AWKWARD),
            1 => proptest::char::range(' ', '~'),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        proptest::sample::select(
            &[
                0.0,
                -0.0,
                1.5,
                0.1,
                f64::MIN,
                f64::MAX,
                f64::EPSILON,
                5e-324
            ][..]
        ),
    ]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |f| f.is_finite()),
        proptest::sample::select(&[0.1f32, -0.0, f32::MIN, f32::MAX, 1e-45][..]),
    ]
}

impl Arbitrary for Node {
    type Parameters = ();
    type Strategy = BoxedStrategy<Node>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        let leaf = prop_oneof![
            text().prop_map(Node::Text),
            any::<i64>().prop_map(Node::Int),
            any::<u64>().prop_map(Node::Uint),
            any::<i8>().prop_map(Node::Small),
            finite_f64().prop_map(Node::Float),
            finite_f32().prop_map(Node::Single),
            any::<bool>().prop_map(Node::Flag),
            vec(any::<u8>(), 0..24).prop_map(|v| Node::Blob(Bytes::from(v))),
            vec(any::<u8>(), 0..8).prop_map(Node::Raw),
            Just(Node::Unit),
            (any::<u16>(), text()).prop_map(|(n, s)| Node::Pair(n, s)),
            (text(), any::<Option<i32>>()).prop_map(|(name, at)| Node::Record { name, at }),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Node::List),
                option::of(inner.clone().prop_map(Box::new)).prop_map(Node::Maybe),
                btree_map(text(), inner, 0..6).prop_map(Node::Map),
            ]
        })
        .boxed()
    }
}

impl Arbitrary for Msg {
    type Parameters = ();
    type Strategy = BoxedStrategy<Msg>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        let scalars = (
            text(),
            any::<char>(),
            any::<(i64, u64, i8, u16)>(),
            any::<(i128, u128)>(),
            finite_f64(),
            finite_f32(),
        );
        let data = (
            vec(any::<u8>(), 0..32),
            vec(any::<u8>(), 0..32).prop_map(Bytes::from),
            btree_map(text(), any::<Node>(), 0..4),
            option::of(text()),
            option::of(any::<Node>().prop_map(Box::new)),
            any::<Node>(),
        );
        (scalars, data)
            .prop_map(
                |(
                    (text, ch, ints, wide, float, single),
                    (bytes, blob, map, maybe_text, maybe, tree),
                )| {
                    Msg {
                        text,
                        ch,
                        ints,
                        wide,
                        float,
                        single,
                        bytes,
                        blob,
                        map,
                        maybe_text,
                        maybe,
                        unit: (),
                        tree,
                    }
                },
            )
            .boxed()
    }
}

/// `bytes` with each edit applied: `(position, what, byte)` replaces,
/// inserts or removes the byte at `position` (modulo the length).
pub fn mutated(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, what, byte) in edits {
        let at = at % (bytes.len() + 1);
        match what % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}
