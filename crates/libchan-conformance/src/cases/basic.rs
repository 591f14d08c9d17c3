//! Top-level channels: opening, ordering, closing, breaking.

use libchan_core::{ChannelError, Session, SessionExt};

use crate::types::Numbered;
use crate::{first_send_error, within, Harness};

/// Both the dialer and the acceptor can open channels toward the other.
pub async fn top_level_channels_from_either_side<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;

    let tx = dialer.open::<String>().expect("dialer opens a channel");
    tx.send("from dialer".into())
        .await
        .expect("send on dialer's channel");
    let mut rx = within("acceptor accepting", acceptor.accept::<String>())
        .await
        .expect("accept")
        .expect("a channel from the dialer");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("from dialer".into())
    );

    let tx = acceptor.open::<String>().expect("acceptor opens a channel");
    tx.send("from acceptor".into())
        .await
        .expect("send on acceptor's channel");
    let mut rx = within("dialer accepting", dialer.accept::<String>())
        .await
        .expect("accept")
        .expect("a channel from the acceptor");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("from acceptor".into())
    );
}

/// Messages on one channel arrive in the order they were sent.
pub async fn messages_keep_their_order_per_channel<H: Harness>(h: &H) {
    const N: u32 = 2_000;
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Numbered>().expect("open");
    let sender = tokio::spawn(async move {
        for seq in 0..N {
            tx.send(Numbered { channel: 0, seq }).await.expect("send");
        }
    });
    let mut rx = within("accept", acceptor.accept::<Numbered>())
        .await
        .expect("accept")
        .expect("channel");
    for seq in 0..N {
        let got = within("next message", rx.recv())
            .await
            .expect("recv")
            .expect("a message, not the end");
        assert_eq!(got, Numbered { channel: 0, seq }, "message out of order");
    }
    sender.await.expect("sender task");
    assert_eq!(within("end", rx.recv()).await.expect("clean end"), None);
}

/// A clean close is `Ok(None)`: only after the last clone of the sender is
/// dropped, and only after every message was received.
pub async fn dropping_the_last_sender_closes_cleanly<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    let tx2 = tx.clone();
    tx.send(1).await.expect("send");
    drop(tx);
    tx2.send(2).await.expect("a clone keeps the channel open");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv 1", rx.recv()).await.expect("recv"), Some(1));
    assert_eq!(within("recv 2", rx.recv()).await.expect("recv"), Some(2));
    drop(tx2);
    assert_eq!(
        within("the close", rx.recv())
            .await
            .expect("a clean close is not an error"),
        None
    );
}

/// After one side closes the session, the other side's `accept` returns
/// `None` once the channels opened before the close are accepted.
pub async fn closing_the_session_ends_accept<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    tx.send(7).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(7));
    drop(tx);
    assert_eq!(within("end", rx.recv()).await.expect("clean"), None);
    within("close", dialer.close()).await.expect("close");
    let next = within("accept after close", acceptor.accept::<u32>()).await;
    assert!(
        matches!(next, Ok(None)),
        "accept after the peer closed must be Ok(None), got {next:?}"
    );
}

/// A lost connection is not a clean close: receivers get an error (after
/// anything already received), senders fail.
pub async fn lost_session_breaks_every_channel<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    let back = acceptor.open::<u32>().expect("open back");
    let mut back_rx = within("accept back", dialer.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");

    within("sever", h.sever(&dialer, &acceptor)).await;

    let got = within("recv after sever", rx.recv()).await;
    assert!(
        matches!(got, Err(ref e) if e.is_broken()),
        "a receiver on a lost session must report a broken channel, got {got:?}"
    );
    let got = within("recv after sever", back_rx.recv()).await;
    assert!(
        matches!(got, Err(ref e) if e.is_broken()),
        "a receiver on a lost session must report a broken channel, got {got:?}"
    );
    // Senders learn it too (possibly after a send or two already queued).
    let err = first_send_error("a send to fail after sever", &tx, |i| i as u32).await;
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
    let tx = dialer.open::<u32>().expect("open");
    let rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    drop(rx);
    let err = first_send_error("a send to a dropped receiver to fail", &tx, |i| i as u32).await;
    assert!(
        matches!(err, ChannelError::Closed),
        "sending to a dropped receiver must fail with Closed, got {err:?}"
    );
}
