//! The invalid transcripts: one forged step breaks a session rule, and the
//! receiver fails with the recorded error and wire code.

use super::*;
use Role::{Acceptor as A, Dialer as D};

pub(super) fn invalid_transcripts() -> Vec<Value> {
    let mut out = Vec::new();
    let goaway_step = "The receiver's GOAWAY with the error's code and message; it reads no more \
                       input, and the other side fails with the remote error.";

    let mut magic_ping = MAGIC.to_vec();
    magic_ping.extend_from_slice(&encode(
        &Ping {
            ack: false,
            payload: [0, 0, 0, 0, 0, 0, 0, 1],
        }
        .into(),
    ));
    out.push(
        Script::new(
            "first_frame_not_hello",
            "The first frame after the magic must be HELLO (no handshake precedes this one).",
            dialer(),
            acceptor(),
        )
        .forged(D, "The magic, then a PING instead of HELLO.", magic_ping)
        .step(
            A,
            "The acceptor's preface, queued at start, then its GOAWAY.",
            vec![],
        )
        .finish_invalid(),
    );

    let second_hello = encode(
        &Hello {
            version: VERSION,
            role: Role::Dialer,
            codecs: dialer().codecs,
            settings: dialer().settings(),
        }
        .into(),
    );
    out.push(
        Script::new("second_hello", "HELLO is sent once.", dialer(), acceptor())
            .handshake()
            .forged(D, "The dialer's HELLO again.", second_hello)
            .step(A, goaway_step, vec![])
            .finish_invalid(),
    );

    out.push(
        Script::new(
            "open_with_receivers_parity",
            "The dialer opens odd ids only; an OPEN of stream 2 (the acceptor's parity) is a \
             protocol error.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .forged(
            D,
            "OPEN of stream 2, top-level, kind 0.",
            with_payload(0x01, 0x01, 2, &[0]),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "top_level_open_of_a_byte_stream",
            "A top-level stream is a channel its opener sends on (kind 0): a top-level OPEN of \
             kind 1, 2 or 3 is a protocol error, whatever the receiver's limits, because nothing \
             could ever use it.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .forged(
            D,
            "OPEN of stream 1, top-level, kind 2 (byte stream).",
            with_payload(0x01, 0x01, 1, &[2]),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "open_reusing_an_id",
            "Stream ids strictly increase and are never reused, even after the stream finished.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "Channel 1: OPEN, a message, CLOSE.",
            vec![
                open(StreamKind::OpenerSends, true),
                send(1, &text("x")),
                Action::Close { stream: 1 },
            ],
        )
        .forged(
            D,
            "OPEN of stream 1 again.",
            with_payload(0x01, 0x01, 1, &[0]),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "data_on_unopened_stream",
            "A stream must be OPENed before any other frame names it.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .forged(
            D,
            "DATA on stream 5, never opened.",
            with_payload(0x02, 0, 5, b"\"x\""),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "data_from_the_receiving_side",
            "On a kind-1 channel only the non-opener sends DATA; the opener receives.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "The dialer opens nested channel 1 of kind 1 (a reply channel: the acceptor \
             sends on it).",
            vec![open(StreamKind::OpenerReceives, false)],
        )
        .forged(
            D,
            "DATA on stream 1 from the dialer.",
            with_payload(0x02, 0, 1, b"\"x\""),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "credit_from_the_sending_side",
            "Only a stream's data receiver sends CREDIT for it.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "The dialer opens channel 1 of kind 0: it sends on it.",
            vec![open(StreamKind::OpenerSends, true)],
        )
        .forged(
            D,
            "CREDIT 1024 on stream 1 from the dialer.",
            with_payload(0x03, 0, 1, &1024u32.to_be_bytes()),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    let full = json_string(1024, 'a');
    let mut forged = with_payload(0x02, 0, 1, &full);
    forged.extend_from_slice(&with_payload(0x02, 0, 1, b"b"));
    let mut tight = acceptor();
    tight.initial_window = 1024;
    tight.max_frame_size = 1024;
    out.push(
        Script::new(
            "data_beyond_credit",
            "The acceptor grants 1024 bytes per stream and accepts frames of 1024 bytes, so it \
             must accept up to 2048 bytes outstanding (window + MAX_FRAME_SIZE: one frame of \
             overdraft). The 2049th byte is a FLOW_CONTROL_ERROR.",
            dialer(),
            tight,
        )
        .handshake()
        .step(
            D,
            "Channel 1 and a 1024-byte message: the dialer's credit is now 0.",
            vec![open(StreamKind::OpenerSends, true), send(1, &full)],
        )
        .forged(
            D,
            "Another 1024 bytes (2048 outstanding: still accepted), then 1 more.",
            forged,
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "data_after_close_on_byte_stream",
            "A byte stream's half is closed by its CLOSE: more DATA from that side is a protocol \
             error (the stream itself is still open, for the other half).",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "Nested byte stream 1: OPEN, a chunk, CLOSE of the dialer's half.",
            vec![
                open(StreamKind::Bytes, false),
                send(1, b"abc"),
                Action::Close { stream: 1 },
            ],
        )
        .forged(
            D,
            "DATA on stream 1 after the dialer's CLOSE.",
            with_payload(0x02, 0, 1, b"def"),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out.push(
        Script::new(
            "top_level_open_after_goaway",
            "After its own GOAWAY a side opens no top-level stream.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "Channel 1 stays open, so the session does not drain.",
            vec![open(StreamKind::OpenerSends, true)],
        )
        .step(
            A,
            "The acceptor starts a graceful close.",
            vec![goaway(ErrorCode::NO_ERROR, "shutting down")],
        )
        .step(D, "The dialer's answering GOAWAY.", vec![])
        .forged(
            D,
            "A top-level OPEN of stream 3 after the dialer's own GOAWAY.",
            with_payload(0x01, 0x01, 3, &[0]),
        )
        .step(A, goaway_step, vec![])
        .finish_invalid(),
    );

    out
}
