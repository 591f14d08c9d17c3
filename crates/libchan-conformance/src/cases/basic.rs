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

/// Dropping the receiver tells its sender at once, with nothing sent: over
/// a connection the session cancels the stream as soon as the consumer
/// goes, so `closed()` completes, `is_closed()` turns true and every later
/// `send` fails with `Closed` (none is silently lost). The same holds for a
/// receiver that arrived nested in a message.
pub async fn dropped_receiver_is_seen_by_an_idle_sender<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    let rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    drop(rx);
    within("the sender to learn its receiver was dropped", tx.closed()).await;
    assert!(
        tx.is_closed(),
        "closed() returned, so is_closed() must hold"
    );
    let sent = within("a send after the cancel", tx.send(1))
        .await
        .map_err(ChannelError::from);
    assert!(
        matches!(sent, Err(ChannelError::Closed)),
        "a send after the receiver was dropped must fail with Closed, got {sent:?}"
    );

    // A receiver that travelled in a message.
    let carrier = dialer
        .open::<libchan_core::Receiver<u32>>()
        .expect("open a carrier");
    let (inner_tx, inner_rx) = libchan_core::pipe::<u32>();
    carrier.send(inner_rx).await.expect("send a receiver");
    let mut carried = within(
        "accept the carrier",
        acceptor.accept::<libchan_core::Receiver<u32>>(),
    )
    .await
    .expect("accept")
    .expect("channel");
    let nested = within("the nested receiver", carried.recv())
        .await
        .expect("recv")
        .expect("a receiver");
    drop(nested);
    within(
        "the nested receiver's sender to learn it",
        inner_tx.closed(),
    )
    .await;
    let sent = within("a send after the nested cancel", inner_tx.send(2))
        .await
        .map_err(ChannelError::from);
    assert!(
        matches!(sent, Err(ChannelError::Closed)),
        "a send to a dropped nested receiver must fail with Closed, got {sent:?}"
    );
}

/// A session whose handles are all dropped, with no channel in use, ends
/// cleanly on both sides: the peer's `accept` returns `Ok(None)`, and
/// channels opened before still finish.
pub async fn dropping_every_handle_closes_an_idle_session<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    tx.send(5).await.expect("send");
    drop(tx);
    drop(dialer);
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("the channel opened before the handle went");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(5));
    assert_eq!(within("end", rx.recv()).await.expect("a clean end"), None);
    let next = within(
        "accept once the peer dropped its session",
        acceptor.accept::<u32>(),
    )
    .await;
    assert!(
        matches!(next, Ok(None)),
        "a peer that dropped every handle ends the session cleanly, got {next:?}"
    );
}
