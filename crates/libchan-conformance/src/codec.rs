//! Codec checks: plain values, nested ends, and hostile bytes.
//!
//! Encoding goes through a loopback [`Exporter`]/[`Importer`] pair that keeps
//! exported ends in a table instead of a session, so a codec's handling of
//! channel references is tested with no transport at all. Instantiate every
//! check with [`codec_suite!`](crate::codec_suite).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use libchan_core::nest::{
    with_exporter, with_importer, ChannelRef, Exporter, Importer, OutgoingEnd, RefKind,
};
use libchan_core::transport::IncomingEnd;
use libchan_core::{pipe, Codec, CodecError, Message, NestError, Payload};
use serde::{Deserialize, Serialize};

use crate::types::{Deep, Inner, Untagged};
use crate::within;

type Table = Arc<Mutex<HashMap<u64, IncomingEnd>>>;

/// Keeps exported ends in a table, keyed by the id it hands out.
struct LoopbackExporter {
    table: Table,
    next: u64,
}

impl Exporter for LoopbackExporter {
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError> {
        self.next += 1;
        let (kind, incoming) = match end {
            OutgoingEnd::Sender(s) => (RefKind::Sender, IncomingEnd::Local(s.into_any())),
            OutgoingEnd::Receiver(r) => (RefKind::Receiver, IncomingEnd::Local(r.into_any())),
            OutgoingEnd::Stream(s) => (RefKind::Stream, IncomingEnd::Stream(s)),
            other => return Err(NestError::Refused(format!("unknown end {other:?}"))),
        };
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.next, incoming);
        Ok(ChannelRef {
            kind,
            id: self.next,
        })
    }
}

/// Hands each exported end out once.
struct LoopbackImporter {
    table: Table,
}

impl Importer for LoopbackImporter {
    fn import(&mut self, r: ChannelRef) -> Result<IncomingEnd, NestError> {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&r.id)
            .ok_or(NestError::UnknownReference {
                kind: r.kind.as_str(),
                id: r.id,
            })
    }
}

/// Encodes `value` with `codec` through a loopback exporter; returns the
/// bytes and the table of exported ends.
pub fn encode_loopback<T: Payload>(
    codec: &dyn Codec,
    value: &T,
) -> (Result<Vec<u8>, CodecError>, Table) {
    let table: Table = Arc::default();
    let exporter = LoopbackExporter {
        table: table.clone(),
        next: 0,
    };
    let mut out = Vec::new();
    let (result, _) = with_exporter(exporter, || value.encode(codec, &mut out));
    (result.map(|()| out), table)
}

/// Decodes `bytes` as `T`, resolving references from `table`.
pub fn decode_loopback<T: Payload>(
    codec: &dyn Codec,
    bytes: &[u8],
    table: Table,
) -> Result<T, CodecError> {
    let importer = LoopbackImporter { table };
    with_importer(importer, || T::decode(codec, bytes)).0
}

/// Encodes then decodes through the loopback.
pub fn round_trip<T: Payload>(codec: &dyn Codec, value: &T) -> Result<T, CodecError> {
    let (bytes, table) = encode_loopback(codec, value);
    decode_loopback(codec, &bytes?, table)
}

/// Plain data of many shapes survives a round trip unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plain {
    /// Text, with characters that need escaping in most formats.
    pub text: String,
    /// Signed and unsigned integers at their extremes.
    pub ints: (i64, u64, i8),
    /// A float.
    pub float: f64,
    /// Raw bytes.
    pub bytes: Vec<u8>,
    /// A map with string keys.
    pub map: BTreeMap<String, u32>,
    /// Optional values.
    pub maybe: Option<Box<Plain>>,
    /// A sequence.
    pub list: Vec<bool>,
}

