//! Test vectors: `docs/vectors/frames.json`, `docs/vectors/handshake.json`
//! and `docs/vectors/transcripts.json`.
//!
//! The vectors are generated from this implementation and checked against
//! it, so the spec and the code cannot drift:
//!
//! * `cargo test -p libchan-mux --test vectors` checks that the files equal
//!   what the code generates, then decodes every valid vector, re-encodes it
//!   byte for byte and compares its described fields, and checks that every
//!   invalid vector fails with the stated error and wire code. It replays
//!   every transcript, each side alone against the recorded bytes of the
//!   other. It also checks the hex examples in `docs/PROTOCOL.md` marked
//!   `<!-- vector: NAME -->`.
//! * `LIBCHAN_REGEN_VECTORS=1 cargo test -p libchan-mux --test vectors`
//!   rewrites the files from the code, and the fuzz seed corpora
//!   (`fuzz/corpus/<target>/seed-*`) from the vectors.

use std::path::PathBuf;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use libchan_mux::frame::{
    self, read_frame, Close, Credit, Data, GoAway, Hello, Open, Ping, Reset, Setting, Unknown,
    MAGIC, VERSION,
};
use libchan_mux::{
    Connection, Error, ErrorCode, Event, Frame, FrameType, Limits, Role, SettingId, StreamId,
    StreamKind,
};
use serde_json::{json, Value};

mod frames;
mod handshake;
mod seeds;
mod transcripts;

use frames::*;
use handshake::*;
use seeds::*;
use transcripts::*;

/// The receive limit under which frame vectors are decoded.
const VECTOR_MAX_FRAME_SIZE: u32 = 1024;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd hex length");
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).expect("ascii");
            u8::from_str_radix(text, 16).expect("hex digit")
        })
        .collect()
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame.encode(&mut buf);
    buf.to_vec()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Dialer => "dialer",
        Role::Acceptor => "acceptor",
    }
}

fn kind_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::OpenerSends => "opener_sends",
        StreamKind::OpenerReceives => "opener_receives",
        StreamKind::Bytes => "bytes",
        StreamKind::Fd => "fd",
    }
}

/// The described fields of a frame, as written in the vectors.
fn frame_json(frame: &Frame) -> Value {
    let bytes = encode(frame);
    let flags = bytes.get(5).copied().unwrap_or_default();
    let mut v = json!({
        "type": frame.frame_type().name().unwrap_or("UNKNOWN"),
        "type_value": frame.frame_type().0,
        "stream": frame.stream().0,
        "flags": flags,
    });
    let fields = match frame {
        Frame::Hello(h) => json!({
            "version": h.version,
            "role": role_name(h.role),
            "codecs": h.codecs,
            "settings": h.settings.iter().map(|s| json!({
                "id": s.id.0,
                "name": s.id.name(),
                "value": s.value,
            })).collect::<Vec<_>>(),
        }),
        Frame::Open(o) => json!({
            "kind": o.kind.to_wire(),
            "kind_name": kind_name(o.kind),
            "top_level": o.top_level,
        }),
        Frame::Data(d) => json!({ "payload_hex": hex(&d.payload) }),
        Frame::Credit(c) => json!({ "increment": c.increment }),
        Frame::Close(_) => json!({}),
        Frame::Reset(r) => json!({
            "code": r.code.0,
            "code_name": r.code.name(),
            "reason": r.reason,
        }),
        Frame::Ping(p) => json!({ "ack": p.ack, "payload_hex": hex(&p.payload) }),
        Frame::GoAway(g) => json!({
            "code": g.code.0,
            "code_name": g.code.name(),
            "reason": g.reason,
        }),
        Frame::Unknown(u) => json!({ "payload_hex": hex(&u.payload) }),
    };
    if let (Value::Object(map), Value::Object(more)) = (&mut v, fields) {
        map.extend(more);
    }
    v
}

fn check_file(name: &str, generated: &Value) -> Value {
    let path = vectors_dir().join(name);
    if std::env::var_os("LIBCHAN_REGEN_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(generated).expect("serializable") + "\n";
        std::fs::write(&path, text).expect("write vectors");
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run LIBCHAN_REGEN_VECTORS=1 cargo test -p libchan-mux --test vectors",
            path.display()
        )
    });
    let on_disk: Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        &on_disk == generated,
        "{} differs from what the code generates; if the change is intended, run \
         LIBCHAN_REGEN_VECTORS=1 cargo test -p libchan-mux --test vectors",
        path.display()
    );
    on_disk
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing {key} in {v}"))
}

