//! The round trip every `codec_*` target runs: arbitrary bytes are decoded as
//! each message type; whatever decodes is encoded again and decoded again.
//!
//! * The first decode runs under [`FreshImporter`], which resolves every
//!   reference it has not seen before to a new end of the kind the message
//!   names, as a session does for a stream the peer just opened. A reused id
//!   is an error, as in a session.
//! * The re-encode runs under a loopback exporter that keeps the exported
//!   ends in a table, and the second decode takes them back from it (the
//!   `encode_loopback`/`decode_loopback` pair of
//!   `crates/libchan-conformance/src/codec.rs`, copied to keep the fuzz crate
//!   free of tokio's runtime).
//!
//! Checked: a decoded value always re-encodes; the re-encoding always
//! decodes, resolving every reference it wrote exactly once; a [`Plain`]
//! value comes back equal and its encoding is stable; a [`Message`] or an
//! [`Ends`] keeps its data and which ends it carries.
//!
//! Seed corpora: run from `fuzz/`, `LIBCHAN_FUZZ_SEEDS=$PWD/corpus/codec_json
//! cargo +nightly fuzz run codec_json -- -runs=0` writes `seed-*` files (valid
//! encodings of [`samples`]) into that directory before fuzzing starts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use libchan_core::nest::{
    with_exporter, with_importer, ChannelRef, Exporter, Importer, OutgoingEnd, RefKind,
};
use libchan_core::transport::{
    DrainHandle, EncodeFn, Feed, InboundSlot, IncomingEnd, Sent, StreamSink,
};
use libchan_core::{
    pipe, ByteStream, ChannelError, Codec, CodecError, Message, NestError, Payload, Receiver,
    Sender, SessionId,
};
use serde::{Deserialize, Serialize};

/// Plain data of every serde shape, nested: no channel ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plain {
    pub name: String,
    pub id: u64,
    pub delta: i32,
    pub small: i8,
    pub flag: bool,
    pub letter: char,
    /// Serialized as bytes (msgpack `bin`, XML `<bytes>`).
    pub data: Bytes,
    /// Serialized as a sequence of integers.
    pub raw: Vec<u8>,
    pub tags: Vec<String>,
    pub counts: BTreeMap<String, i64>,
    pub shape: Shape,
    pub note: Option<String>,
    pub child: Option<Box<Plain>>,
    pub children: Vec<Plain>,
}

/// One enum variant of each kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    #[default]
    Empty,
    Code(u32),
    Pair(i16, String),
    Point {
        x: i64,
        y: u8,
    },
}

/// A message carrying channel ends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ends {
    pub tx: Sender<u32>,
    pub rx: Option<Receiver<String>>,
}

/// Decodes `data` as each message type with `codec` and round-trips what
/// decodes. Panics when a check fails.
pub fn check(codec: &dyn Codec, data: &[u8]) {
    if let Some(first) = decode_fresh::<Plain>(codec, data) {
        let (bytes, second) = round_trip(codec, &first);
        assert_eq!(second, first, "decode(encode(value)) != value");
        let (again, _) = encode_loopback(codec, &second);
        assert_eq!(again, bytes, "equal values encode differently");
    }
    if let Some(first) = decode_fresh::<Message>(codec, data) {
        let (_, second) = round_trip(codec, &first);
        assert_eq!(second.data, first.data, "message data changed");
        assert_eq!(second.stream.is_some(), first.stream.is_some(), "stream");
        assert_eq!(second.ret.is_some(), first.ret.is_some(), "ret");
    }
    if let Some(first) = decode_fresh::<Ends>(codec, data) {
        let (_, second) = round_trip(codec, &first);
        assert_eq!(second.rx.is_some(), first.rx.is_some(), "rx");
    }
}

/// Writes `seed-*` files (encodings of [`samples`]) into the directory named
/// by `LIBCHAN_FUZZ_SEEDS`, if set.
pub fn write_seeds(codec: &dyn Codec) {
    let Some(dir) = std::env::var_os("LIBCHAN_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the seed directory can be created");
    for (name, bytes) in samples(codec) {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("a seed file is written");
    }
}

