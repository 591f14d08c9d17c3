//! Decode → encode → decode must agree, and encoding must be canonical.

#![no_main]

use bytes::BytesMut;
use libchan_mux::frame::read_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = read_frame(&mut buf, 1 << 16) {
        let mut encoded = BytesMut::new();
        frame.encode(&mut encoded);
        let mut again = encoded.clone();
        let decoded = read_frame(&mut again, u32::MAX)
            .expect("an encoded frame decodes")
            .expect("an encoded frame is whole");
        assert!(again.is_empty(), "encoding has trailing bytes");
        assert_eq!(decoded, frame, "decode(encode(frame)) != frame");
        let mut reencoded = BytesMut::new();
        decoded.encode(&mut reencoded);
        assert_eq!(reencoded, encoded, "encoding is not canonical");
    }
});
