//! Test vectors: `docs/vectors/frames.json` and `docs/vectors/handshake.json`.
//!
//! The vectors are generated from this implementation and checked against
//! it, so the spec and the code cannot drift:
//!
//! * `cargo test -p libchan-mux --test vectors` checks that the files equal
//!   what the code generates, then decodes every valid vector, re-encodes it
//!   byte for byte and compares its described fields, and checks that every
//!   invalid vector fails with the stated error and wire code. It also
//!   checks the hex examples in `docs/PROTOCOL.md` marked
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
    Config, Error, ErrorCode, Event, Frame, FrameType, Role, Session, SettingId, StreamId,
    StreamKind,
};
use serde_json::{json, Value};

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

fn default_settings() -> Vec<Setting> {
    Config::new(["json"]).settings()
}

fn valid_frames() -> Vec<(&'static str, Frame, &'static str)> {
    vec![
        (
            "hello_dialer",
            Hello {
                version: VERSION,
                role: Role::Dialer,
                codecs: vec!["msgpack".into(), "json".into()],
                settings: default_settings(),
            }
            .into(),
            "A dialer's HELLO offering msgpack then json, announcing all four settings at their defaults.",
        ),
        (
            "hello_acceptor_minimal",
            Hello {
                version: VERSION,
                role: Role::Acceptor,
                codecs: vec!["json".into()],
                settings: vec![],
            }
            .into(),
            "An acceptor's HELLO with one codec and no settings: every setting takes its default.",
        ),
        (
            "hello_unknown_setting",
            Hello {
                version: VERSION,
                role: Role::Acceptor,
                codecs: vec!["json".into()],
                settings: vec![
                    Setting {
                        id: SettingId::MAX_STREAMS,
                        value: 100,
                    },
                    Setting {
                        id: SettingId(0x00ff),
                        value: 7,
                    },
                ],
            }
            .into(),
            "Setting id 255 is unknown: receivers ignore it.",
        ),
        (
            "open_top_level_opener_sends",
            Open {
                stream: StreamId(1),
                kind: StreamKind::OpenerSends,
                top_level: true,
            }
            .into(),
            "The dialer opens top-level channel 1 on which it sends.",
        ),
        (
            "open_nested_opener_receives",
            Open {
                stream: StreamId(3),
                kind: StreamKind::OpenerReceives,
                top_level: false,
            }
            .into(),
            "The dialer opens nested stream 3 (a reply channel: the peer sends on it).",
        ),
        (
            "open_byte_stream",
            Open {
                stream: StreamId(2),
                kind: StreamKind::Bytes,
                top_level: true,
            }
            .into(),
            "The acceptor opens top-level byte stream 2.",
        ),
        (
            "data_message",
            Data {
                stream: StreamId(1),
                payload: Bytes::from_static(br#"{"hello":"world"}"#),
            }
            .into(),
            "One JSON message on stream 1.",
        ),
        (
            "data_empty",
            Data {
                stream: StreamId(5),
                payload: Bytes::new(),
            }
            .into(),
            "An empty message is valid.",
        ),
        (
            "credit",
            Credit {
                stream: StreamId(1),
                increment: 131_072,
            }
            .into(),
            "128 KiB more credit for stream 1 (half the default window).",
        ),
        (
            "close",
            Close {
                stream: StreamId(1),
            }
            .into(),
            "The sender ends stream 1 cleanly.",
        ),
        (
            "reset_cancel",
            Reset {
                stream: StreamId(3),
                code: ErrorCode::CANCEL,
                reason: "receiver dropped".into(),
            }
            .into(),
            "The data receiver of stream 3 is gone.",
        ),
        (
            "reset_refused_no_reason",
            Reset {
                stream: StreamId(2),
                code: ErrorCode::REFUSED,
                reason: String::new(),
            }
            .into(),
            "Stream 2 refused; the reason may be empty.",
        ),
        (
            "ping",
            Ping {
                ack: false,
                payload: [0, 0, 0, 0, 0, 0, 0, 1],
            }
            .into(),
            "A PING; the receiver must answer with ACK and the same payload.",
        ),
        (
            "ping_ack",
            Ping {
                ack: true,
                payload: [0, 0, 0, 0, 0, 0, 0, 1],
            }
            .into(),
            "The answer to the PING above.",
        ),
        (
            "goaway_clean",
            GoAway {
                code: ErrorCode::NO_ERROR,
                reason: "shutting down".into(),
            }
            .into(),
            "A clean end of the session.",
        ),
        (
            "goaway_codec_mismatch",
            GoAway {
                code: ErrorCode::CODEC_MISMATCH,
                reason: "no codec in common".into(),
            }
            .into(),
            "The session ends with an error code.",
        ),
        (
            "unknown_type",
            Unknown {
                frame_type: FrameType(0x2a),
                flags: 0x80,
                stream: StreamId(7),
                payload: Bytes::from_static(b"future"),
            }
            .into(),
            "Type 0x2a is unknown: receivers skip its payload by length.",
        ),
    ]
}

fn head(length: u32, frame_type: u8, flags: u8, stream: u64) -> Vec<u8> {
    let mut v = length.to_be_bytes().to_vec();
    v.push(frame_type);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v
}

fn with_payload(frame_type: u8, flags: u8, stream: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = head(
        u32::try_from(payload.len()).expect("small"),
        frame_type,
        flags,
        stream,
    );
    v.extend_from_slice(payload);
    v
}

fn invalid_frames() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut long_reason = vec![0, 0, 0, 6];
    long_reason.extend_from_slice(&[b'x'; 257]);
    vec![
        (
            "data_over_max_frame_size",
            head(1025, 0x02, 0, 1),
            "Length 1025 exceeds the receiver's max_frame_size of 1024: rejected from the head alone, before reading or allocating the payload.",
        ),
        (
            "hello_over_4096",
            head(4097, 0x00, 0, 0),
            "HELLO is capped at 4096 bytes whatever the receiver's max_frame_size.",
        ),
        (
            "hello_version_2",
            with_payload(0x00, 0, 0, &[0, 2, 0xff]),
            "Version 2: the receiver stops after the version field.",
        ),
        (
            "hello_bad_role",
            with_payload(0x00, 0, 0, &[0, 1, 2, 0, 0]),
            "Role byte 2 is neither dialer nor acceptor.",
        ),
        (
            "hello_empty_codec_name",
            with_payload(0x00, 0, 0, &[0, 1, 0, 1, 0, 0]),
            "Codec names are 1..=32 bytes.",
        ),
        (
            "hello_codec_not_utf8",
            with_payload(0x00, 0, 0, &[0, 1, 0, 1, 2, 0xc3, 0x28, 0]),
            "Codec names are UTF-8.",
        ),
        (
            "hello_duplicate_setting",
            with_payload(
                0x00,
                0,
                0,
                &[
                    0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0, 8, 0,
                ],
            ),
            "A setting id may appear once.",
        ),
        (
            "hello_trailing_bytes",
            with_payload(0x00, 0, 0, &[0, 1, 0, 0, 0, 0xaa]),
            "Bytes after the last setting.",
        ),
        (
            "hello_on_stream_1",
            with_payload(0x00, 0, 1, &[0, 1, 0, 0, 0]),
            "HELLO, PING and GOAWAY belong on stream 0.",
        ),
        (
            "data_on_stream_0",
            with_payload(0x02, 0, 0, b"x"),
            "Stream frames never use stream 0.",
        ),
        (
            "open_unknown_kind",
            with_payload(0x01, 0, 1, &[3]),
            "Stream kind 3 is not defined.",
        ),
        (
            "open_no_kind",
            with_payload(0x01, 0, 1, &[]),
            "OPEN carries exactly one byte.",
        ),
        (
            "credit_zero",
            with_payload(0x03, 0, 1, &[0, 0, 0, 0]),
            "A CREDIT increment must be > 0.",
        ),
        (
            "credit_short",
            with_payload(0x03, 0, 1, &[0, 0, 1]),
            "CREDIT carries exactly 4 bytes.",
        ),
        (
            "close_with_payload",
            with_payload(0x04, 0, 1, &[0]),
            "CLOSE has an empty payload.",
        ),
        (
            "reset_reason_too_long",
            with_payload(0x05, 0, 1, &long_reason),
            "Reasons are at most 256 bytes.",
        ),
        (
            "goaway_reason_not_utf8",
            with_payload(0x07, 0, 0, &[0, 0, 0, 0, 0xff]),
            "Reasons are UTF-8.",
        ),
        (
            "ping_short",
            with_payload(0x06, 0, 0, &[1, 2, 3, 4, 5, 6, 7]),
            "PING carries exactly 8 bytes.",
        ),
    ]
}

