//! Ends inside messages: nesting, replies, byte streams, ends coming home.

use std::collections::BTreeMap;

use libchan_core::{pipe, ByteStream, Message, Request, Session, SessionExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::types::{Carry, Deep, Inner, WithStream};
use crate::{within, Harness};

/// Senders and receivers nested in structs, `Vec`s, `Option`s and maps reach
/// the peer as live ends, whichever side sends them.
pub async fn nested_ends_at_depth_travel_both_ways<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    nested_one_way(&dialer, &acceptor).await;
    nested_one_way(&acceptor, &dialer).await;
}

async fn nested_one_way<S: libchan_core::Session>(from: &S, to: &S) {
    let tx = from.open::<Deep>().expect("open");
    let (answer_tx, mut answer_rx) = pipe::<u64>();
    let (named_tx, mut named_rx) = pipe::<u64>();
    let (feed_tx, feed_rx) = pipe::<String>();
    let mut by_name = BTreeMap::new();
    by_name.insert("named".to_string(), named_tx);
    tx.send(Deep {
        label: "deep".into(),
        inner: vec![
            None,
            Some(Inner {
                tx: answer_tx,
                rx: Some(feed_rx),
            }),
        ],
        by_name,
    })
    .await
    .expect("send a message full of ends");

    let mut rx = within("accept", to.accept::<Deep>())
        .await
        .expect("accept")
        .expect("channel");
    let deep = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("message");
    assert_eq!(deep.label, "deep");
    assert_eq!(deep.inner.len(), 2);
    assert!(deep.inner[0].is_none(), "a None stays None");
    let mut inner = deep.inner.into_iter().nth(1).flatten().expect("the Some");

    // The nested sender works, toward its origin.
    inner.tx.send(41).await.expect("send on nested sender");
    assert_eq!(
        within("answer", answer_rx.recv()).await.expect("recv"),
        Some(41)
    );
    let named = deep.by_name.get("named").expect("map value");
    named.send(42).await.expect("send on a sender from a map");
    assert_eq!(
        within("named", named_rx.recv()).await.expect("recv"),
        Some(42)
    );

    // The nested receiver works, from its origin.
    feed_tx
        .send("fed".into())
        .await
        .expect("send into nested receiver");
    let mut feed = inner.rx.take().expect("receiver");
    assert_eq!(
        within("fed", feed.recv()).await.expect("recv"),
        Some("fed".into())
    );
    drop(feed_tx);
    assert_eq!(within("feed end", feed.recv()).await.expect("clean"), None);

    // And closing propagates back through nested ends.
    drop(inner);
    drop(deep.by_name);
    assert_eq!(
        within("answer end", answer_rx.recv()).await.expect("clean"),
        None
    );
    assert_eq!(
        within("named end", named_rx.recv()).await.expect("clean"),
        None
    );
}

/// A receiver nested in a message delivers what was sent into it even
/// when the message is accepted after everything arrived and nothing else
/// happens on the session afterwards.
pub async fn nested_receiver_delivers_without_other_traffic<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    // A control channel: once its second message is read, every frame sent
    // before it has been processed by the acceptor.
    let control = dialer.open::<u32>().expect("open control");
    control.send(0).await.expect("send");
    let mut control_rx = within("accept control", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", control_rx.recv()).await.expect("recv"),
        Some(0)
    );

    let carrier = dialer
        .open::<libchan_core::Receiver<String>>()
        .expect("open a carrier");
    let (tx, rx) = pipe::<String>();
    carrier.send(rx).await.expect("send the receiver");
    tx.send("hello".into())
        .await
        .expect("send into the nested channel");
    drop(tx);
    control.send(1).await.expect("send");
    assert_eq!(
        within("recv", control_rx.recv()).await.expect("recv"),
        Some(1)
    );

    let mut carried = within(
        "accept the carrier",
        acceptor.accept::<libchan_core::Receiver<String>>(),
    )
    .await
    .expect("accept")
    .expect("channel");
    let mut nested = within("the nested receiver", carried.recv())
        .await
        .expect("recv")
        .expect("a receiver");
    assert_eq!(
        within("the nested message, with no other traffic", nested.recv())
            .await
            .expect("recv"),
        Some("hello".into())
    );
    assert_eq!(
        within("the nested end", nested.recv())
            .await
            .expect("clean"),
        None
    );
}

