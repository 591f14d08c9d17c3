//! Handles inside prost messages: nesting, replies, byte streams, ends
//! coming home, and handles dropped without being converted.

use std::collections::HashMap;

use libchan_conformance::{within, Harness};
use libchan_core::{pipe, ByteStream, ChannelError, Receiver, Sender, Session, SessionExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::basic::accept;
use super::types::{Answer, Ask, Carry, Deep, Envelope, Inner, Number, Text, WithStream};
use crate::{ByteStreamRef, Proto, ReceiverRef, SenderRef};

fn sender<T>(handle: Option<SenderRef>) -> Sender<Proto<T>>
where
    T: prost::Message + Default + Send + 'static,
{
    handle
        .expect("the field is set")
        .into_sender()
        .expect("a live sender of the documented type")
}

fn receiver<T>(handle: Option<ReceiverRef>) -> Receiver<Proto<T>>
where
    T: prost::Message + Default + Send + 'static,
{
    handle
        .expect("the field is set")
        .into_receiver()
        .expect("a live receiver of the documented type")
}

fn number(value: u64) -> Proto<Number> {
    Proto(Number { value })
}

/// Senders and receivers in a nested message, in repeated messages, as map
/// values and in a repeated field reach the peer as live ends, whichever
/// side sends them; closing propagates back through them.
pub async fn nested_ends_at_depth_travel_both_ways<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    nested_one_way(&dialer, &acceptor).await;
    nested_one_way(&acceptor, &dialer).await;
}

async fn nested_one_way<S: Session>(from: &S, to: &S) {
    let tx = from.open::<Proto<Deep>>().expect("open");
    let (single_tx, mut single_rx) = pipe::<Proto<Number>>();
    let (answer_tx, mut answer_rx) = pipe::<Proto<Number>>();
    let (named_tx, mut named_rx) = pipe::<Proto<Number>>();
    let (many_tx, mut many_rx) = pipe::<Proto<Number>>();
    let (feed_tx, feed_rx) = pipe::<Proto<Text>>();
    let mut by_name = HashMap::new();
    by_name.insert("named".to_string(), SenderRef::new(named_tx));
    tx.send(Proto(Deep {
        label: "deep".into(),
        single: Some(Inner {
            tx: Some(SenderRef::new(single_tx)),
            rx: None,
        }),
        inner: vec![
            Inner::default(),
            Inner {
                tx: Some(SenderRef::new(answer_tx)),
                rx: Some(ReceiverRef::new(feed_rx)),
            },
        ],
        by_name,
        many: vec![SenderRef::new(many_tx.clone()), SenderRef::new(many_tx)],
    }))
    .await
    .expect("send a message full of ends");

    let mut rx = accept::<S, Deep>(to).await;
    let Proto(mut deep) = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("message");
    assert_eq!(deep.label, "deep");
    assert_eq!(deep.inner.len(), 2);
    assert!(
        deep.inner[0].tx.is_none() && deep.inner[0].rx.is_none(),
        "an empty element stays empty"
    );
    let single = deep.single.take().expect("the nested message");
    let inner = deep.inner.pop().expect("the second element");

    // The nested senders work, toward their origin.
    sender::<Number>(single.tx)
        .send(number(1))
        .await
        .expect("send");
    assert_eq!(
        within("single", single_rx.recv()).await.expect("recv"),
        Some(number(1))
    );
    let answer = sender::<Number>(inner.tx);
    answer.send(number(2)).await.expect("send");
    assert_eq!(
        within("answer", answer_rx.recv()).await.expect("recv"),
        Some(number(2))
    );
    let named = sender::<Number>(deep.by_name.remove("named"));
    named.send(number(3)).await.expect("send on a map value");
    assert_eq!(
        within("named", named_rx.recv()).await.expect("recv"),
        Some(number(3))
    );
    for (i, handle) in deep.many.drain(..).enumerate() {
        let many = sender::<Number>(Some(handle));
        many.send(number(10 + i as u64)).await.expect("send");
        assert_eq!(
            within("many", many_rx.recv()).await.expect("recv"),
            Some(number(10 + i as u64))
        );
    }

    // The nested receiver works, from its origin.
    feed_tx
        .send(Proto(Text { text: "fed".into() }))
        .await
        .expect("send into the nested receiver");
    let mut feed = receiver::<Text>(inner.rx);
    assert_eq!(
        within("fed", feed.recv())
            .await
            .expect("recv")
            .map(|t| t.0.text),
        Some("fed".to_string())
    );
    drop(feed_tx);
    assert_eq!(within("feed end", feed.recv()).await.expect("clean"), None);

    // Closing propagates back through nested ends.
    drop((answer, named));
    for (what, rx) in [
        ("single", &mut single_rx),
        ("answer", &mut answer_rx),
        ("named", &mut named_rx),
        ("many", &mut many_rx),
    ] {
        assert_eq!(
            within(what, rx.recv()).await.expect("a clean close"),
            None,
            "{what} closes once the peer's copies are gone"
        );
    }
}

