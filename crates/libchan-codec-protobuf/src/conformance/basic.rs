//! Top-level channels of prost messages: opening, ordering, closing, breaking.

use libchan_conformance::{within, Harness};
use libchan_core::{ChannelError, Session, SessionExt};

use super::types::{Numbered, Text};
use crate::Proto;

fn text(s: &str) -> Proto<Text> {
    Proto(Text { text: s.into() })
}

/// Both the dialer and the acceptor can open channels of prost messages
/// toward the other.
pub async fn top_level_channels_from_either_side<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    for (from, to, label) in [
        (&dialer, &acceptor, "from dialer"),
        (&acceptor, &dialer, "from acceptor"),
    ] {
        let tx = from.open::<Proto<Text>>().expect("open a channel");
        tx.send(text(label)).await.expect("send");
        let mut rx = within("accept", to.accept::<Proto<Text>>())
            .await
            .expect("accept")
            .expect("a channel from the peer");
        let got = within("recv", rx.recv()).await.expect("recv");
        assert_eq!(got, Some(text(label)));
    }
}

/// Messages on one channel arrive in the order they were sent.
pub async fn messages_keep_their_order_per_channel<H: Harness>(h: &H) {
    const N: u32 = 2_000;
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Proto<Numbered>>().expect("open");
    let sender = tokio::spawn(async move {
        for seq in 0..N {
            tx.send(Proto(Numbered { channel: 0, seq }))
                .await
                .expect("send");
        }
    });
    let mut rx = within("accept", acceptor.accept::<Proto<Numbered>>())
        .await
        .expect("accept")
        .expect("channel");
    for seq in 0..N {
        let got = within("next message", rx.recv())
            .await
            .expect("recv")
            .expect("a message, not the end");
        assert_eq!(got.0, Numbered { channel: 0, seq }, "message out of order");
    }
    within("sender task", sender).await.expect("sender task");
    assert_eq!(within("end", rx.recv()).await.expect("clean end"), None);
}

/// A clean close is `Ok(None)`: only once the last clone of the sender is
/// dropped, and only after every message was received.
pub async fn dropping_the_last_sender_closes_cleanly<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Proto<Text>>().expect("open");
    let tx2 = tx.clone();
    tx.send(text("one")).await.expect("send");
    drop(tx);
    tx2.send(text("two"))
        .await
        .expect("a clone keeps the channel open");
    let mut rx = within("accept", acceptor.accept::<Proto<Text>>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv 1", rx.recv()).await.expect("recv"),
        Some(text("one"))
    );
    assert_eq!(
        within("recv 2", rx.recv()).await.expect("recv"),
        Some(text("two"))
    );
    drop(tx2);
    assert_eq!(
        within("the close", rx.recv())
            .await
            .expect("a clean close is not an error"),
        None
    );
}

/// A lost connection is not a clean close: receivers get an error (after
/// what was already received), senders fail, in both directions.
pub async fn lost_session_breaks_every_channel<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Proto<Text>>().expect("open");
    tx.send(text("before")).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<Proto<Text>>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some(text("before"))
    );
    let back = acceptor.open::<Proto<Text>>().expect("open back");
    let mut back_rx = within("accept back", dialer.accept::<Proto<Text>>())
        .await
        .expect("accept")
        .expect("channel");

    within("sever", h.sever(&dialer, &acceptor)).await;

    for rx in [&mut rx, &mut back_rx] {
        let got = within("recv after sever", rx.recv()).await;
        assert!(
            matches!(got, Err(ref e) if e.is_broken()),
            "a receiver on a lost session must report a broken channel, got {got:?}"
        );
    }
    let err = within("a send to fail after sever", async {
        loop {
            if let Err(e) = tx.send(text("after")).await {
                break e.into_error();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        !matches!(err, ChannelError::Closed),
        "a lost session is not a clean close for the sender either, got {err:?}"
    );
    drop(back);
}

/// Dropping the receiver makes the sender fail with `Closed` (over a
/// connection: once the peer's cancel arrives).
pub async fn dropped_receiver_fails_the_sender<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Proto<Text>>().expect("open");
    let rx = within("accept", acceptor.accept::<Proto<Text>>())
        .await
        .expect("accept")
        .expect("channel");
    drop(rx);
    within("the sender to learn its receiver was dropped", tx.closed()).await;
    let sent = within("a send after the cancel", tx.send(text("anyone?")))
        .await
        .map_err(ChannelError::from);
    assert!(
        matches!(sent, Err(ChannelError::Closed)),
        "sending to a dropped receiver must fail with Closed, got {sent:?}"
    );
}

/// Accepts the peer's next channel of `T`, failing the case if none comes.
pub(super) async fn accept<S: Session, T>(session: &S) -> libchan_core::Receiver<Proto<T>>
where
    T: prost::Message + Default + Send + 'static,
{
    within("accept", session.accept::<Proto<T>>())
        .await
        .expect("accept")
        .expect("a channel from the peer")
}
