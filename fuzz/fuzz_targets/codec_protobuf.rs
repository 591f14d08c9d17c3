//! Arbitrary bytes through the protobuf codec's decoder, as a prost message
//! with nested messages, a map and every kind of channel handle. Decoding
//! must never panic; a message that decodes without handles must re-encode
//! and decode to the same value.

#![no_main]

mod codec_round_trip;

use std::collections::HashMap;

use libchan_codec_protobuf::{ByteStreamRef, Proto, Protobuf, ReceiverRef, SenderRef};
use libchan_core::Payload;
use libfuzzer_sys::fuzz_target;

/// Every field shape a schema-first user writes, handles included.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    #[prost(message, optional, tag = "3")]
    pub reply: Option<SenderRef>,
    #[prost(message, optional, tag = "4")]
    pub feed: Option<ReceiverRef>,
    #[prost(message, optional, tag = "5")]
    pub stream: Option<ByteStreamRef>,
    #[prost(message, repeated, tag = "6")]
    pub children: Vec<Envelope>,
    #[prost(map = "string, int64", tag = "7")]
    pub counts: HashMap<String, i64>,
    #[prost(sint64, tag = "8")]
    pub signed: i64,
}

fn has_handles(e: &Envelope) -> bool {
    e.reply.is_some() || e.feed.is_some() || e.stream.is_some() || e.children.iter().any(has_handles)
}

fuzz_target!(|data: &[u8]| {
    let Some(Proto(first)) = codec_round_trip::decode_fresh::<Proto<Envelope>>(&Protobuf, data)
    else {
        return;
    };
    if has_handles(&first) {
        return;
    }
    let mut bytes = Vec::new();
    Proto(first.clone())
        .encode(&Protobuf, &mut bytes)
        .expect("a decoded message without handles re-encodes");
    let Proto(second) =
        Proto::<Envelope>::decode(&Protobuf, &bytes).expect("what was encoded decodes");
    assert_eq!(first, second, "a round trip keeps the message");
});
