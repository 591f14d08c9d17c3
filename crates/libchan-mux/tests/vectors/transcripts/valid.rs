//! The valid transcripts: exchanges that follow every rule.

use super::*;
use Role::{Acceptor as A, Dialer as D};

pub(super) fn valid_transcripts() -> Vec<Value> {
    let mut out = Vec::new();

    out.push(
        Script::new(
            "handshake",
            "Both prefaces; each side emits Ready with the codec and the peer's limits.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .finish(),
    );

    let early = text("early");
    let big = json_string(1500, 'b');
    out.push(
        Script::new(
            "send_before_hello",
            "Nothing waits for the peer's HELLO: the dialer opens a channel and sends behind its \
             preface. A message above the assumed 1024-byte MAX_FRAME_SIZE is held back \
             (Blocked) until the peer's HELLO lifts the limit, then an Event Credit says to \
             retry.",
            dialer(),
            acceptor(),
        )
        .step(
            D,
            "Preface, OPEN and DATA in one write, before the acceptor's HELLO has arrived; the \
             1500-byte message is refused for now.",
            vec![
                open(StreamKind::OpenerSends, true),
                send(1, &early),
                send(1, &big),
            ],
        )
        .step(
            A,
            "The acceptor's preface: the dialer learns the real limits and may retry.",
            vec![],
        )
        .step(D, "The large message now fits.", vec![send(1, &big)])
        .finish(),
    );

    out.push(
        Script::new(
            "ping",
            "A PING is answered with an ACK carrying the same 8 bytes, queued by the session \
             itself.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "The dialer's first PING carries the sequence number 1.",
            vec![Action::Ping],
        )
        .step(A, "The ACK, queued while handling the PING.", vec![])
        .finish(),
    );

    let hello = br#"{"hello":"world"}"#;
    out.push(
        Script::new(
            "open_and_send",
            "A top-level channel: OPEN, one message, CLOSE.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "The dialer opens top-level channel 1 (kind 0: it sends) and sends one message \
             right behind the OPEN.",
            vec![open(StreamKind::OpenerSends, true), send(1, hello)],
        )
        .step(
            A,
            "The application consumes the message; 17 bytes are below half the window, so no \
             CREDIT is due and nothing is sent.",
            vec![consumed(1, hello.len()), consumed_session(hello.len())],
        )
        .step(
            D,
            "The last sender is gone: a clean end of the channel.",
            vec![Action::Close { stream: 1 }],
        )
        .finish(),
    );

    let request = request_payload();
    let reply = text("hello");
    out.push(
        Script::new(
            "request_reply",
            "A request carrying its reply sender. The requester opens nested stream 3 (kind 1: \
             the requester receives on it) before the request's DATA, which names it as \
             {\"kind\":\"sender\",\"id\":3}; the responder claims it, answers on it and closes it.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "OPEN of the request channel 1 (top-level), OPEN of nested stream 3, then the request \
             {\"body\":\"hi\",\"reply\":{\"kind\":\"sender\",\"id\":3}} as written by the json codec.",
            vec![
                open(StreamKind::OpenerSends, true),
                open(StreamKind::OpenerReceives, false),
                send(1, &request),
            ],
        )
        .step(
            A,
            "The responder decodes the request, claims stream 3 (the reference it found), sends \
             the reply \"hello\" on it and closes it.",
            vec![
                Action::Claim { stream: 3 },
                consumed(1, request.len()),
                consumed_session(request.len()),
                send(3, &reply),
                Action::Close { stream: 3 },
            ],
        )
        .finish(),
    );

    let first = json_string(1000, 'a');
    let second = json_string(100, 'b');
    let third = json_string(100, 'c');
    let mut small_window = acceptor();
    small_window.initial_window = 1024;
    out.push(
        Script::new(
            "credit",
            "Stream credit: the acceptor grants 1024 bytes per stream. The dialer sends while its \
             credit is above 0, so the second message overdraws it to -76; the third is Blocked. \
             Consuming the first message (1000 bytes, at least half the window) returns a CREDIT, \
             and the dialer's session emits Event Credit: it may send again.",
            dialer(),
            small_window,
        )
        .handshake()
        .step(
            D,
            "1000 bytes (credit 24 left), 100 bytes (credit -76), then Blocked.",
            vec![
                open(StreamKind::OpenerSends, true),
                send(1, &first),
                send(1, &second),
                send(1, &third),
            ],
        )
        .step(
            A,
            "The application consumes the first message: CREDIT 1000 on stream 1. (The session \
             window is far from half consumed: no CREDIT on stream 0.)",
            vec![consumed(1, first.len()), consumed_session(first.len())],
        )
        .step(
            D,
            "Credit is 924 again: the blocked message goes.",
            vec![send(1, &third)],
        )
        .finish(),
    );

    out.push(
        Script::new(
            "byte_stream_half_close",
            "A byte stream carries data both ways and is closed one half at a time: after the \
             acceptor's CLOSE the dialer may still send, and the stream is finished when both \
             halves are closed.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "The dialer opens channel 1 and nested byte stream 3, sends on 1 the message naming \
             3, and writes a chunk on 3 (a byte stream is always nested: a message carries it).",
            vec![
                open(StreamKind::OpenerSends, true),
                open(StreamKind::Bytes, false),
                send(1, &byte_stream_payload(3)),
                send(3, b"to the acceptor"),
            ],
        )
        .step(
            A,
            "The acceptor claims 3 (its message decoded), writes back and closes its half.",
            vec![
                Action::Claim { stream: 3 },
                send(3, b"to the dialer"),
                Action::Close { stream: 3 },
            ],
        )
        .step(
            D,
            "The dialer's half is still open: one more chunk, then its CLOSE finishes the stream.",
            vec![
                send(3, b"after the peer's CLOSE"),
                Action::Close { stream: 3 },
            ],
        )
        .finish(),
    );

    out.push(
        Script::new(
            "graceful_close",
            "GOAWAY NO_ERROR both ways: no new top-level channels, the open channel finishes, and \
             both sides emit Drained once nothing is open.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "A channel that is still open when the close begins.",
            vec![open(StreamKind::OpenerSends, true), send(1, &text("one"))],
        )
        .step(
            D,
            "The dialer starts the graceful close.",
            vec![goaway(ErrorCode::NO_ERROR, "shutting down")],
        )
        .step(
            A,
            "The acceptor's answering GOAWAY was queued while it handled the dialer's. Opening a \
             top-level channel now fails locally (Closing).",
            vec![open(StreamKind::OpenerSends, true)],
        )
        .step(
            D,
            "Channel 1 carries on: a last message, then CLOSE. Nothing is open any more: each \
             side emits Drained (the dialer on its close call, the acceptor on the CLOSE).",
            vec![send(1, &text("two")), Action::Close { stream: 1 }],
        )
        .finish(),
    );

    let mut one_stream = acceptor();
    one_stream.max_streams = 1;
    out.push(
        Script::new(
            "refused_max_streams",
            "The acceptor accepts one open stream (MAX_STREAMS 1). Before its HELLO arrives the \
             dialer cannot know: it opens two, and the second is refused with RESET REFUSED. \
             After the HELLO the dialer's own open fails locally (StreamLimit); once stream 1 is \
             finished a new stream is accepted.",
            dialer(),
            one_stream,
        )
        .step(
            D,
            "Preface, then OPEN 1 and OPEN 3 before the acceptor's HELLO.",
            vec![
                open(StreamKind::OpenerSends, true),
                open(StreamKind::OpenerSends, true),
            ],
        )
        .step(
            A,
            "The acceptor's preface and the RESET REFUSED for stream 3, queued while it handled \
             the OPEN.",
            vec![],
        )
        .step(
            D,
            "A third open fails locally; CLOSE finishes stream 1.",
            vec![
                open(StreamKind::OpenerSends, true),
                Action::Close { stream: 1 },
            ],
        )
        .step(
            D,
            "Stream 1 no longer counts: stream 5 is accepted.",
            vec![open(StreamKind::OpenerSends, true)],
        )
        .finish(),
    );

    let pair = (pipe::<String>().0, pipe::<String>().0);
    let two_senders = encode_json::<(Sender<String>, Sender<String>)>(&pair, &[3, 5]);
    let mut one_pending = acceptor();
    one_pending.max_pending_opens = 1;
    out.push(
        Script::new(
            "refused_max_pending_opens",
            "The acceptor holds at most one unclaimed nested stream (MAX_PENDING_OPENS 1). A \
             message naming two new senders opens nested streams 3 and 5; 5 is refused with \
             RESET REFUSED, so the message names a stream that is not an unclaimed attachment: \
             the acceptor resets the channel it came on with UNKNOWN_REFERENCE and gives up \
             stream 3.",
            dialer(),
            one_pending,
        )
        .handshake()
        .step(
            D,
            "OPEN 1 (top-level), OPEN 3 and OPEN 5 (nested), then the message \
             [{\"kind\":\"sender\",\"id\":3},{\"kind\":\"sender\",\"id\":5}] on stream 1.",
            vec![
                open(StreamKind::OpenerSends, true),
                open(StreamKind::OpenerReceives, false),
                open(StreamKind::OpenerReceives, false),
                send(1, &two_senders),
            ],
        )
        .step(
            A,
            "RESET REFUSED for 5 was queued while handling its OPEN. Decoding the message claims \
             3, fails on 5, resets stream 1 with UNKNOWN_REFERENCE and stream 3 with CANCEL; the \
             dropped message counts as consumed.",
            vec![
                Action::Claim { stream: 3 },
                Action::Claim { stream: 5 },
                reset(
                    1,
                    ErrorCode::UNKNOWN_REFERENCE,
                    "stream 5 is not an unclaimed attachment opened by the peer",
                ),
                reset(
                    3,
                    ErrorCode::CANCEL,
                    "the message naming it failed to decode",
                ),
                consumed_session(two_senders.len()),
            ],
        )
        .finish(),
    );

    out.push(
        Script::new(
            "reset_by_sender",
            "The data sender aborts its channel mid-way: RESET ABORTED with its reason. The \
             receiver gets the message sent before, then the abort (never a clean end).",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "Channel 1 and a first message.",
            vec![
                open(StreamKind::OpenerSends, true),
                send(1, &text("part 1")),
            ],
        )
        .step(
            D,
            "The sending application aborts.",
            vec![reset(1, ErrorCode::ABORTED, "job failed")],
        )
        .finish(),
    );

    out.push(
        Script::new(
            "reset_by_receiver",
            "The data receiver goes away mid-way: RESET CANCEL. The sender's next send fails \
             (Finished) and puts nothing on the wire.",
            dialer(),
            acceptor(),
        )
        .handshake()
        .step(
            D,
            "Channel 1 and a first message.",
            vec![open(StreamKind::OpenerSends, true), send(1, &text("first"))],
        )
        .step(
            A,
            "The receiving application drops its receiver; the message it did not read counts \
             as consumed.",
            vec![
                reset(1, ErrorCode::CANCEL, "receiver dropped"),
                consumed_session(text("first").len()),
            ],
        )
        .step(
            D,
            "Sending on the reset stream fails locally.",
            vec![send(1, &text("second"))],
        )
        .finish(),
    );

    out
}
