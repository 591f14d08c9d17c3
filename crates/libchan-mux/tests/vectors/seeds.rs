//! Fuzz seed corpora written from the vectors.

use super::*;

pub(super) fn decode_unbounded(bytes: &[u8]) -> Frame {
    let mut buf = BytesMut::from(bytes);
    let frame = read_frame(&mut buf, u32::MAX)
        .expect("valid")
        .expect("whole frame");
    assert!(buf.is_empty());
    frame
}

/// Writes the fuzz seed corpora (`fuzz/corpus/<target>/seed-*`) from the
/// vectors. Called in regeneration mode only.
pub(super) fn write_fuzz_seeds(frames: &Value) {
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
pub(super) fn write_handshake_seeds(handshake: &Value) {
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
