//! The codec conformance checks, the exact wire form of a reference, the
//! decoder's limits, and property tests.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use libchan_codec_msgpack::{Msgpack, MAX_DEPTH};
use libchan_conformance::codec::{encode_loopback, round_trip};
use libchan_core::{pipe, Payload};
use proptest::prelude::*;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use libchan_conformance::strategy::{mutated, Msg, Node};

libchan_conformance::codec_suite!(libchan_codec_msgpack::Msgpack);

#[test]
fn a_reference_is_written_as_kind_and_id() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Req {
        reply: libchan_core::Sender<String>,
    }
    let (reply, _rx) = pipe::<String>();
    let (bytes, _table) = encode_loopback(&Msgpack, &Req { reply });
    // {"reply": {"kind": "sender", "id": 1}}
    let mut expected = b"\x81\xa5reply".to_vec();
    expected.extend_from_slice(b"\x82\xa4kind\xa6sender\xa2id\x01");
    assert_eq!(bytes.expect("encodes"), expected);
}

#[test]
fn serde_bytes_are_bin_and_a_byte_vec_is_an_array() {
    #[derive(Serialize, Deserialize)]
    struct Both {
        blob: bytes::Bytes,
        vec: Vec<u8>,
    }
    let mut out = Vec::new();
    Both {
        blob: bytes::Bytes::from_static(&[0, 255]),
        vec: vec![0, 255],
    }
    .encode(&Msgpack, &mut out)
    .expect("encodes");
    let mut expected = b"\x82\xa4blob\xc4\x02\x00\xff".to_vec();
    expected.extend_from_slice(b"\xa3vec\x92\x00\xcc\xff");
    assert_eq!(out, expected);
}

#[test]
fn enums_are_a_name_or_a_one_entry_map() {
    let mut out = Vec::new();
    vec![Node::Unit, Node::Int(5)]
        .encode(&Msgpack, &mut out)
        .expect("encodes");
    assert_eq!(out, b"\x92\xa4Unit\x81\xa3Int\x05");
    assert_eq!(
        Vec::<Node>::decode(&Msgpack, &out).expect("decodes"),
        vec![Node::Unit, Node::Int(5)]
    );
}

#[test]
fn trailing_bytes_are_an_error_naming_how_many() {
    assert_eq!(u32::decode(&Msgpack, b"\x07").expect("one value"), 7);
    let err = u32::decode(&Msgpack, b"\x07\x08\x09").expect_err("two values");
    assert!(err.to_string().contains("2 trailing bytes"), "{err}");
}

#[test]
fn a_failed_encode_leaves_the_buffer_as_it_was() {
    let (tx, _rx) = pipe::<u64>();
    let mut out = b"kept".to_vec();
    assert!(vec![tx].encode(&Msgpack, &mut out).is_err());
    assert_eq!(out, b"kept");
}

thread_local! {
    static SEEN_HINT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Records the size hint its sequence came with, then reads the elements.
#[derive(Serialize)]
struct HintRecorder;

impl<'de> Deserialize<'de> for HintRecorder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HintRecorder;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HintRecorder, A::Error> {
                SEEN_HINT.with(|c| c.set(seq.size_hint()));
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(HintRecorder)
            }
        }
        d.deserialize_seq(V)
    }
}

#[test]
fn a_declared_count_is_capped_by_the_bytes_left() {
    // array32 declaring 2^32 - 1 elements, followed by three.
    let hostile = b"\xdd\xff\xff\xff\xff\x01\x02\x03";
    assert!(HintRecorder::decode(&Msgpack, hostile).is_err());
    assert_eq!(SEEN_HINT.with(Cell::get), Some(3));
    // An honest count is passed through unchanged.
    assert!(HintRecorder::decode(&Msgpack, b"\x93\x01\x02\x03").is_ok());
    assert_eq!(SEEN_HINT.with(Cell::get), Some(3));
}

#[test]
fn a_declared_length_past_the_input_is_an_error() {
    // str32, bin32 and ext32 of 4 GiB with three bytes behind them.
    for head in [&b"\xdb"[..], b"\xc6", b"\xc9"] {
        let mut hostile = head.to_vec();
        hostile.extend_from_slice(b"\xff\xff\xff\xff\x01abc");
        assert!(String::decode(&Msgpack, &hostile).is_err());
        assert!(bytes::Bytes::decode(&Msgpack, &hostile).is_err());
        assert!(Node::decode(&Msgpack, &hostile).is_err());
    }
}

/// A tree as deep as its input says.
#[derive(Debug, Serialize, Deserialize)]
struct Tree(Vec<Tree>);

#[test]
fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
    // A list variant is two levels: the variant, and its sequence.
    let mut deep = Node::Unit;
    for _ in 0..MAX_DEPTH / 2 {
        deep = Node::List(vec![deep]);
    }
    assert_eq!(round_trip(&Msgpack, &deep).expect("at the limit"), deep);
    let deeper = Node::List(vec![deep]);
    let (bytes, _) = encode_loopback(&Msgpack, &deeper);
    assert!(Node::decode(&Msgpack, &bytes.expect("encodes")).is_err());
    // `arrays(n)` is n arrays, each inside the one before.
    let arrays = |n: usize| {
        let mut bytes = vec![0x91; n - 1];
        bytes.push(0x90);
        bytes
    };
    assert!(Tree::decode(&Msgpack, &arrays(MAX_DEPTH)).is_ok());
    assert!(Tree::decode(&Msgpack, &arrays(MAX_DEPTH + 1)).is_err());
    assert!(Tree::decode(&Msgpack, &arrays(1_000_000)).is_err());
    // Maps count too, including the one-entry maps of enum variants.
    let mut maps = b"\x81\xa1k".repeat(100_000);
    maps.push(0xc0);
    assert!(BTreeMap::<String, Node>::decode(&Msgpack, &maps).is_err());
    let mut variants = b"\x81\xa5Maybe".repeat(100_000);
    variants.push(0xc0);
    assert!(Node::decode(&Msgpack, &variants).is_err());
}

proptest! {
    #[test]
    fn plain_messages_round_trip_exactly(msg in any::<Msg>()) {
        let back = round_trip(&Msgpack, &msg).expect("round-trips");
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn encoding_is_deterministic(msg in any::<Msg>()) {
        let mut first = Vec::new();
        msg.encode(&Msgpack, &mut first).expect("encodes");
        let back = Msg::decode(&Msgpack, &first).expect("decodes");
        let mut second = Vec::new();
        back.encode(&Msgpack, &mut second).expect("encodes");
        prop_assert_eq!(first, second);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Msg::decode(&Msgpack, &bytes);
        let _ = Node::decode(&Msgpack, &bytes);
        let _ = BTreeMap::<String, Node>::decode(&Msgpack, &bytes);
        let _ = libchan_core::Message::decode(&Msgpack, &bytes);
    }

    #[test]
    fn damaged_messages_never_panic(
        (msg, edits) in (any::<Msg>(), proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8))
    ) {
        let mut bytes = Vec::new();
        msg.encode(&Msgpack, &mut bytes).expect("encodes");
        let bytes = mutated(bytes, &edits);
        let _ = Msg::decode(&Msgpack, &bytes);
        let _ = Node::decode(&Msgpack, &bytes);
    }
}
