//! Each codec's encode and decode beside a raw length-prefixed encoding,
//! measured in the same run.
//!
//! The message is `Blob { id: u64, name: String, bytes: Bytes }` with 16 B,
//! 1 KiB and 64 KiB of bytes, encoded and decoded through
//! `libchan::Payload` (no channel ends, so no session is needed). Baseline:
//! `id` as 8 bytes, then `name` and `bytes` each behind a 4-byte length, into
//! a reused `Vec`; decoding reads them back through bounds checks into a new
//! `Blob` (UTF-8 checked, bytes copied), as a codec must.
//!
//! The output buffer is reused across encodes on both sides. Iteration
//! counts are calibrated per case so that each sample takes about
//! [`SAMPLE`] (a tenth of that with `LIBCHAN_BENCH_QUICK=1`).
//! `LIBCHAN_BENCH_FILTER=json` (or `64 KiB`, `msgpack 16 B`) runs a subset.
//!
//! The bridge rows (`LIBCHAN_BENCH_FILTER=bridge`) price the run-time codec
//! choice: the msgpack codec through `Payload` (serde erased behind
//! `dyn SerdeCodec`) beside rmp-serde called directly on the concrete type,
//! monomorphized, for the same bytes.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libchan::codec::{Json, Msgpack, Proto, Protobuf, Xml};
use libchan::{Codec, Payload};
use serde::{Deserialize, Serialize};
use support::{iters, per_op, print, Row};

/// Target duration of one sample in full mode: 7 rounds of 4 measurements
/// for 9 cases is about 50 s, plus calibration.
const SAMPLE: Duration = Duration::from_millis(200);

/// How long calibration runs an operation to estimate its cost.
const CALIBRATION: Duration = Duration::from_millis(20);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Blob {
    id: u64,
    name: String,
    bytes: Bytes,
}

/// The same message, schema-first, for the protobuf codec.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoBlob {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(bytes = "bytes", tag = "3")]
    bytes: Bytes,
}

impl From<Blob> for Proto<ProtoBlob> {
    fn from(b: Blob) -> Self {
        Proto(ProtoBlob {
            id: b.id,
            name: b.name,
            bytes: b.bytes,
        })
    }
}

fn blob(size: usize) -> Blob {
    Blob {
        id: 0x0123_4567_89AB_CDEF,
        name: format!("blob of {size} bytes"),
        // Varied byte values, so text codecs write numbers of every width.
        bytes: (0..size).map(|i| (i * 31 % 251) as u8).collect(),
    }
}

fn raw_encode(blob: &Blob, out: &mut Vec<u8>) {
    let name_len = u32::try_from(blob.name.len()).expect("a benchmark name fits in u32");
    let bytes_len = u32::try_from(blob.bytes.len()).expect("a benchmark payload fits in u32");
    out.extend_from_slice(&blob.id.to_le_bytes());
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(blob.name.as_bytes());
    out.extend_from_slice(&bytes_len.to_le_bytes());
    out.extend_from_slice(&blob.bytes);
}

/// `None` for truncated input, bad UTF-8 or trailing bytes.
fn raw_decode(buf: &[u8]) -> Option<Blob> {
    fn field(buf: &[u8]) -> Option<(&[u8], &[u8])> {
        let (len, rest) = buf.split_first_chunk::<4>()?;
        rest.split_at_checked(u32::from_le_bytes(*len) as usize)
    }
    let (id, rest) = buf.split_first_chunk::<8>()?;
    let (name, rest) = field(rest)?;
    let (bytes, rest) = field(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Blob {
        id: u64::from_le_bytes(*id),
        name: std::str::from_utf8(name).ok()?.to_owned(),
        bytes: Bytes::copy_from_slice(bytes),
    })
}

/// Times `n` calls of `op`.
fn run(n: u64, op: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    start.elapsed()
}