/// The variant name of an error (`Debug` up to the first `{` or `(`).
fn error_name(e: &impl std::fmt::Debug) -> String {
    format!("{e:?}")
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn decode_one(bytes: &[u8]) -> Result<Frame, frame::Error> {
    let mut buf = BytesMut::from(bytes);
    let frame = read_frame(&mut buf, VECTOR_MAX_FRAME_SIZE)?;
    let frame = frame.expect("the vector holds a whole frame");
    assert!(buf.is_empty(), "bytes left after the frame");
    Ok(frame)
}

fn generate_frames() -> Value {
    let mut out = Vec::new();
    for (name, frame, comment) in valid_frames() {
        out.push(json!({
            "name": name,
            "hex": hex(&encode(&frame)),
            "frame": frame_json(&frame),
            "comment": comment,
        }));
    }
    for (name, bytes, comment) in invalid_frames() {
        let error = decode_one(&bytes).expect_err("invalid vector must fail");
        out.push(json!({
            "name": name,
            "hex": hex(&bytes),
            "max_frame_size": VECTOR_MAX_FRAME_SIZE,
            "error": error_name(&error),
            "code": Error::Malformed(error.clone()).code().name(),
            "message": error.to_string(),
            "comment": comment,
        }));
    }
    Value::Array(out)
}

fn dialer_config() -> Config {
    Config::new(["msgpack", "json"])
}

fn acceptor_config() -> Config {
    let mut c = Config::new(["json", "msgpack"]);
    c.max_frame_size = 1 << 20;
    c.initial_window = 64 << 10;
    c.max_streams = 256;
    c.max_pending_opens = 64;
    c
}

fn preface(role: Role, config: Config) -> Vec<u8> {
    let mut s = Session::new(role, config, Instant::now()).expect("valid config");
    s.poll_transmit().expect("preface").to_vec()
}

fn config_json(c: &Config) -> Value {
    json!({
        "codecs": c.codecs,
        "max_frame_size": c.max_frame_size,
        "initial_window": c.initial_window,
        "max_streams": c.max_streams,
        "max_pending_opens": c.max_pending_opens,
    })
}

/// Feeds `bytes` to a fresh session of `role` with `config`; returns the
/// codec it computed or the error it reported.
fn run_handshake(role: Role, config: Config, bytes: &[u8]) -> Result<String, Error> {
    let now = Instant::now();
    let mut s = Session::new(role, config, now).expect("valid config");
    s.handle_input(now, bytes)?;
    match s.poll_event() {
        Some(Event::Ready { codec, .. }) => Ok(codec),
        other => panic!("expected Ready, got {other:?}"),
    }
}

fn invalid_handshakes() -> Vec<(&'static str, Role, Vec<u8>, &'static str)> {
    let mut not_hello = MAGIC.to_vec();
    not_hello.extend_from_slice(&with_payload(0x06, 0, 0, &[0; 8]));
    let mut version_2 = MAGIC.to_vec();
    version_2.extend_from_slice(&with_payload(0x00, 0, 0, &[0, 2, 0, 0, 0]));
    vec![
        (
            "bad_magic",
            Role::Acceptor,
            b"GET / HTTP/1.1\r\n".to_vec(),
            "Not libchan: fails at the first byte that differs from the magic.",
        ),
        (
            "version_mismatch",
            Role::Acceptor,
            version_2,
            "A version-2 peer; both versions are named in the error.",
        ),
        (
            "first_frame_not_hello",
            Role::Acceptor,
            not_hello,
            "The first frame after the magic must be HELLO.",
        ),
        (
            "two_dialers",
            Role::Dialer,
            preface(Role::Dialer, Config::new(["json"])),
            "A dialer receiving a dialer's HELLO.",
        ),
        (
            "codec_mismatch",
            Role::Acceptor,
            preface(Role::Dialer, Config::new(["xml"])),
            "The dialer offers only xml; this acceptor offers json: no codec in common.",
        ),
    ]
}

fn generate_handshake() -> Value {
    let dialer = preface(Role::Dialer, dialer_config());
    let acceptor = preface(Role::Acceptor, acceptor_config());
    let side = |config: &Config, bytes: &[u8]| {
        let frames: Vec<Value> = bytes
            .strip_prefix(&MAGIC[..])
            .map(|rest| vec![frame_json(&decode_unbounded(rest))])
            .unwrap_or_default();
        json!({ "config": config_json(config), "hex": hex(bytes), "frames": frames })
    };
    let codec_at_dialer =
        run_handshake(Role::Dialer, dialer_config(), &acceptor).expect("valid handshake");
    let codec_at_acceptor =
        run_handshake(Role::Acceptor, acceptor_config(), &dialer).expect("valid handshake");
    assert_eq!(codec_at_dialer, codec_at_acceptor);
    let invalid: Vec<Value> = invalid_handshakes()
        .into_iter()
        .map(|(name, receiver, bytes, comment)| {
            let error = run_handshake(receiver, Config::new(["json"]), &bytes)
                .expect_err("invalid handshake must fail");
            json!({
                "name": name,
                "receiver": role_name(receiver),
                "receiver_codecs": ["json"],
                "hex": hex(&bytes),
                "error": error_name(&error),
                "code": error.code().name(),
                "message": error.to_string(),
                "comment": comment,
            })
        })
        .collect();
    json!({
        "comment": "Each side writes its preface (magic + HELLO) at once, without waiting. \
                    The codec is the first of the dialer's codecs that the acceptor also offers; \
                    each side computes it from the two HELLOs.",
        "dialer": side(&dialer_config(), &dialer),
        "acceptor": side(&acceptor_config(), &acceptor),
        "codec": codec_at_dialer,
        "invalid": invalid,
    })
}

fn decode_unbounded(bytes: &[u8]) -> Frame {
    let mut buf = BytesMut::from(bytes);
    let frame = read_frame(&mut buf, u32::MAX)
        .expect("valid")
        .expect("whole frame");
    assert!(buf.is_empty());
    frame
}

/// Writes the fuzz seed corpora (`fuzz/corpus/<target>/seed-*`) from the
/// vectors. Called in regeneration mode only.
fn write_fuzz_seeds(frames: &Value) {
    let corpus = vectors_dir().join("../../fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    };
    // session_input: byte 0 = role (bit 0: 0 acceptor) and chunk size (bits 1..).
    let control = 32u8 << 1;
    let mut all_frames = vec![control];
    for v in frames.as_array().expect("array") {
        let name = str_field(v, "name");
        let bytes = unhex(str_field(v, "hex"));
        write("frame_decode", name, &bytes);
        let is_hello = v.get("frame").is_some_and(|f| f["type"] == "HELLO");
        if v.get("frame").is_some() && !is_hello {
            let mut seed = vec![control];
            seed.extend_from_slice(&bytes);
            write("session_input", name, &seed);
            all_frames.extend_from_slice(&bytes);
        }
    }
    write("session_input", "all_valid_frames", &all_frames);
    // session_ops: arbitrary-encoded operation lists; a few varied byte patterns.
    write("session_ops", "counting", &(0..=255u8).collect::<Vec<_>>());
    write(
        "session_ops",
        "repeating",
        &[7u8, 0, 1, 3, 0, 200, 9, 0, 255].repeat(24),
    );
    write(
        "session_ops",
        "sparse",
        &[0u8, 1, 0, 0, 2, 4, 0, 8, 1, 0, 9, 9, 1, 1].repeat(16),
    );
}

/// Writes the `handshake` fuzz target's seeds from the handshake vectors.
fn write_handshake_seeds(handshake: &Value) {
    let dir = vectors_dir().join("../../fuzz/corpus/handshake");
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    // Byte 0: bit 0 = our role (0 acceptor, 1 dialer), bits 1.. = chunk size.
    let mut seeds = vec![
        (
            "dialer_preface",
            0u8,
            str_field(&handshake["dialer"], "hex"),
        ),
        (
            "acceptor_preface",
            1u8,
            str_field(&handshake["acceptor"], "hex"),
        ),
    ];
    for case in handshake["invalid"].as_array().expect("invalid cases") {
        let role = u8::from(str_field(case, "receiver") == "dialer");
        seeds.push((str_field(case, "name"), role, str_field(case, "hex")));
    }
    for (name, role, hex_text) in seeds {
        let mut seed = vec![(64u8 << 1) | role];
        seed.extend_from_slice(&unhex(hex_text));
        std::fs::write(dir.join(format!("seed-{name}")), seed).expect("write seed");
    }
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
        let error = run_handshake(receiver, Config::new(["json"]), &bytes).expect_err(name);
        assert_eq!(error_name(&error), str_field(case, "error"), "{name}");
        assert_eq!(error.code().name(), Some(str_field(case, "code")), "{name}");
    }
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
    let lookup = |name: &str| -> Option<String> {
        match name {
            "handshake.dialer" => Some(str_field(&handshake["dialer"], "hex").to_owned()),
            "handshake.acceptor" => Some(str_field(&handshake["acceptor"], "hex").to_owned()),
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
