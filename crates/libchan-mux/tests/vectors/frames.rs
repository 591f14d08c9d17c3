//! The frame vectors: valid frames with their fields, invalid byte strings with their errors.

use super::*;

pub(super) fn default_settings() -> Vec<Setting> {
    Limits::new(["json"]).settings()
}

pub(super) fn valid_frames() -> Vec<(&'static str, Frame, &'static str)> {
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
            "open_nested_fd",
            Open {
                stream: StreamId(5),
                kind: StreamKind::Fd,
                top_level: false,
            }
            .into(),
            "The dialer passes a file descriptor as nested stream 5; the descriptor travels beside this frame (SCM_RIGHTS).",
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
                top_level: false,
            }
            .into(),
            "The acceptor opens nested byte stream 2, for a message that carries it (a \
             top-level OPEN of kind 2 is a PROTOCOL_ERROR).",
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
            "credit_session",
            Credit {
                stream: StreamId(0),
                increment: 8_388_608,
            }
            .into(),
            "8 MiB more session credit (half the default session window), for all streams.",
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
            "reset_aborted",
            Reset {
                stream: StreamId(1),
                code: ErrorCode::ABORTED,
                reason: "job failed".into(),
            }
            .into(),
            "The data sender of stream 1 aborted it: the receiver gets an abort with the reason, not a clean end.",
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
            "Starts a graceful close; the peer answers with its own GOAWAY.",
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

pub(super) fn head(length: u32, frame_type: u8, flags: u8, stream: u64) -> Vec<u8> {
    let mut v = length.to_be_bytes().to_vec();
    v.push(frame_type);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v
}

pub(super) fn with_payload(frame_type: u8, flags: u8, stream: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = head(
        u32::try_from(payload.len()).expect("small"),
        frame_type,
        flags,
        stream,
    );
    v.extend_from_slice(payload);
    v
}

pub(super) fn invalid_frames() -> Vec<(&'static str, Vec<u8>, &'static str)> {
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
            "Stream frames other than CREDIT never use stream 0.",
        ),
        (
            "open_unknown_kind",
            with_payload(0x01, 0, 1, &[4]),
            "Stream kind 4 is not defined.",
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
pub(super) fn error_name(e: &impl std::fmt::Debug) -> String {
    format!("{e:?}")
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn decode_one(bytes: &[u8]) -> Result<Frame, frame::Error> {
    let mut buf = BytesMut::from(bytes);
    let frame = read_frame(&mut buf, VECTOR_MAX_FRAME_SIZE)?;
    let frame = frame.expect("the vector holds a whole frame");
    assert!(buf.is_empty(), "bytes left after the frame");
    Ok(frame)
}

pub(super) fn generate_frames() -> Value {
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
