//! The handshake vectors: both prefaces and the codec each side computes.

use super::*;

pub(super) fn dialer_config() -> Limits {
    Limits::new(["msgpack", "json"])
}

pub(super) fn acceptor_config() -> Limits {
    let mut c = Limits::new(["json", "msgpack"]);
    c.max_frame_size = 1 << 20;
    c.initial_window = 64 << 10;
    c.max_streams = 256;
    c.max_pending_opens = 64;
    c.session_window = 1 << 20;
    // Over TCP: no file descriptors.
    c.max_pending_fds = 0;
    c
}

pub(super) fn preface(role: Role, config: Limits) -> Vec<u8> {
    let mut s = Connection::new(role, config, Instant::now()).expect("valid config");
    s.poll_transmit().expect("preface").to_vec()
}

pub(super) fn config_json(c: &Limits) -> Value {
    json!({
        "codecs": c.codecs,
        "max_frame_size": c.max_frame_size,
        "initial_window": c.initial_window,
        "max_streams": c.max_streams,
        "max_pending_opens": c.max_pending_opens,
        "session_window": c.session_window,
        "max_pending_fds": c.max_pending_fds,
    })
}

/// Feeds `bytes` to a fresh session of `role` with `config`; returns the
/// codec it computed or the error it reported.
pub(super) fn run_handshake(role: Role, config: Limits, bytes: &[u8]) -> Result<String, Error> {
    let now = Instant::now();
    let mut s = Connection::new(role, config, now).expect("valid config");
    s.handle_input(now, bytes)?;
    match s.poll_event() {
        Some(Event::Ready { codec, .. }) => Ok(codec),
        other => panic!("expected Ready, got {other:?}"),
    }
}

pub(super) fn invalid_handshakes() -> Vec<(&'static str, Role, Vec<u8>, &'static str)> {
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
            preface(Role::Dialer, Limits::new(["json"])),
            "A dialer receiving a dialer's HELLO.",
        ),
        (
            "codec_mismatch",
            Role::Acceptor,
            preface(Role::Dialer, Limits::new(["xml"])),
            "The dialer offers only xml; this acceptor offers json: no codec in common.",
        ),
    ]
}

pub(super) fn generate_handshake() -> Value {
    let dialer = preface(Role::Dialer, dialer_config());
    let acceptor = preface(Role::Acceptor, acceptor_config());
    let side = |config: &Limits, bytes: &[u8]| {
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
            let error = run_handshake(receiver, Limits::new(["json"]), &bytes)
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
