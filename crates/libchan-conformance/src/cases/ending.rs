//! Ending: graceful close delivers everything, aborts and panics are errors
//! with their cause, never a clean end.

use libchan_core::{ChannelError, Request, Session, SessionError, SessionExt};

use crate::{within, Harness};

/// Bytes in each chunk of the graceful-close case: large enough that the
/// chunks left unread overflow a default credit window (1 MiB) into the
/// sender's queue.
const CHUNK: usize = 64 * 1024;
/// Chunks sent per direction.
const CHUNKS: u32 = 100;
/// Chunks the receiver leaves unread until the sender has closed: within a
/// channel's default capacity (32), so the senders can finish first.
const UNREAD: u32 = 30;

fn chunk(i: u32) -> String {
    let c = char::from(b'a' + (i % 26) as u8);
    std::iter::repeat_n(c, CHUNK).collect()
}

/// A graceful `close` delivers every message whose `send` returned `Ok`,
/// in both directions, including those still queued for credit when it was
/// called; each receiver then sees a clean end, and `close` returns `Ok`.
pub async fn graceful_close_delivers_everything_sent_both_ways<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let out = dialer.open::<String>().expect("open toward the acceptor");
    let back = acceptor.open::<String>().expect("open toward the dialer");
    let mut out_rx = within("accept at the acceptor", acceptor.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    let mut back_rx = within("accept at the dialer", dialer.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");

    let sending = |tx: libchan_core::Sender<String>| {
        tokio::spawn(async move {
            for i in 0..CHUNKS {
                tx.send(chunk(i)).await.expect("a send before close");
            }
            // Dropped here: every message above was reported sent.
        })
    };
    let out_task = sending(out);
    let back_task = sending(back);
    for (rx, what) in [
        (&mut out_rx, "dialer → acceptor"),
        (&mut back_rx, "acceptor → dialer"),
    ] {
        for i in 0..CHUNKS - UNREAD {
            let got = within(what, rx.recv())
                .await
                .expect("recv")
                .expect("a chunk");
            assert_eq!(got, chunk(i), "{what}: chunk {i}");
        }
    }
    within("the senders to finish", async {
        out_task.await.expect("sender task");
        back_task.await.expect("sender task");
    })
    .await;

    // The dialer closes while the last chunks still wait for credit.
    let closing = {
        let dialer = std::sync::Arc::new(dialer);
        let d = dialer.clone();
        (tokio::spawn(async move { d.close().await }), dialer)
    };
    for (rx, what) in [
        (&mut out_rx, "dialer → acceptor"),
        (&mut back_rx, "acceptor → dialer"),
    ] {
        for i in CHUNKS - UNREAD..CHUNKS {
            let got = within(what, rx.recv())
                .await
                .unwrap_or_else(|e| panic!("{what}: chunk {i} was sent before close, got {e:?}"))
                .unwrap_or_else(|| panic!("{what}: chunk {i} missing"));
            assert_eq!(got, chunk(i), "{what}: chunk {i}");
        }
        let end = within(what, rx.recv()).await;
        assert!(
            matches!(end, Ok(None)),
            "{what}: after a graceful close the channel ends cleanly, got {end:?}"
        );
    }
    let closed = within("close to finish", closing.0)
        .await
        .expect("close task");
    assert!(
        closed.is_ok(),
        "a graceful close that delivered everything is Ok, got {closed:?}"
    );
    let next = within("accept after the peer closed", acceptor.accept::<String>()).await;
    assert!(
        matches!(next, Ok(None)),
        "accept after close is Ok(None), got {next:?}"
    );
}

/// What the peer sent before it closed the session reaches channels
/// accepted after the close: requests with their (dropped) reply channels,
/// and plain messages, on one and on many channels.
pub async fn requests_sent_before_close_reach_a_late_accept<H: Harness>(h: &H) {
    for n in [1u32, 1000] {
        let (dialer, acceptor) = h.pair().await;
        for i in 0..n {
            let service = dialer
                .open::<Request<String, String>>()
                .expect("open a service channel");
            let reply = within("request", service.request(format!("request {i}")))
                .await
                .expect("send a request");
            // The client gives up on the answer and on the channel.
            drop(reply);
        }
        let plain = dialer.open::<u32>().expect("open a plain channel");
        for i in 0..3 {
            plain.send(i).await.expect("send");
        }
        drop(plain);
        let closed = within("close", dialer.close()).await;
        assert!(
            closed.is_ok(),
            "close with nothing left in flight is Ok, got {closed:?}"
        );

        for i in 0..n {
            let mut requests = within(
                "a late accept",
                acceptor.accept::<Request<String, String>>(),
            )
            .await
            .expect("accepting a channel opened before the close")
            .expect("the channel");
            let req = within("recv", requests.recv())
                .await
                .unwrap_or_else(|e| panic!("request {i} of {n} was sent before close, got {e:?}"))
                .expect("a request");
            assert_eq!(req.body, format!("request {i}"));
            // The reply channel was dropped by the client: answering fails,
            // and nothing hangs.
            let answered = within("respond", req.respond("late".into())).await;
            assert!(answered.is_err(), "nobody waits for this reply");
            let end = within("end", requests.recv()).await;
            assert!(matches!(end, Ok(None)), "then a clean end, got {end:?}");
        }
        let mut plain = within("accept the plain channel", acceptor.accept::<u32>())
            .await
            .expect("accept")
            .expect("channel");
        for i in 0..3 {
            assert_eq!(within("recv", plain.recv()).await.expect("recv"), Some(i));
        }
        assert_eq!(within("end", plain.recv()).await.expect("clean"), None);
        let next = within("accept after the peer closed", acceptor.accept::<u32>()).await;
        assert!(matches!(next, Ok(None)), "then accept ends, got {next:?}");
    }
}

/// `Sender::abort` delivers what was sent, then an `Aborted` error with
/// the reason at the receiver; later sends fail.
pub async fn sender_abort_reaches_the_receiver_with_its_reason<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    tx.send(2).await.expect("send");
    tx.abort("the job failed halfway");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(2));
    let got = within("the abort", rx.recv()).await;
    assert!(
        matches!(&got, Err(ChannelError::Aborted { reason, .. }) if reason == "the job failed halfway"),
        "an aborted channel is an Aborted error with the reason, got {got:?}"
    );
    let sent = tx.send(3).await.map_err(ChannelError::from);
    assert!(
        matches!(sent, Err(ChannelError::Aborted { .. })),
        "a send after abort fails, got {sent:?}"
    );
}