fn plain() -> Plain {
    let mut map = BTreeMap::new();
    map.insert("one".to_string(), 1);
    map.insert("two words".to_string(), 2);
    Plain {
        text: "héllo <&> \"quoted\"\n\ttab".into(),
        ints: (i64::MIN, u64::MAX, -7),
        float: 1.5,
        bytes: vec![0, 1, 255, 128],
        map,
        maybe: Some(Box::new(Plain {
            text: String::new(),
            ints: (0, 0, 0),
            float: 0.0,
            bytes: vec![],
            map: BTreeMap::new(),
            maybe: None,
            list: vec![],
        })),
        list: vec![true, false],
    }
}

/// Plain values round-trip.
pub fn plain_values_round_trip(codec: &dyn Codec) {
    let value = plain();
    let back = round_trip(codec, &value).expect("a plain value round-trips");
    assert_eq!(back, value);
}

/// Ends nested at depth are written as references and come back as live,
/// connected ends.
pub async fn nested_ends_round_trip(codec: &dyn Codec) {
    let (answer_tx, mut answer_rx) = pipe::<u64>();
    let (named_tx, mut named_rx) = pipe::<u64>();
    let (feed_tx, feed_rx) = pipe::<String>();
    let mut by_name = BTreeMap::new();
    by_name.insert("named".to_string(), named_tx);
    let value = Deep {
        label: "deep".into(),
        inner: vec![
            None,
            Some(Inner {
                tx: answer_tx,
                rx: Some(feed_rx),
            }),
        ],
        by_name,
    };
    let (bytes, table) = encode_loopback(codec, &value);
    let bytes = bytes.expect("a message with ends encodes");
    drop(value);
    assert_eq!(
        table.lock().unwrap_or_else(PoisonError::into_inner).len(),
        3,
        "each nested end is exported once"
    );
    let back: Deep = decode_loopback(codec, &bytes, table.clone()).expect("decodes");
    assert!(
        table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty(),
        "every reference resolved"
    );
    assert_eq!(back.label, "deep");
    let inner = back.inner.into_iter().nth(1).flatten().expect("inner");
    inner.tx.send(1).await.expect("nested sender is live");
    assert_eq!(
        within("answer", answer_rx.recv()).await.expect("recv"),
        Some(1)
    );
    back.by_name["named"]
        .send(2)
        .await
        .expect("map sender is live");
    assert_eq!(
        within("named", named_rx.recv()).await.expect("recv"),
        Some(2)
    );
    feed_tx.send("x".into()).await.expect("send");
    let mut rx = inner.rx.expect("receiver");
    assert_eq!(
        within("feed", rx.recv()).await.expect("recv"),
        Some("x".into())
    );
}

/// The seed's message, with a byte stream and a return channel, round-trips.
pub async fn seed_message_round_trips(codec: &dyn Codec) {
    let (ret, mut ret_rx) = pipe::<Message>();
    let (stream, _other) = libchan_core::ByteStream::pair();
    let msg = Message::new(&b"\x00binary\xff"[..])
        .with_ret(ret)
        .with_stream(stream);
    let back = round_trip(codec, &msg).expect("message round-trips");
    assert_eq!(&back.data[..], b"\x00binary\xff");
    assert!(back.stream.is_some(), "the stream survives");
    back.ret
        .expect("ret survives")
        .send(Message::new("ok"))
        .await
        .expect("ret is live");
    let got = within("reply", ret_rx.recv())
        .await
        .expect("recv")
        .expect("msg");
    assert_eq!(&got.data[..], b"ok");
}

