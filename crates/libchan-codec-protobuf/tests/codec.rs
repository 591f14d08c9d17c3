//! Codec-level checks: wire bytes of references, exports per message,
//! errors, and hostile input. No transport: ends go through a loopback
//! exporter/importer (`libchan_conformance::codec`) or a scripted one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use libchan_codec_protobuf::conformance::types::{
    Ask, Blob, Carry, Chain, Deep, Envelope, Inner, Number, Text, WithStream,
};
use libchan_codec_protobuf::{ByteStreamRef, Proto, Protobuf, ReceiverRef, SenderRef, NAME};
use libchan_conformance::codec::{decode_loopback, encode_loopback, round_trip};
use libchan_conformance::within;
use libchan_core::nest::{with_exporter, ChannelRef, Exporter, OutgoingEnd, RefKind};
use libchan_core::{pipe, ByteStream, Codec, CodecError, NestError, Payload};
use proptest::prelude::*;

/// Hands out the ids it is given, in order, and records the kinds asked for.
struct Scripted {
    ids: Vec<u64>,
    kinds: Arc<Mutex<Vec<RefKind>>>,
}

impl Exporter for Scripted {
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError> {
        let kind = match end {
            OutgoingEnd::Sender(_) => RefKind::Sender,
            OutgoingEnd::Receiver(_) => RefKind::Receiver,
            OutgoingEnd::Stream(_) => RefKind::Stream,
            other => return Err(NestError::Refused(format!("{other:?}"))),
        };
        self.kinds.lock().expect("lock").push(kind);
        let id = self.ids.remove(0);
        Ok(ChannelRef { kind, id })
    }
}

/// Encodes `value` with ids handed out from `ids`; returns the bytes and
/// the kinds exported, in order.
fn encode_with_ids<T: Payload>(value: &T, ids: &[u64]) -> (Vec<u8>, Vec<RefKind>) {
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let exporter = Scripted {
        ids: ids.to_vec(),
        kinds: kinds.clone(),
    };
    let mut out = Vec::new();
    let (result, _) = with_exporter(exporter, || value.encode(&Protobuf, &mut out));
    result.expect("encodes");
    let kinds = kinds.lock().expect("lock").clone();
    (out, kinds)
}

fn sender_ref() -> SenderRef {
    SenderRef::new(pipe::<Proto<Text>>().0)
}

#[test]
fn the_wire_name_is_protobuf() {
    assert_eq!(Protobuf.name(), "protobuf");
    assert_eq!(NAME, "protobuf");
}

#[test]
fn a_reference_is_an_embedded_message_with_the_id_as_field_1() {
    // Carry { tx: libchan.Sender { id: 3 } }: field 1, length 2, field 1 varint 3.
    let carry = Proto(Carry {
        tx: Some(sender_ref()),
    });
    let (bytes, kinds) = encode_with_ids(&carry, &[3]);
    assert_eq!(bytes, [0x0a, 0x02, 0x08, 0x03]);
    assert_eq!(kinds, [RefKind::Sender]);

    // Ask { question: "hi", reply: libchan.Sender { id: 300 } }: a two-byte varint.
    let ask = Proto(Ask {
        question: "hi".into(),
        reply: Some(sender_ref()),
    });
    let (bytes, _) = encode_with_ids(&ask, &[300]);
    assert_eq!(
        bytes,
        [0x0a, 0x02, b'h', b'i', 0x12, 0x03, 0x08, 0xac, 0x02]
    );
}

#[test]
fn each_handle_exports_its_kind_once_per_message() {
    let (feed_tx, feed_rx) = pipe::<Proto<Text>>();
    let mut by_name = HashMap::new();
    by_name.insert("a".to_string(), sender_ref());
    // Handles nested two levels deep: prost asks each for its length once
    // per level, and each must still export exactly once.
    let deep = Proto(Deep {
        label: "x".into(),
        single: Some(Inner {
            tx: Some(sender_ref()),
            rx: Some(ReceiverRef::new(feed_rx)),
        }),
        inner: vec![
            Inner::default(),
            Inner {
                tx: Some(sender_ref()),
                rx: None,
            },
        ],
        by_name,
        many: vec![sender_ref(), sender_ref()],
    });
    let (_, kinds) = encode_with_ids(&deep, &[1, 3, 5, 7, 9, 11, 13]);
    assert_eq!(
        kinds,
        [
            RefKind::Sender,   // single.tx
            RefKind::Receiver, // single.rx
            RefKind::Sender,   // inner[1].tx
            RefKind::Sender,   // by_name["a"]
            RefKind::Sender,   // many[0]
            RefKind::Sender,   // many[1]
        ]
    );
    drop(feed_tx);

    let (stream, _other) = ByteStream::pair();
    let with_stream = Proto(WithStream {
        name: "s".into(),
        stream: Some(ByteStreamRef::new(stream)),
    });
    let (bytes, kinds) = encode_with_ids(&with_stream, &[6]);
    assert_eq!(kinds, [RefKind::Stream]);
    assert_eq!(bytes, [0x0a, 0x01, b's', 0x12, 0x02, 0x08, 0x06]);
}

