//! Limits: an oversize message is a `Limit` error for its own send, and an
//! honest burst within the limits is never refused.

use libchan_core::{ChannelError, Request, SessionExt};

use crate::{within, Harness};

/// A message above the peer's size limit fails its own `send` (and a
/// `call` carrying it fails) with `Limit`, whether it is sent before the
/// handshake finished or after; nothing hangs and the channels live on.
/// Without a limit, a large message arrives intact.
pub async fn oversize_message_is_a_limit_error_before_and_after_the_handshake<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let Some(max) = h.max_message_size() else {
        let tx = dialer.open::<String>().expect("open");
        let big = "x".repeat(8 << 20);
        tx.send(big.clone())
            .await
            .expect("no size limit in this transport");
        let mut rx = within("accept", acceptor.accept::<String>())
            .await
            .expect("accept")
            .expect("channel");
        assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(big));
        return;
    };
    // Sent at once: over a real link the peer's HELLO is not here yet.
    let service = dialer
        .open::<Request<String, usize>>()
        .expect("open a service");
    let data = dialer.open::<String>().expect("open a data channel");
    let big = "x".repeat(max + 1);
    let sent = within(
        "an oversize send before the handshake",
        data.send(big.clone()),
    )
    .await;
    let Err(sent) = sent else {
        panic!("an oversize send must fail");
    };
    assert!(
        matches!(sent.error(), ChannelError::Limit(_)),
        "an oversize send is a Limit error for that send, got {sent:?}"
    );
    assert_eq!(sent.into_inner(), big, "the unsent value comes back");
    let called = within(
        "an oversize call before the handshake",
        service.call(big.clone()),
    )
    .await;
    assert!(
        matches!(called, Err(ChannelError::Limit(_))),
        "an oversize call is a Limit error, got {called:?}"
    );

    let server = tokio::spawn(async move {
        let mut requests = within(
            "accept the service",
            acceptor.accept::<Request<String, usize>>(),
        )
        .await
        .expect("accept")
        .expect("channel");
        let mut data = within("accept the data channel", acceptor.accept::<String>())
            .await
            .expect("accept")
            .expect("channel");
        let serving = tokio::spawn(async move {
            while let Ok(Some(req)) = requests.recv().await {
                let n = req.body.len();
                let _ = req.respond(n).await;
            }
        });
        let mut got = Vec::new();
        while let Some(s) = within("data", data.recv())
            .await
            .expect("the data channel lives on")
        {
            got.push(s);
        }
        serving.abort();
        (got, acceptor)
    });

    // The channels live on; after the handshake the same holds.
    assert_eq!(
        within("a call after the refused ones", service.call("ok".into()))
            .await
            .expect("call"),
        2
    );
    data.send("small".into())
        .await
        .expect("a small message goes");
    let sent = within(
        "an oversize send after the handshake",
        data.send(big.clone()),
    )
    .await;
    let Err(sent) = sent else {
        panic!("an oversize send must fail");
    };
    assert!(
        matches!(sent.error(), ChannelError::Limit(_)),
        "after the handshake too, got {sent:?}"
    );
    assert_eq!(sent.into_inner(), big, "the unsent value comes back");
    let called = within("an oversize call after the handshake", service.call(big)).await;
    assert!(
        matches!(called, Err(ChannelError::Limit(_))),
        "after the handshake too, got {called:?}"
    );
    assert_eq!(
        within("a call after that", service.call("again".into()))
            .await
            .expect("call"),
        5
    );
    data.send("last".into()).await.expect("send");
    drop(data);
    let (got, _acceptor) = within("the server", server).await.expect("server task");
    assert_eq!(got, vec!["small".to_string(), "last".to_string()]);
}

/// Many fresh channels, each carrying one request with a fresh reply
/// channel, all sent before the peer accepts any: within the stream limit,
/// none is refused.
pub async fn burst_of_calls_on_fresh_channels_is_not_refused<H: Harness>(h: &H) {
    const N: u32 = 2_000;
    let (dialer, acceptor) = h.pair().await;
    let mut replies = Vec::new();
    for i in 0..N {
        let service = dialer.open::<Request<u32, u32>>().expect("open");
        let reply = within("a request", service.request(i))
            .await
            .unwrap_or_else(|e| panic!("request {i} refused: {e:?}"));
        replies.push(reply);
    }
    let server = tokio::spawn(async move {
        for _ in 0..N {
            let mut requests = within("accept", acceptor.accept::<Request<u32, u32>>())
                .await
                .expect("accept")
                .expect("channel");
            let req = within("recv", requests.recv())
                .await
                .expect("a request of the burst was refused or lost")
                .expect("a request");
            let n = req.body;
            req.respond(n * 2).await.expect("respond");
        }
        acceptor
    });
    for (i, mut reply) in replies.into_iter().enumerate() {
        let got = within("a reply", reply.recv())
            .await
            .unwrap_or_else(|e| panic!("reply {i}: {e:?}"));
        assert_eq!(got, Some(i as u32 * 2));
    }
    let _acceptor = within("the server", server).await.expect("server task");
}