/// A request carrying its reply channel gets its answer, from either side.
pub async fn reply_channels_answer_requests<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    for (client, server) in [(&dialer, &acceptor), (&acceptor, &dialer)] {
        let requests = client.open::<Proto<Ask>>().expect("open");
        let mut incoming = accept::<_, Ask>(server).await;
        let responder = tokio::spawn(async move {
            while let Ok(Some(Proto(ask))) = incoming.recv().await {
                let length = ask.question.len() as u64;
                sender::<Answer>(ask.reply)
                    .send(Proto(Answer { length }))
                    .await
                    .expect("respond");
            }
        });
        for word in ["a", "bb", "ccc"] {
            let answer = within(
                "a reply",
                requests.call_with(|reply: Sender<Proto<Answer>>| {
                    Proto(Ask {
                        question: word.into(),
                        reply: Some(reply.into()),
                    })
                }),
            )
            .await
            .expect("call");
            assert_eq!(answer.length, word.len() as u64);
        }
        drop(requests);
        within("responder end", responder)
            .await
            .expect("responder task");
    }
}

/// The seed's request/response with a protobuf envelope: each request
/// carries a return channel (and a byte stream), the server answers on it.
pub async fn seed_envelope_request_response<H: Harness>(h: &H) {
    let (client, server) = h.pair().await;
    let ch = client.open::<Proto<Envelope>>().expect("open");
    let mut incoming = accept::<_, Envelope>(&server).await;
    let srv = tokio::spawn(async move {
        while let Ok(Some(Proto(msg))) = incoming.recv().await {
            let mut stream = msg
                .stream
                .expect("a stream")
                .into_stream()
                .expect("a live stream");
            stream.write_all(&msg.data).await.expect("echo the data");
            stream.shutdown().await.expect("shutdown");
            let response = Envelope {
                data: b"this is an extremely useful response".to_vec(),
                ..Envelope::default()
            };
            sender::<Envelope>(msg.ret)
                .send(Proto(response))
                .await
                .expect("respond");
        }
    });
    for request in ["request 1!", "request 2!"] {
        let (mut local, remote) = ByteStream::pair();
        let mut ret = ch
            .request_with(|ret: Sender<Proto<Envelope>>| {
                Proto(Envelope {
                    data: request.as_bytes().to_vec(),
                    stream: Some(ByteStreamRef::new(remote)),
                    ret: Some(ret.into()),
                })
            })
            .await
            .expect("send a request");
        let reply = within("reply", ret.recv())
            .await
            .expect("recv")
            .expect("a reply");
        assert_eq!(reply.data, b"this is an extremely useful response");
        let mut echoed = Vec::new();
        within("the echo", local.read_to_end(&mut echoed))
            .await
            .expect("read the stream");
        assert_eq!(echoed, request.as_bytes());
    }
    drop(ch);
    within("server end", srv).await.expect("server task");
}

/// A byte stream in a message is a working duplex pipe between the peers.
pub async fn byte_stream_in_a_message_is_duplex<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Proto<WithStream>>().expect("open");
    let (mut local, remote) = ByteStream::pair();
    tx.send(Proto(WithStream {
        name: "echo".into(),
        stream: Some(remote.into()),
    }))
    .await
    .expect("send a stream");
    let mut rx = accept::<_, WithStream>(&acceptor).await;
    let Proto(msg) = within("recv", rx.recv()).await.expect("recv").expect("msg");
    assert_eq!(msg.name, "echo");
    let mut far = msg
        .stream
        .expect("the stream field")
        .into_stream()
        .expect("a live stream");
    let echo = tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = far.read(&mut buf).await.expect("read far end");
            if n == 0 {
                break;
            }
            far.write_all(&buf[..n]).await.expect("write far end");
        }
        far.shutdown().await.expect("shutdown far end");
    });
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = tokio::io::split(&mut local);
    let to_send = payload.clone();
    let writer = async move {
        wr.write_all(&to_send).await.expect("write");
        wr.shutdown().await.expect("shutdown");
    };
    let reader = async move {
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.expect("read back");
        got
    };
    let ((), got) = within("echo round trip", async { tokio::join!(writer, reader) }).await;
    assert!(
        got == payload,
        "every byte comes back unchanged and in order"
    );
    within("echo task", echo).await.expect("echo task");
}