#[tokio::test]
async fn nested_ends_round_trip_as_live_ends() {
    let (answer_tx, mut answer_rx) = pipe::<Proto<Number>>();
    let (named_tx, mut named_rx) = pipe::<Proto<Number>>();
    let (feed_tx, feed_rx) = pipe::<Proto<Text>>();
    let mut by_name = HashMap::new();
    by_name.insert("named".to_string(), SenderRef::new(named_tx));
    let deep = Proto(Deep {
        label: "deep".into(),
        single: None,
        inner: vec![Inner {
            tx: Some(SenderRef::new(answer_tx)),
            rx: Some(ReceiverRef::new(feed_rx)),
        }],
        by_name,
        many: vec![],
    });
    let Proto(mut back) = round_trip(&Protobuf, &deep).expect("round-trips");
    drop(deep);
    assert_eq!(back.label, "deep");
    let inner = back.inner.pop().expect("inner");
    let answer: libchan_core::Sender<Proto<Number>> =
        inner.tx.expect("tx").into_sender().expect("typed");
    answer.send(Proto(Number { value: 1 })).await.expect("live");
    assert_eq!(
        within("answer", answer_rx.recv()).await.expect("recv"),
        Some(Proto(Number { value: 1 }))
    );
    let named: libchan_core::Sender<Proto<Number>> = back
        .by_name
        .remove("named")
        .expect("map value")
        .into_sender()
        .expect("typed");
    named.send(Proto(Number { value: 2 })).await.expect("live");
    assert_eq!(
        within("named", named_rx.recv()).await.expect("recv"),
        Some(Proto(Number { value: 2 }))
    );
    let mut feed: libchan_core::Receiver<Proto<Text>> =
        inner.rx.expect("rx").into_receiver().expect("typed");
    feed_tx
        .send(Proto(Text { text: "x".into() }))
        .await
        .expect("send");
    assert_eq!(
        within("feed", feed.recv())
            .await
            .expect("recv")
            .map(|t| t.0.text),
        Some("x".to_string())
    );
}

#[test]
fn ends_outside_a_session_are_errors_and_leave_the_output_alone() {
    let mut out = b"kept".to_vec();
    let carry = Proto(Carry {
        tx: Some(sender_ref()),
    });
    let err = carry.encode(&Protobuf, &mut out).expect_err("no exporter");
    assert!(
        matches!(err, CodecError::Nest(NestError::NoSession(_))),
        "got {err:?}"
    );
    assert_eq!(out, b"kept", "a failed encode writes nothing");

    let err =
        Proto::<Carry>::decode(&Protobuf, &[0x0a, 0x02, 0x08, 0x03]).expect_err("no importer");
    assert!(
        matches!(err, CodecError::Nest(NestError::NoSession(_))),
        "got {err:?}"
    );
}

#[test]
fn an_unknown_reference_is_an_error() {
    let err = decode_loopback::<Proto<Carry>>(&Protobuf, &[0x0a, 0x02, 0x08, 0x03], Arc::default())
        .expect_err("nothing was exported");
    assert!(
        matches!(
            err,
            CodecError::Nest(NestError::UnknownReference { id: 3, .. })
        ),
        "got {err:?}"
    );
}

#[test]
fn malformed_references_are_errors() {
    let carry = Proto(Carry {
        tx: Some(sender_ref()),
    });
    let (bytes, table) = encode_loopback(&Protobuf, &carry);
    assert_eq!(bytes.expect("encodes"), [0x0a, 0x02, 0x08, 0x01]);

    // The id twice in one reference.
    let twice = [0x0a, 0x04, 0x08, 0x01, 0x08, 0x01];
    let err = decode_loopback::<Proto<Carry>>(&Protobuf, &twice, table.clone())
        .expect_err("an id given twice");
    assert!(
        err.to_string().contains("given twice"),
        "the error says why: {err}"
    );
    // The id as a length-delimited field.
    let err = decode_loopback::<Proto<Carry>>(&Protobuf, &[0x0a, 0x03, 0x0a, 0x01, 0x01], table)
        .expect_err("the id must be a varint");
    assert!(matches!(err, CodecError::Format { .. }), "got {err:?}");
}