/// A producer that panics must not read as a finished stream: the last
/// sender dropped during a panic aborts the channel.
pub async fn sender_dropped_in_a_panic_breaks_the_channel<H: Harness>(h: &H) {
    const SENT: u32 = 500;
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    let handler = tokio::spawn(async move {
        for i in 0..SENT {
            tx.send(i).await.expect("send");
        }
        panic!("the handler has a bug (this panic is part of a conformance case)");
    });
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    for i in 0..SENT {
        assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(i));
    }
    let got = within("the end of a panicked producer", rx.recv()).await;
    assert!(
        matches!(got, Err(ChannelError::Aborted { .. })),
        "a sender dropped in a panic aborts the channel, got {got:?}"
    );
    assert!(handler.await.is_err(), "the handler panicked");
}

/// `Session::abort` reaches the peer as an abort with its reason, not as a
/// protocol error or a clean end.
pub async fn session_abort_reaches_the_peer_as_an_abort<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    dialer.abort("down for maintenance");
    let aborted = |e: &SessionError| matches!(e, SessionError::Aborted { reason, .. } if reason.contains("down for maintenance"));
    let got = within("the abort at the peer", rx.recv()).await;
    assert!(
        matches!(&got, Err(ChannelError::SessionLost(e)) if aborted(e)),
        "a channel of an aborted session reports the abort, got {got:?}"
    );
    let next = within("accept after the abort", acceptor.accept::<u32>()).await;
    assert!(
        matches!(&next, Err(e) if aborted(e)),
        "accept on an aborted session reports the abort, got {next:?}"
    );
    let sent = tx.send(2).await.map_err(ChannelError::from);
    assert!(
        sent.is_err(),
        "the aborting side's channels break too, got {sent:?}"
    );
}