#[test]
fn frame_vectors_match_the_implementation() {
    let generated = generate_frames();
    if std::env::var_os("LIBCHAN_REGEN_VECTORS").is_some() {
        write_fuzz_seeds(&generated);
    }
    let vectors = check_file("frames.json", &generated);
    let list = vectors.as_array().expect("an array");
    let mut types_seen = std::collections::BTreeSet::new();
    for v in list {
        let name = str_field(v, "name");
        let bytes = unhex(str_field(v, "hex"));
        if let Some(described) = v.get("frame") {
            let frame = decode_one(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(hex(&encode(&frame)), hex(&bytes), "{name}: re-encoding");
            assert_eq!(&frame_json(&frame), described, "{name}: fields");
            types_seen.insert(frame.frame_type().0);
        } else {
            let error = decode_one(&bytes).expect_err(name);
            assert_eq!(error_name(&error), str_field(v, "error"), "{name}");
            assert_eq!(
                Error::Malformed(error).code().name(),
                Some(str_field(v, "code")),
                "{name}"
            );
        }
    }
    // Every known type and one unknown type are covered.
    for t in 0..=7u8 {
        assert!(types_seen.contains(&t), "no vector for type {t}");
    }
    assert!(types_seen.iter().any(|t| *t > 7));
}

#[test]
fn handshake_vectors_match_the_implementation() {
    let generated = generate_handshake();
    if std::env::var_os("LIBCHAN_REGEN_VECTORS").is_some() {
        write_handshake_seeds(&generated);
    }
    let v = check_file("handshake.json", &generated);
    let dialer = unhex(str_field(&v["dialer"], "hex"));
    let acceptor = unhex(str_field(&v["acceptor"], "hex"));
    assert!(dialer.starts_with(&MAGIC) && acceptor.starts_with(&MAGIC));
    let codec = str_field(&v, "codec");
    assert_eq!(
        run_handshake(Role::Acceptor, acceptor_config(), &dialer).as_deref(),
        Ok(codec)
    );
    assert_eq!(
        run_handshake(Role::Dialer, dialer_config(), &acceptor).as_deref(),
        Ok(codec)
    );
    for case in v["invalid"].as_array().expect("invalid cases") {
        let name = str_field(case, "name");
        let receiver = match str_field(case, "receiver") {
            "dialer" => Role::Dialer,
            _ => Role::Acceptor,
        };
        let bytes = unhex(str_field(case, "hex"));
        let error = run_handshake(receiver, Limits::new(["json"]), &bytes).expect_err(name);
        assert_eq!(error_name(&error), str_field(case, "error"), "{name}");
        assert_eq!(error.code().name(), Some(str_field(case, "code")), "{name}");
    }
}

#[test]
fn transcript_vectors_match_the_implementation() {
    let generated = generate_transcripts();
    let v = check_file("transcripts.json", &generated);
    check_transcripts(&v);
}

/// `docs/PROTOCOL.md` quotes vectors as `<!-- vector: NAME -->` followed by a
/// fenced block of hex; each must equal the vector.
#[test]
fn protocol_md_examples_match_the_vectors() {
    let path = vectors_dir().join("../PROTOCOL.md");
    let Ok(doc) = std::fs::read_to_string(&path) else {
        panic!("{} is missing", path.display());
    };
    let frames = generate_frames();
    let handshake = generate_handshake();
    let transcripts = generate_transcripts();
    let lookup = |name: &str| -> Option<String> {
        match name {
            "handshake.dialer" => Some(str_field(&handshake["dialer"], "hex").to_owned()),
            "handshake.acceptor" => Some(str_field(&handshake["acceptor"], "hex").to_owned()),
            _ if name.starts_with("transcripts.") => transcript_step_hex(&transcripts, name),
            _ => frames
                .as_array()?
                .iter()
                .find(|v| v["name"] == name)
                .map(|v| str_field(v, "hex").to_owned()),
        }
    };
    let mut checked = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("<!-- vector: ") {
        rest = &rest[at + "<!-- vector: ".len()..];
        let end = rest.find(" -->").expect("closed marker");
        let name = &rest[..end];
        let fence = rest.find("```").expect("a fenced block follows");
        let body_start = fence + 3 + rest[fence + 3..].find('\n').expect("fence line");
        let body_end = body_start + rest[body_start..].find("```").expect("closing fence");
        // Strip comments after `#` on each line, then whitespace.
        let hex_text: String = rest[body_start..body_end]
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .collect();
        let want =
            lookup(name).unwrap_or_else(|| panic!("PROTOCOL.md names unknown vector {name}"));
        assert_eq!(
            hex(&unhex(&hex_text)),
            want,
            "PROTOCOL.md example for vector {name}"
        );
        checked += 1;
        rest = &rest[body_end..];
    }
    assert!(checked >= 5, "PROTOCOL.md quotes only {checked} vectors");
}