#[test]
fn unknown_fields_of_a_reference_are_skipped() {
    let carry = Proto(Carry {
        tx: Some(sender_ref()),
    });
    let (_, table) = encode_loopback(&Protobuf, &carry);
    // Field 2 (varint 7), then field 1 (id 1).
    let bytes = [0x0a, 0x04, 0x10, 0x07, 0x08, 0x01];
    let Proto(back) = decode_loopback::<Proto<Carry>>(&Protobuf, &bytes, table).expect("decodes");
    assert!(!back.tx.expect("the field").is_empty());
}

#[test]
fn an_empty_reference_is_an_empty_handle() {
    let Proto(back) = decode_loopback::<Proto<Carry>>(&Protobuf, &[0x0a, 0x00], Arc::default())
        .expect("an empty reference decodes");
    let handle = back.tx.expect("the field is present");
    assert!(handle.is_empty());
    let err = handle
        .into_sender::<Proto<Text>>()
        .expect_err("an empty handle has no sender");
    assert!(matches!(err, NestError::Refused(_)), "got {err:?}");
}

#[test]
fn other_payloads_and_other_codecs_are_refused() {
    let mut out = Vec::new();
    let err = "a serde string"
        .to_string()
        .encode(&Protobuf, &mut out)
        .expect_err("serde types are not protobuf messages");
    assert!(matches!(err, CodecError::Unsupported { .. }), "got {err:?}");

    #[derive(Debug)]
    struct Other;
    impl Codec for Other {
        fn name(&self) -> &str {
            "other"
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let err = Proto(Text::default())
        .encode(&Other, &mut out)
        .expect_err("prost messages need the protobuf codec");
    assert!(
        matches!(err, CodecError::Unsupported { ref codec, .. } if codec == "other"),
        "got {err:?}"
    );
    let err = Proto::<Text>::decode(&Other, &[]).expect_err("also when decoding");
    assert!(matches!(err, CodecError::Unsupported { .. }), "got {err:?}");
}

/// `depth` nested `Chain.next` fields, each claiming the rest of the input:
/// built back to front, so a deep one costs linear time.
fn nested_chain(depth: usize) -> Vec<u8> {
    let mut reversed: Vec<u8> = Vec::new();
    for _ in 0..depth {
        let mut len = reversed.len() as u64;
        let mut varint = Vec::new();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                varint.push(byte);
                break;
            }
            varint.push(byte | 0x80);
        }
        reversed.extend(varint.iter().rev());
        reversed.push(0x0a); // field 1 (next), length-delimited
    }
    reversed.reverse();
    reversed
}

#[test]
fn nesting_is_limited_by_prosts_recursion_limit() {
    let decode = |bytes: &[u8]| Proto::<Chain>::decode(&Protobuf, bytes);
    decode(&nested_chain(99)).expect("99 levels are within the limit");
    let err = decode(&nested_chain(101)).expect_err("101 levels are not");
    assert!(
        err.to_string().contains("recursion limit"),
        "prost's recursion limit is in force (is prost's `no-recursion-limit` feature on?): {err}"
    );
    // Far deeper input fails the same way, without exhausting the stack.
    assert!(decode(&nested_chain(200_000)).is_err());
}

#[test]
fn a_receiver_handle_is_spent_once_sent_and_a_sender_handle_is_not() {
    let (_tx, rx) = pipe::<Proto<Text>>();
    let inner = Proto(Inner {
        tx: Some(sender_ref()),
        rx: Some(ReceiverRef::new(rx)),
    });
    let (first, _) = encode_loopback(&Protobuf, &inner);
    first.expect("the first send exports both ends");
    let (second, _) = encode_loopback(&Protobuf, &inner);
    let err = second.expect_err("the receiver moved with the first message");
    assert!(
        matches!(err, CodecError::Nest(NestError::Refused(_))),
        "got {err:?}"
    );

    let carry = Proto(Carry {
        tx: Some(sender_ref()),
    });
    for _ in 0..2 {
        let (bytes, _) = encode_loopback(&Protobuf, &carry);
        bytes.expect("a sender is exported by copy: the message can be sent again");
    }
}

