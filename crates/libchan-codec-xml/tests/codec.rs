//! The codec conformance checks, the exact wire forms the crate docs show,
//! what the decoder accepts and rejects, and property tests.

use std::collections::BTreeMap;

use libchan_codec_xml::{Xml, MAX_DEPTH};
use libchan_conformance::codec::{encode_loopback, round_trip};
use libchan_core::{pipe, Payload};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use libchan_conformance::strategy::{mutated, Msg, Node};

libchan_conformance::codec_suite!(libchan_codec_xml::Xml);

/// The document `value` encodes to.
fn xml<T: Payload>(value: &T) -> String {
    let mut out = Vec::new();
    value.encode(&Xml, &mut out).expect("encodes");
    String::from_utf8(out).expect("XML is UTF-8")
}

fn decode<T: Payload>(doc: &str) -> Result<T, libchan_core::CodecError> {
    T::decode(&Xml, doc.as_bytes())
}

#[test]
fn a_reference_is_written_as_kind_and_id() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Req {
        reply: libchan_core::Sender<String>,
    }
    let (reply, _rx) = pipe::<String>();
    let (bytes, _table) = encode_loopback(&Xml, &Req { reply });
    assert_eq!(
        String::from_utf8(bytes.expect("encodes")).expect("utf-8"),
        concat!(
            r#"<struct><field name="reply"><struct>"#,
            r#"<field name="kind"><str>sender</str></field>"#,
            r#"<field name="id"><int>1</int></field>"#,
            r#"</struct></field></struct>"#,
        )
    );
}

#[test]
fn maps_and_bytes_are_written_as_documented() {
    let map = BTreeMap::from([("one".to_string(), 1u32), ("two words".to_string(), 2)]);
    assert_eq!(
        xml(&map),
        concat!(
            "<map><entry><key><str>one</str></key><value><int>1</int></value></entry>",
            "<entry><key><str>two words</str></key><value><int>2</int></value></entry></map>",
        )
    );
    let blob = bytes::Bytes::from_static(&[0, 1, 255, 128]);
    assert_eq!(xml(&blob), "<bytes>AAH/gA==</bytes>");
    assert_eq!(
        xml(&vec![0u8, 255]),
        "<seq><int>0</int><int>255</int></seq>"
    );
    assert_eq!(xml(&bytes::Bytes::new()), "<bytes></bytes>");
    assert_eq!(
        decode::<bytes::Bytes>("<bytes/>").expect("empty"),
        blob.slice(0..0)
    );
}

#[test]
fn scalars_are_written_as_documented() {
    assert_eq!(xml(&()), "<unit/>");
    assert_eq!(xml(&true), "<bool>true</bool>");
    assert_eq!(xml(&i64::MIN), "<int>-9223372036854775808</int>");
    assert_eq!(xml(&u128::MAX), format!("<int>{}</int>", u128::MAX));
    assert_eq!(xml(&1.5f64), "<float>1.5</float>");
    assert_eq!(xml(&f64::NEG_INFINITY), "<float>-INF</float>");
    assert_eq!(xml(&'x'), "<str>x</str>");
    assert_eq!(
        xml(&(1u8, "a".to_string())),
        "<seq><int>1</int><str>a</str></seq>"
    );
}

#[test]
fn option_is_none_or_some_at_any_depth() {
    assert_eq!(xml(&None::<u8>), "<none/>");
    assert_eq!(
        xml(&Some(Some(3u8))),
        "<some><some><int>3</int></some></some>"
    );
    assert_eq!(xml(&Some(None::<u8>)), "<some><none/></some>");
    let cases: Vec<Option<Option<String>>> = vec![None, Some(None), Some(Some(String::new()))];
    for case in cases {
        assert_eq!(round_trip(&Xml, &case).expect("round-trips"), case);
    }
    assert_eq!(round_trip(&Xml, &Some(())).expect("round-trips"), Some(()));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Segment(i32, i32),
    Named {
        #[serde(rename = "the \"name\"\n<&>\t")]
        name: String,
    },
}

