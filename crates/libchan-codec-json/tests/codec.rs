//! The codec conformance checks, plus the exact wire form of a reference.

use libchan_codec_json::Json;
use libchan_conformance::codec::encode_loopback;
use libchan_core::pipe;

libchan_conformance::codec_suite!(libchan_codec_json::Json);

#[test]
fn a_reference_is_written_as_kind_and_id() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Req {
        reply: libchan_core::Sender<String>,
    }
    let (reply, _rx) = pipe::<String>();
    let (bytes, _table) = encode_loopback(&Json, &Req { reply });
    assert_eq!(
        String::from_utf8(bytes.expect("encodes")).expect("utf-8"),
        r#"{"reply":{"kind":"sender","id":1}}"#
    );
}

#[test]
fn trailing_whitespace_is_accepted_but_not_a_second_value() {
    use libchan_core::Payload;
    assert_eq!(u32::decode(&Json, b"7 \n").expect("whitespace is fine"), 7);
    assert!(u32::decode(&Json, b"7 8").is_err());
}