#[test]
fn handles_convert_to_their_element_type_only() {
    let err = sender_ref()
        .into_sender::<Proto<Number>>()
        .expect_err("a sender of Text is not a sender of Number");
    assert!(matches!(err, NestError::TypeMismatch { .. }), "got {err:?}");
    let (_tx, rx) = pipe::<Proto<Text>>();
    let err = ReceiverRef::new(rx)
        .into_receiver::<Proto<Number>>()
        .expect_err("a receiver of Text is not a receiver of Number");
    assert!(matches!(err, NestError::TypeMismatch { .. }), "got {err:?}");
}

#[test]
fn clones_share_the_end_and_compare_by_identity() {
    let a = sender_ref();
    let b = a.clone();
    assert_eq!(a, b);
    assert_ne!(a, sender_ref());
    assert_ne!(SenderRef::default(), SenderRef::default());
    assert_eq!(format!("{a:?}"), "SenderRef(local)");
    let _tx: libchan_core::Sender<Proto<Text>> = a.into_sender().expect("typed");
    assert!(b.is_empty(), "converting one clone takes the end from both");
    assert_eq!(format!("{b:?}"), "SenderRef(empty)");
    let (stream, _) = ByteStream::pair();
    assert_eq!(
        format!("{:?}", ByteStreamRef::new(stream)),
        "ByteStreamRef(stream)"
    );
}

fn decode_everything(bytes: &[u8]) {
    let _ = decode_loopback::<Proto<Deep>>(&Protobuf, bytes, Arc::default());
    let _ = decode_loopback::<Proto<Envelope>>(&Protobuf, bytes, Arc::default());
    let _ = decode_loopback::<Proto<Chain>>(&Protobuf, bytes, Arc::default());
    let _ = Proto::<Deep>::decode(&Protobuf, bytes);
    let _ = Proto::<Blob>::decode(&Protobuf, bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn truncated_and_extended_messages_never_panic(cut in 0usize..64, extra in proptest::collection::vec(any::<u8>(), 0..16)) {
        let (stream, _other) = ByteStream::pair();
        let envelope = Proto(Envelope {
            data: b"\x00payload\xff".to_vec(),
            stream: Some(ByteStreamRef::new(stream)),
            ret: Some(sender_ref()),
        });
        let (bytes, table) = encode_loopback(&Protobuf, &envelope);
        let mut bytes = bytes.expect("encodes");
        bytes.truncate(cut.min(bytes.len()));
        bytes.extend_from_slice(&extra);
        let _ = decode_loopback::<Proto<Envelope>>(&Protobuf, &bytes, table);
        decode_everything(&bytes);
    }

    #[test]
    fn plain_messages_round_trip(text in ".*", bytes in proptest::collection::vec(any::<u8>(), 0..64), channel: u32, seq: u32) {
        let t = Proto(Text { text });
        prop_assert_eq!(round_trip(&Protobuf, &t).expect("text"), t);
        let b = Proto(Blob { bytes });
        prop_assert_eq!(round_trip(&Protobuf, &b).expect("blob"), b);
        let n = Proto(libchan_codec_protobuf::conformance::types::Numbered { channel, seq });
        prop_assert_eq!(round_trip(&Protobuf, &n).expect("numbered"), n);
    }
}

/// A message with a `bytes::Bytes` field.
#[derive(Clone, PartialEq, prost::Message)]
struct Big {
    #[prost(bytes = "bytes", tag = "1")]
    data: bytes::Bytes,
}

#[test]
fn a_shared_buffer_is_sliced_not_copied() {
    let big = Proto(Big {
        data: bytes::Bytes::from(vec![7u8; 64 * 1024]),
    });
    let mut out = Vec::new();
    big.encode(&Protobuf, &mut out).expect("encodes");
    let buffer = bytes::Bytes::from(out);
    let shared = Proto::<Big>::decode_shared(&Protobuf, &buffer).expect("decodes");
    assert_eq!(shared, big);
    let inside = buffer.as_ptr_range();
    assert!(
        inside.contains(&shared.0.data.as_ptr()),
        "the field is a slice of the message's buffer"
    );
    let copied = Proto::<Big>::decode(&Protobuf, &buffer).expect("decodes");
    assert_eq!(copied, big);
    assert!(!inside.contains(&copied.0.data.as_ptr()), "decode copies");
}