#[test]
fn enums_are_a_name_or_a_variant_element() {
    let shapes = vec![
        Shape::Empty,
        Shape::Circle(0.5),
        Shape::Segment(-1, 1),
        Shape::Named { name: "n".into() },
    ];
    assert_eq!(
        xml(&shapes),
        concat!(
            "<seq><str>Empty</str>",
            r#"<variant name="Circle"><float>0.5</float></variant>"#,
            r#"<variant name="Segment"><seq><int>-1</int><int>1</int></seq></variant>"#,
            r#"<variant name="Named"><struct>"#,
            r#"<field name="the &quot;name&quot;&#10;&lt;&amp;&gt;&#9;"><str>n</str></field>"#,
            "</struct></variant></seq>",
        )
    );
    assert_eq!(round_trip(&Xml, &shapes).expect("round-trips"), shapes);
    // A unit variant may also come as an empty <variant>.
    assert_eq!(
        decode::<Shape>(r#"<variant name="Empty"/>"#).expect("decodes"),
        Shape::Empty
    );
    assert_eq!(
        decode::<Shape>(r#"<variant name="Empty"><unit/></variant>"#).expect("decodes"),
        Shape::Empty
    );
}

#[test]
fn untagged_and_flattened_types_decode_through_buffering() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Shape(Shape),
        Text(String),
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Outer {
        id: u32,
        #[serde(flatten)]
        rest: BTreeMap<String, u32>,
    }
    let values = vec![Either::Shape(Shape::Circle(2.0)), Either::Text("hi".into())];
    assert_eq!(round_trip(&Xml, &values).expect("round-trips"), values);
    let outer = Outer {
        id: 1,
        rest: BTreeMap::from([("x".to_string(), 2)]),
    };
    assert_eq!(round_trip(&Xml, &outer).expect("round-trips"), outer);
}

#[test]
fn strings_keep_every_character() {
    assert_eq!(xml(&"  \t".to_string()), "<str>  \t</str>");
    assert_eq!(xml(&"a\r\nb".to_string()), "<str>a&#13;\nb</str>");
    assert_eq!(xml(&"]]>".to_string()), "<str>]]&gt;</str>");
    // U+0001 cannot appear in XML 1.0 at all, so the string goes as base64.
    assert_eq!(
        xml(&"a\u{1}b".to_string()),
        r#"<str encoding="base64">YQFi</str>"#
    );
    for s in [
        "",
        " ",
        "\n",
        "\r",
        "\r\n",
        "a\u{0}b",
        "\u{fffe}",
        "\u{10ffff}",
        "<&>\"'",
    ] {
        assert_eq!(round_trip(&Xml, &s.to_string()).expect("round-trips"), s);
    }
    assert_eq!(round_trip(&Xml, &'\u{7}').expect("round-trips"), '\u{7}');
}

#[test]
fn non_finite_floats_round_trip() {
    assert_eq!(
        round_trip(&Xml, &f64::INFINITY).expect("inf"),
        f64::INFINITY
    );
    assert!(round_trip(&Xml, &f64::NAN).expect("nan").is_nan());
    assert_eq!(
        round_trip(&Xml, &f32::NEG_INFINITY).expect("-inf"),
        f32::NEG_INFINITY
    );
}

#[test]
fn a_name_xml_cannot_carry_is_an_encode_error() {
    #[derive(Serialize, Deserialize)]
    struct Odd {
        #[serde(rename = "bell\u{7}")]
        field: u8,
    }
    let mut out = b"kept".to_vec();
    assert!(Odd { field: 1 }.encode(&Xml, &mut out).is_err());
    assert_eq!(out, b"kept", "a failed encode leaves the buffer as it was");
}

#[test]
fn the_decoder_accepts_what_xml_libraries_write() {
    let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
        <!-- a message -->\n\
        <struct>\n  <field name=\"x\"> <int> 5 </int> </field>\n\
        <field name='label'><str><![CDATA[<a>]]>&#x26;&amp;&apos;</str></field>\n\
        </struct>\n<!-- done -->\n";
    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Point {
        x: i32,
        label: String,
    }
    assert_eq!(
        decode::<Point>(doc).expect("decodes"),
        Point {
            x: 5,
            label: "<a>&&'".into()
        }
    );
    // A literal CR LF in text is a line feed, as in any XML parser.
    assert_eq!(
        decode::<String>("<str>a\r\nb\rc</str>").expect("decodes"),
        "a\nb\nc"
    );
    assert_eq!(decode::<String>("<str></str>").expect("decodes"), "");
    assert_eq!(
        decode::<Vec<u8>>("<seq/>").expect("decodes"),
        Vec::<u8>::new()
    );
    assert_eq!(
        decode::<bytes::Bytes>("<bytes>\n  AAH/\n  gA==\n</bytes>").expect("decodes"),
        bytes::Bytes::from_static(&[0, 1, 255, 128])
    );
}

#[test]
fn the_decoder_rejects_what_the_format_does_not_allow() {
    let bad = [
        // No DTDs, so no entity expansion beyond the predefined five.
        r#"<!DOCTYPE lol [<!ENTITY lol "lol">]><str>&lol;</str>"#,
        "<str>&lol;</str>",
        "<?pi data?><str>a</str>",
        "<str>a</str><?pi data?>",
        "<str>&#1;</str>",
        "<str>a\u{1}</str>",
        "<str>a</str><str>b</str>",
        "<str>a</str>text",
        "<str>a</str",
        "<str>a</int>",
        "<str><int>1</int></str>",
        "<string>a</string>",
        r#"<str lang="en">a</str>"#,
        r#"<str encoding="hex">61</str>"#,
        r#"<str encoding="base64">/w==</str>"#,
        "<bytes>AAH/gA=</bytes>",
        "<field>a</field>",
        r#"<?xml version="1.1"?><str>a</str>"#,
        r#"<?xml version="1.0" encoding="latin1"?><str>a</str>"#,
        r#"<str>a</str><?xml version="1.0"?>"#,
        "",
        "   ",
    ];
    for doc in bad {
        assert!(decode::<String>(doc).is_err(), "{doc:?} must not decode");
    }
    assert!(
        String::decode(&Xml, b"<str>\xff</str>").is_err(),
        "not UTF-8"
    );
    assert!(decode::<Vec<u8>>("<seq>text<int>1</int></seq>").is_err());
    assert!(decode::<Vec<u8>>("<seq><int>1</int>").is_err());
    assert!(decode::<BTreeMap<String, u8>>("<map><key><str>a</str></key></map>").is_err());
    assert!(decode::<Shape>(r#"<variant name="Circle"/>"#).is_err());
    assert!(decode::<u8>("<int>256</int>").is_err());
    assert!(decode::<i8>("<int>-129</int>").is_err());
    assert!(decode::<bool>("<bool>yes</bool>").is_err());
    assert!(
        decode::<Option<u8>>("<int>1</int>").is_err(),
        "Some needs <some>"
    );
    assert!(decode::<(u8, u8)>("<seq><int>1</int><int>2</int><int>3</int></seq>").is_err());
}

#[test]
fn errors_say_where() {
    let err = decode::<Vec<u8>>("<seq><int>1</int><int>x</int></seq>").expect_err("bad int");
    assert!(err.to_string().contains("at byte"), "{err}");
}

#[test]
fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
    // A list variant is two levels: the variant, and its sequence.
    let mut deep = Node::Unit;
    for _ in 0..MAX_DEPTH / 2 {
        deep = Node::List(vec![deep]);
    }
    assert_eq!(round_trip(&Xml, &deep).expect("at the limit"), deep);
    let deeper = Node::List(vec![deep]);
    let (bytes, _) = encode_loopback(&Xml, &deeper);
    assert!(Node::decode(&Xml, &bytes.expect("encodes")).is_err());
    #[derive(Debug, Serialize, Deserialize)]
    struct Tree(Vec<Tree>);
    let seqs = |n: usize| "<seq>".repeat(n) + &"</seq>".repeat(n);
    assert!(decode::<Tree>(&seqs(MAX_DEPTH)).is_ok());
    assert!(decode::<Tree>(&seqs(MAX_DEPTH + 1)).is_err());
    assert!(decode::<Tree>(&seqs(100_000)).is_err());
    #[derive(Debug, Serialize, Deserialize)]
    struct Chain(Option<Box<Chain>>);
    let somes = |n: usize| "<some>".repeat(n) + "<none/>" + &"</some>".repeat(n);
    assert!(decode::<Chain>(&somes(MAX_DEPTH)).is_ok());
    assert!(decode::<Chain>(&somes(MAX_DEPTH + 1)).is_err());
    assert!(decode::<Chain>(&somes(100_000)).is_err());
    let n = 100_000;
    let variants = r#"<variant name="Maybe"><some>"#.repeat(n)
        + "<str>Unit</str>"
        + &"</some></variant>".repeat(n);
    assert!(decode::<Node>(&variants).is_err());
}

proptest! {
    #[test]
    fn plain_messages_round_trip_exactly(msg in any::<Msg>()) {
        let back = round_trip(&Xml, &msg).expect("round-trips");
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn every_document_is_plain_xml_1_0(msg in any::<Msg>()) {
        let doc = xml(&msg);
        let allowed = |c: char| matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        prop_assert!(doc.chars().all(allowed), "{}", doc);
        prop_assert!(!doc.contains("]]>"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Msg::decode(&Xml, &bytes);
        let _ = Node::decode(&Xml, &bytes);
        let _ = libchan_core::Message::decode(&Xml, &bytes);
    }

    #[test]
    fn arbitrary_markup_never_panics(doc in "(<(seq|map|str|int|some|none|entry|key|value|struct|variant|bytes)( name=\"[a-z]{0,3}\")?/?>|</(seq|map|str|int|some|entry|key|value|struct|variant)>|[a-z0-9&;#<>= ]{0,3}){0,24}") {
        let _ = Msg::decode(&Xml, doc.as_bytes());
        let _ = Node::decode(&Xml, doc.as_bytes());
        let _ = BTreeMap::<String, Node>::decode(&Xml, doc.as_bytes());
    }

    #[test]
    fn damaged_messages_never_panic(
        (msg, edits) in (any::<Msg>(), proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8))
    ) {
        let doc = mutated(xml(&msg).into_bytes(), &edits);
        let _ = Msg::decode(&Xml, &doc);
        let _ = Node::decode(&Xml, &doc);
    }
}
