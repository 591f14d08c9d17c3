//! Message payloads for the transcripts, made by libchan's real JSON
//! encoder so the bytes are what a libchan peer sends.

use std::collections::VecDeque;

use libchan_codec_json::Json;
use libchan_core::nest::{with_exporter, ChannelRef, Exporter, OutgoingEnd, RefKind};
use libchan_core::{pipe, NestError, Payload, Request};

use super::*;

/// Hands out the given stream ids for the senders a message carries, as
/// the session's exporter does for the nested streams it opened.
struct OpenedIds(VecDeque<u64>);

impl Exporter for OpenedIds {
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError> {
        let kind = match end {
            OutgoingEnd::Sender(_) => RefKind::Sender,
            OutgoingEnd::Stream(_) => RefKind::Stream,
            _ => {
                return Err(NestError::Refused(
                    "only senders and byte streams here".into(),
                ))
            }
        };
        let id = self
            .0
            .pop_front()
            .ok_or_else(|| NestError::Refused("no stream opened for it".into()))?;
        Ok(ChannelRef { kind, id })
    }
}

/// `value` encoded with libchan's JSON codec, its senders and byte streams
/// named by `ids`, in order.
pub(super) fn encode_json<T: Payload>(value: &T, ids: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let (result, rest) = with_exporter(OpenedIds(ids.iter().copied().collect()), || {
        value.encode(&Json, &mut out)
    });
    result.expect("encodes");
    assert!(rest.0.is_empty(), "every id is named");
    out
}

/// The request `{"body":"hi","reply":<a sender on stream 3>}`.
pub(super) fn request_payload() -> Vec<u8> {
    let request: Request<String, String> = Request {
        body: "hi".into(),
        reply: pipe::<String>().0,
    };
    let bytes = encode_json(&request, &[3]);
    let parsed: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(
        parsed,
        json!({ "body": "hi", "reply": { "kind": "sender", "id": 3 } })
    );
    assert_eq!(bytes, br#"{"body":"hi","reply":{"kind":"sender","id":3}}"#);
    bytes
}

/// A message that is a byte stream, `{"kind":"stream","id":ID}`.
pub(super) fn byte_stream_payload(id: u64) -> Vec<u8> {
    let bytes = encode_json(&libchan_core::ByteStream::pair().0, &[id]);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).expect("JSON"),
        json!({ "kind": "stream", "id": id })
    );
    bytes
}

/// A message of `len` bytes: a JSON string of `fill`.
pub(super) fn json_string(len: usize, fill: char) -> Vec<u8> {
    format!("\"{}\"", fill.to_string().repeat(len - 2)).into_bytes()
}

pub(super) fn text(s: &str) -> Vec<u8> {
    encode_json(&s.to_owned(), &[])
}