/// An untagged enum with ends in a later variant decodes: the failed
/// earlier variant's imports do not use the references up, each reference
/// resolves once, and the ends are live and end cleanly afterwards.
pub async fn untagged_enum_with_ends_in_a_later_variant(codec: &dyn Codec) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (reply_tx, mut reply_rx) = pipe::<String>();
    let (feed_tx, feed_rx) = pipe::<u64>();
    let (stream, mut other) = libchan_core::ByteStream::pair();
    let value = Untagged::Later {
        reply: reply_tx,
        feed: feed_rx,
        stream,
        text: "later".into(),
    };
    let (bytes, table) = encode_loopback(codec, &value);
    let bytes = bytes.expect("an untagged enum with ends encodes");
    drop(value);
    let back: Untagged =
        decode_loopback(codec, &bytes, table.clone()).expect("decodes as the later variant");
    assert!(
        table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty(),
        "each reference was resolved once"
    );
    let Untagged::Later {
        reply,
        mut feed,
        mut stream,
        text,
    } = back
    else {
        panic!("decoded as the earlier variant");
    };
    assert_eq!(text, "later");
    reply
        .send("answer".into())
        .await
        .expect("the sender is live");
    drop(reply);
    assert_eq!(
        within("the reply", reply_rx.recv()).await.expect("recv"),
        Some("answer".into())
    );
    assert_eq!(
        within("the reply channel's end", reply_rx.recv())
            .await
            .expect("a clean end, not a break"),
        None,
        "no copy of the sender outlives the decode"
    );
    feed_tx.send(7).await.expect("the receiver is live");
    assert_eq!(
        within("the feed", feed.recv()).await.expect("recv"),
        Some(7)
    );
    stream.write_all(b"ping").await.expect("write");
    stream.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    within("the stream", other.read_to_end(&mut got))
        .await
        .expect("read");
    assert_eq!(got, b"ping");
}

/// A reference nobody exported is an error, not a panic or a dangling end.
pub fn unknown_reference_is_an_error(codec: &dyn Codec) {
    let (tx, _rx) = pipe::<u64>();
    let (bytes, _table) = encode_loopback(codec, &Some(tx));
    let bytes = bytes.expect("encodes");
    let empty: Table = Arc::default();
    let result = decode_loopback::<Option<libchan_core::Sender<u64>>>(codec, &bytes, empty);
    assert!(result.is_err(), "an unknown reference must not decode");
}

/// An end serialized outside any session is an error naming why.
pub fn end_outside_a_session_is_an_error(codec: &dyn Codec) {
    let (tx, _rx) = pipe::<u64>();
    let mut out = Vec::new();
    let result = tx.encode(codec, &mut out);
    assert!(
        result.is_err(),
        "a Sender has no wire form outside a session"
    );
}

/// Garbage, truncated input and trailing bytes give errors, never panics.
pub fn hostile_bytes_are_errors(codec: &dyn Codec) {
    let (good, _) = encode_loopback(codec, &plain());
    let good = good.expect("encodes");
    for cut in 0..good.len() {
        let _ = decode_loopback::<Plain>(codec, &good[..cut], Arc::default());
    }
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"\x01garbage");
    assert!(
        decode_loopback::<Plain>(codec, &trailing, Arc::default()).is_err(),
        "trailing bytes after a message are an error"
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in 0..512usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_loopback::<Plain>(codec, &bytes, Arc::default());
        let _ = decode_loopback::<Deep>(codec, &bytes, Arc::default());
        let _ = decode_loopback::<Message>(codec, &bytes, Arc::default());
    }
}

/// Instantiates every codec check as a test in a module named `codec_conformance`.
#[macro_export]
macro_rules! codec_suite {
    ($codec:expr) => {
        mod codec_conformance {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn plain_values_round_trip() {
                $crate::codec::plain_values_round_trip(&$codec);
            }

            #[tokio::test]
            async fn nested_ends_round_trip() {
                $crate::codec::nested_ends_round_trip(&$codec).await;
            }

            #[tokio::test]
            async fn seed_message_round_trips() {
                $crate::codec::seed_message_round_trips(&$codec).await;
            }

            #[tokio::test]
            async fn untagged_enum_with_ends_in_a_later_variant() {
                $crate::codec::untagged_enum_with_ends_in_a_later_variant(&$codec).await;
            }

            #[test]
            fn unknown_reference_is_an_error() {
                $crate::codec::unknown_reference_is_an_error(&$codec);
            }

            #[test]
            fn end_outside_a_session_is_an_error() {
                $crate::codec::end_outside_a_session_is_an_error(&$codec);
            }

            #[test]
            fn hostile_bytes_are_errors() {
                $crate::codec::hostile_bytes_are_errors(&$codec);
            }
        }
    };
}