/// Median time per call of `op`, over samples of about [`SAMPLE`] each.
fn measure(mut op: impl FnMut()) -> Duration {
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < CALIBRATION || calls == 0 {
        op();
        calls += 1;
    }
    let each = start.elapsed().as_secs_f64() / calls as f64;
    let full = (SAMPLE.as_secs_f64() / each).clamp(10.0, 1e8) as u64;
    per_op(iters(full), |n| run(n, &mut op))
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// A time-per-operation row (lower is better, no target).
fn ns_row(what: String, lib: Duration, base: Duration) -> Row {
    Row {
        what,
        libchan: ns(lib),
        baseline: ns(base),
        unit: "ns",
        higher_is_better: false,
        target: "",
    }
}

fn bench_codec<P>(name: &str, codec: &dyn Codec, payload: fn(Blob) -> P)
where
    P: Payload + PartialEq + std::fmt::Debug,
{
    let mut rows = Vec::new();
    for (label, size) in [("16 B", 16usize), ("1 KiB", 1024), ("64 KiB", 64 * 1024)] {
        if !support::selected(&format!("{name} {label}")) {
            continue;
        }
        let plain = blob(size);
        let mut raw = Vec::new();
        raw_encode(&plain, &mut raw);
        assert_eq!(raw_decode(&raw).as_ref(), Some(&plain), "raw round trip");
        let value = payload(blob(size));

        let mut encoded = Vec::new();
        value.encode(codec, &mut encoded).expect("a Blob encodes");
        let back = P::decode(codec, &encoded).expect("a Blob decodes");
        assert_eq!(back, value, "{name} round trip");

        let mut out = Vec::with_capacity(encoded.len());
        let lib_encode = measure(|| {
            out.clear();
            black_box(&value)
                .encode(codec, &mut out)
                .expect("a Blob encodes");
            black_box(&out);
        });
        let mut out = Vec::with_capacity(raw.len());
        let raw_enc = measure(|| {
            out.clear();
            raw_encode(black_box(&plain), &mut out);
            black_box(&out);
        });
        let lib_decode = measure(|| {
            black_box(P::decode(codec, black_box(&encoded)).expect("a Blob decodes"));
        });
        let raw_dec = measure(|| {
            black_box(raw_decode(black_box(&raw)).expect("a raw Blob decodes"));
        });

        for (op, lib, base) in [
            ("encode", lib_encode, raw_enc),
            ("decode", lib_decode, raw_dec),
        ] {
            let what = format!("{op}, {label}, wire {} B vs {} B", encoded.len(), raw.len());
            rows.push(ns_row(what, lib, base));
        }
    }
    if !rows.is_empty() {
        print(
            &format!("libchan {name} codec vs a raw length-prefixed encoding (ns/op)"),
            "raw",
            &rows,
        );
    }
}

/// The erased bridge beside rmp-serde monomorphized, same value, same bytes.
fn bench_bridge() {
    let mut rows = Vec::new();
    for (label, size) in [("16 B", 16usize), ("1 KiB", 1024)] {
        if !support::selected(&format!("bridge {label}")) {
            continue;
        }
        let value = blob(size);
        let mut encoded = Vec::new();
        value
            .encode(&Msgpack, &mut encoded)
            .expect("a Blob encodes");
        let direct = rmp_serde::to_vec_named(&value).expect("a Blob encodes");
        assert_eq!(encoded, direct, "the codec writes what rmp-serde writes");
        let mut out = Vec::with_capacity(encoded.len());
        let erased_enc = measure(|| {
            out.clear();
            black_box(&value)
                .encode(&Msgpack, &mut out)
                .expect("a Blob encodes");
            black_box(&out);
        });
        let direct_enc = measure(|| {
            out.clear();
            rmp_serde::encode::write_named(&mut out, black_box(&value)).expect("a Blob encodes");
            black_box(&out);
        });
        let erased_dec = measure(|| {
            black_box(Blob::decode(&Msgpack, black_box(&encoded)).expect("a Blob decodes"));
        });
        let direct_dec = measure(|| {
            black_box(rmp_serde::from_slice::<Blob>(black_box(&encoded)).expect("a Blob decodes"));
        });
        for (op, lib, base) in [
            ("encode", erased_enc, direct_enc),
            ("decode", erased_dec, direct_dec),
        ] {
            rows.push(ns_row(
                format!("msgpack {op}, {label}: Payload vs direct"),
                lib,
                base,
            ));
        }
    }
    if !rows.is_empty() {
        print(
            "the run-time codec bridge: msgpack through Payload vs rmp-serde monomorphized (ns/op)",
            "direct",
            &rows,
        );
    }
}

fn main() {
    // `cargo bench` passes flags such as `--bench`; nothing to parse.
    bench_bridge();
    let serde_codecs: [(&str, &dyn Codec); 3] =
        [("json", &Json), ("msgpack", &Msgpack), ("xml", &Xml)];
    for (name, codec) in serde_codecs {
        bench_codec(name, codec, |b| b);
    }
    bench_codec("protobuf", &Protobuf, Proto::<ProtoBlob>::from);
}