/// `Request<Q, R>::call` gets its answer over the session, from either side.
pub async fn reply_channels_answer_requests<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    for (client, server) in [(&dialer, &acceptor), (&acceptor, &dialer)] {
        let requests = client.open::<Request<String, usize>>().expect("open");
        let mut incoming = within("accept", server.accept::<Request<String, usize>>())
            .await
            .expect("accept")
            .expect("channel");
        let responder = tokio::spawn(async move {
            while let Ok(Some(req)) = incoming.recv().await {
                let n = req.body.len();
                req.respond(n).await.expect("respond");
            }
        });
        for word in ["a", "bb", "ccc"] {
            let n = within("a reply", requests.call(word.to_string()))
                .await
                .expect("call");
            assert_eq!(n, word.len());
        }
        drop(requests);
        within("responder end", responder)
            .await
            .expect("responder task");
    }
}

/// The seed README's example: requests carrying `RetPipe` return channels.
pub async fn seed_message_request_response<H: Harness>(h: &H) {
    let (client, server) = h.pair().await;
    let ch = client.open::<Message>().expect("open");
    let mut incoming = within("accept", server.accept::<Message>())
        .await
        .expect("accept")
        .expect("channel");
    let srv = tokio::spawn(async move {
        while let Ok(Some(msg)) = incoming.recv().await {
            let ret = msg.ret.expect("a request with a return channel");
            ret.send(Message::new("this is an extremely useful response"))
                .await
                .expect("respond");
        }
    });
    let mut ret1 = ch
        .send_ret(Message::new("request 1!"))
        .await
        .expect("send 1");
    let mut ret2 = ch
        .send_ret(Message::new("request 2!"))
        .await
        .expect("send 2");
    for ret in [&mut ret1, &mut ret2] {
        let msg = within("reply", ret.recv())
            .await
            .expect("recv")
            .expect("a reply");
        assert_eq!(&msg.data[..], b"this is an extremely useful response");
    }
    drop(ch);
    within("server end", srv).await.expect("server task");
}

/// A `ByteStream` in a message is a working duplex pipe between the peers.
pub async fn byte_stream_in_a_message_is_duplex<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<WithStream>().expect("open");
    let (mut local, remote) = ByteStream::pair();
    tx.send(WithStream {
        name: "echo".into(),
        stream: remote,
    })
    .await
    .expect("send a stream");
    let mut rx = within("accept", acceptor.accept::<WithStream>())
        .await
        .expect("accept")
        .expect("channel");
    let msg = within("recv", rx.recv()).await.expect("recv").expect("msg");
    assert_eq!(msg.name, "echo");
    let mut far = msg.stream;
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
    assert_eq!(got.len(), payload.len(), "every byte comes back");
    assert!(got == payload, "bytes come back unchanged and in order");
    within("echo task", echo).await.expect("echo task");
}

/// An end imported from the peer and sent back to that peer arrives as the
/// peer's own end: no forwarder, no new stream, no loop.
pub async fn end_sent_back_reaches_its_owner_directly<H: Harness>(h: &H) {
    let (a, b) = h.pair().await;
    let to_b = a.open::<Carry>().expect("open a→b");
    let mut at_b = within("accept at b", b.accept::<Carry>())
        .await
        .expect("accept")
        .expect("channel");
    let to_a = b.open::<Carry>().expect("open b→a");
    let mut at_a = within("accept at a", a.accept::<Carry>())
        .await
        .expect("accept")
        .expect("channel");

    let (original, mut rx) = pipe::<String>();
    to_b.send(Carry {
        tx: original.clone(),
    })
    .await
    .expect("send the end to b");
    let carried = within("end at b", at_b.recv())
        .await
        .expect("recv")
        .expect("msg");
    let streams_before = (a.stats().streams, b.stats().streams);

    to_a.send(carried).await.expect("send the end back to a");
    let home = within("end back at a", at_a.recv())
        .await
        .expect("recv")
        .expect("msg");

    assert!(
        home.tx.same_channel(&original),
        "an end sent back to its owner must be the owner's own channel, not a forwarded copy"
    );
    assert_eq!(a.stats().forwarders, 0, "a must not forward");
    assert_eq!(b.stats().forwarders, 0, "b must not forward");
    let streams_after = (a.stats().streams, b.stats().streams);
    assert!(
        streams_after.0 <= streams_before.0 && streams_after.1 <= streams_before.1,
        "returning an end must not open streams: before {streams_before:?}, after {streams_after:?}"
    );
    home.tx
        .send("home".into())
        .await
        .expect("send on the returned end");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("home".into())
    );
}