/// Valid encodings of a few values of each message type, by name.
pub fn samples(codec: &dyn Codec) -> Vec<(&'static str, Vec<u8>)> {
    let mut counts = BTreeMap::new();
    counts.insert("one".to_string(), 1);
    counts.insert("two words".to_string(), i64::MIN);
    let full = Plain {
        name: "héllo <&> \"quoted\"\r\n\ttab \u{1} ]]>".into(),
        id: u64::MAX,
        delta: -7,
        small: i8::MIN,
        flag: true,
        letter: 'ß',
        data: Bytes::from_static(b"\x00\x01\xff\x80"),
        raw: vec![0, 255, 128],
        tags: vec![String::new(), "  ".into()],
        counts,
        shape: Shape::Point { x: -1, y: 2 },
        note: Some("note".into()),
        child: Some(Box::new(Plain {
            shape: Shape::Pair(-3, "pair".into()),
            note: Some(String::new()),
            ..Plain::default()
        })),
        children: vec![
            Plain {
                shape: Shape::Code(9),
                ..Plain::default()
            },
            Plain::default(),
        ],
    };
    let (ret, _ret_rx) = pipe::<Message>();
    let (stream, _other) = ByteStream::pair();
    let (tx, _tx_rx) = pipe::<u32>();
    let (_rx_tx, rx) = pipe::<String>();
    let (tx2, _tx2_rx) = pipe::<u32>();
    let mut out = vec![
        ("plain-full", encode_loopback(codec, &full).0),
        ("plain-default", encode_loopback(codec, &Plain::default()).0),
        (
            "message-ends",
            encode_loopback(
                codec,
                &Message::new(&b"\x00binary\xff"[..])
                    .with_ret(ret)
                    .with_stream(stream),
            )
            .0,
        ),
        (
            "message-data",
            encode_loopback(codec, &Message::new("hi")).0,
        ),
        (
            "ends-both",
            encode_loopback(codec, &Ends { tx, rx: Some(rx) }).0,
        ),
        (
            "ends-sender",
            encode_loopback(codec, &Ends { tx: tx2, rx: None }).0,
        ),
    ];
    out.sort();
    out
}

/// Decodes `data` as a `T`, resolving every new reference to a fresh end.
pub fn decode_fresh<T: Payload>(codec: &dyn Codec, data: &[u8]) -> Option<T> {
    let importer = FreshImporter::default();
    with_importer(importer, || T::decode(codec, data)).0.ok()
}

/// Encodes `value` through the loopback and decodes the result; returns the
/// encoding and the value decoded from it.
fn round_trip<T: Payload>(codec: &dyn Codec, value: &T) -> (Vec<u8>, T) {
    let (bytes, table) = encode_loopback(codec, value);
    let back = decode_loopback(codec, &bytes, table.clone())
        .unwrap_or_else(|e| panic!("a re-encoded value does not decode: {e}\n{bytes:?}"));
    assert!(
        table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty(),
        "a reference written by the encoder was not read back"
    );
    (bytes, back)
}

type Table = Arc<Mutex<HashMap<u64, IncomingEnd>>>;

fn encode_loopback<T: Payload>(codec: &dyn Codec, value: &T) -> (Vec<u8>, Table) {
    let table: Table = Arc::default();
    let exporter = LoopbackExporter {
        table: table.clone(),
        next: 0,
    };
    let mut out = Vec::new();
    let (result, _) = with_exporter(exporter, || value.encode(codec, &mut out));
    if let Err(e) = result {
        panic!("a decoded value does not encode: {e}");
    }
    (out, table)
}

fn decode_loopback<T: Payload>(
    codec: &dyn Codec,
    bytes: &[u8],
    table: Table,
) -> Result<T, CodecError> {
    with_importer(LoopbackImporter { table }, || T::decode(codec, bytes)).0
}

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

/// Resolves each id once, to a new end of the kind the reference names.
#[derive(Default)]
struct FreshImporter {
    seen: HashSet<u64>,
}

impl Importer for FreshImporter {
    fn import(&mut self, r: ChannelRef) -> Result<IncomingEnd, NestError> {
        if !self.seen.insert(r.id) {
            return Err(NestError::UnknownReference {
                kind: r.kind.as_str(),
                id: r.id,
            });
        }
        Ok(match r.kind {
            RefKind::Sender => IncomingEnd::Outbound(Arc::new(DeadStream::new(r.id))),
            RefKind::Receiver => IncomingEnd::Inbound(Box::new(DeadStream::new(r.id))),
            RefKind::Stream => IncomingEnd::Stream(ByteStream::pair().0),
        })
    }
}

/// A stream with no credit that never delivers: the far side of an end that
/// arrived in a fuzzed message.
#[derive(Debug)]
struct DeadStream {
    session: SessionId,
    stream: u64,
}

impl DeadStream {
    fn new(stream: u64) -> Self {
        DeadStream {
            session: libchan_core::transport::new_session_id(),
            stream,
        }
    }
}

impl StreamSink for DeadStream {
    fn session(&self) -> SessionId {
        self.session
    }

    fn stream(&self) -> u64 {
        self.stream
    }

    fn has_credit(&self) -> bool {
        false
    }

    fn send(&self, _encode: &mut EncodeFn<'_>) -> Result<Sent, ChannelError> {
        Ok(Sent::Queued)
    }

    fn close(&self) {}

    fn reset(&self, _error: &ChannelError) {}

    // Keeping the handle would make a cycle (channel → sink → channel).
    fn attach_drain(&self, _drain: DrainHandle) {}
}

impl InboundSlot for DeadStream {
    fn attach(self: Box<Self>, _feed: Feed) {}
}