/// A sender imported from the peer and sent back to that peer arrives as
/// the peer's own channel: no forwarder, no new stream, no loop.
pub async fn end_sent_back_reaches_its_owner_directly<H: Harness>(h: &H) {
    let (a, b) = h.pair().await;
    let to_b = a.open::<Proto<Carry>>().expect("open a→b");
    let mut at_b = accept::<_, Carry>(&b).await;
    let to_a = b.open::<Proto<Carry>>().expect("open b→a");
    let mut at_a = accept::<_, Carry>(&a).await;

    let (original, mut rx) = pipe::<Proto<Text>>();
    to_b.send(Proto(Carry {
        tx: Some(SenderRef::new(original.clone())),
    }))
    .await
    .expect("send the end to b");
    let Proto(carried) = within("end at b", at_b.recv())
        .await
        .expect("recv")
        .expect("msg");
    let streams_before = (a.stats().streams, b.stats().streams);

    // b names the type, then sends the end on.
    let typed = sender::<Text>(carried.tx);
    to_a.send(Proto(Carry {
        tx: Some(SenderRef::new(typed)),
    }))
    .await
    .expect("send the end back to a");
    let Proto(home) = within("end back at a", at_a.recv())
        .await
        .expect("recv")
        .expect("msg");
    let home = sender::<Text>(home.tx);

    assert!(
        home.same_channel(&original),
        "an end sent back to its owner must be the owner's own channel, not a forwarded copy"
    );
    assert_eq!(a.stats().forwarders, 0, "a must not forward");
    assert_eq!(b.stats().forwarders, 0, "b must not forward");
    let streams_after = (a.stats().streams, b.stats().streams);
    assert!(
        streams_after.0 <= streams_before.0 && streams_after.1 <= streams_before.1,
        "returning an end must not open streams: before {streams_before:?}, after {streams_after:?}"
    );
    home.send(Proto(Text {
        text: "home".into(),
    }))
    .await
    .expect("send on the returned end");
    assert_eq!(
        within("recv", rx.recv())
            .await
            .expect("recv")
            .map(|t| t.0.text),
        Some("home".to_string())
    );
}

/// Handles dropped without being converted still end their channels, as
/// typed ends would: a dropped reply handle fails the call with `NoReply`
/// (not a hang), and a dropped receiver handle fails its sender with
/// `Closed`.
pub async fn unconverted_handles_close_when_dropped<H: Harness>(h: &H) {
    let (client, server) = h.pair().await;
    let requests = client.open::<Proto<Ask>>().expect("open");
    let mut incoming = accept::<_, Ask>(&server).await;
    let call = requests.call_with(|reply: Sender<Proto<Answer>>| {
        Proto(Ask {
            question: "ignored".into(),
            reply: Some(reply.into()),
        })
    });
    let drop_request = async {
        let ask = within("the request", incoming.recv())
            .await
            .expect("recv")
            .expect("a request");
        drop(ask); // The reply handle goes unconverted.
    };
    let (answer, ()) = within("the call to end", async {
        tokio::join!(call, drop_request)
    })
    .await;
    assert!(
        matches!(answer, Err(ChannelError::NoReply)),
        "a reply handle dropped unconverted ends the call with NoReply, got {answer:?}"
    );

    let feeds = client.open::<Proto<Inner>>().expect("open");
    let mut incoming = accept::<_, Inner>(&server).await;
    let (feed_tx, feed_rx) = pipe::<Proto<Text>>();
    feeds
        .send(Proto(Inner {
            tx: None,
            rx: Some(feed_rx.into()),
        }))
        .await
        .expect("send a receiver");
    let inner = within("the receiver", incoming.recv())
        .await
        .expect("recv")
        .expect("a message");
    drop(inner); // The receiver handle goes unconverted.
    let err = within("a send into the dropped receiver to fail", async {
        loop {
            if let Err(e) = feed_tx.send(Proto(Text::default())).await {
                break e.into_error();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        matches!(err, ChannelError::Closed),
        "a receiver handle dropped unconverted cancels its channel, got {err:?}"
    );
}
