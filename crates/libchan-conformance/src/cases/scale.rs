//! Many channels at once, and flow control.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libchan_core::SessionExt;

use crate::types::{Blob, Numbered};
use crate::{within, Harness};

/// A thousand channels open at once, all in use concurrently, each ordered.
pub async fn thousand_concurrent_channels<H: Harness>(h: &H) {
    const CHANNELS: u32 = 1_000;
    const PER_CHANNEL: u32 = 5;
    let (dialer, acceptor) = h.pair().await;
    let mut senders = Vec::new();
    for _ in 0..CHANNELS {
        senders.push(
            dialer
                .open::<Numbered>()
                .expect("open one of 1000 channels"),
        );
    }
    let mut tasks = Vec::new();
    for (i, tx) in senders.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for seq in 0..PER_CHANNEL {
                tx.send(Numbered {
                    channel: i as u32,
                    seq,
                })
                .await
                .expect("send");
            }
        }));
    }
    let mut seen = vec![0u32; CHANNELS as usize];
    for _ in 0..CHANNELS {
        let mut rx = within("accept one of 1000", acceptor.accept::<Numbered>())
            .await
            .expect("accept")
            .expect("channel");
        let mut channel = None;
        while let Some(m) = within("message", rx.recv()).await.expect("recv") {
            let c = *channel.get_or_insert(m.channel);
            assert_eq!(m.channel, c, "messages of two channels mixed");
            assert_eq!(m.seq, seen[c as usize], "message out of order");
            seen[c as usize] += 1;
        }
    }
    for t in tasks {
        within("sender task", t).await.expect("sender task");
    }
    assert!(
        seen.iter().all(|&n| n == PER_CHANNEL),
        "every channel delivered all its messages"
    );
}

/// A receiver that does not read makes its sender wait: sends stop
/// completing long before memory grows, and resume once it reads.
pub async fn slow_receiver_makes_the_sender_wait<H: Harness>(h: &H) {
    const SIZE: usize = 1024;
    // 1 GiB of 1 KiB messages: far beyond any sane window.
    const LIMIT: usize = 1 << 20;
    let (dialer, acceptor) = h.pair().await;
    // Until the peer's handshake arrives, a message above the smallest
    // frame limit any peer may have waits for it: have it arrive first.
    let hello = acceptor.open::<u8>().expect("open");
    hello.send(1).await.expect("send");
    let mut hello_rx = within("accept", dialer.accept::<u8>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", hello_rx.recv()).await.expect("recv"),
        Some(1)
    );
    let tx = dialer.open::<Blob>().expect("open");
    let mut rx = within("accept", acceptor.accept::<Blob>())
        .await
        .expect("accept")
        .expect("channel");
    let blob = bytes::Bytes::from(vec![7u8; SIZE]);

    let mut sent = 0usize;
    let blocked_send = loop {
        assert!(
            sent < LIMIT,
            "sent {sent} messages of {SIZE} bytes to a receiver that reads nothing without waiting"
        );
        let mut fut = Box::pin(tx.send(Blob {
            bytes: blob.clone(),
        }));
        match poll_once(fut.as_mut()) {
            Poll::Ready(r) => {
                r.expect("send");
                sent += 1;
                // Give the session's tasks a chance to move bytes, so a
                // transport's own buffers fill as they would in real use.
                if sent % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            Poll::Pending => break fut,
        }
    };
    assert!(sent > 0, "the first send must not wait");

    // Reading lets the blocked send through.
    let reader = async {
        let mut got = 0usize;
        while got <= sent {
            let m = rx.recv().await.expect("recv").expect("message");
            assert_eq!(m.bytes.len(), SIZE);
            got += 1;
        }
    };
    within(
        "the blocked send to complete once the receiver reads",
        async {
            let (r, ()) = tokio::join!(blocked_send, reader);
            r.expect("blocked send completes");
        },
    )
    .await;
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut cx)
}

/// Messages still queued (waiting for credit) when the last sender is
/// dropped are delivered, then the channel closes cleanly.
pub async fn queued_messages_outlive_the_last_sender<H: Harness>(h: &H) {
    const SIZE: usize = 64 * 1024;
    const COUNT: usize = 32;
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<Blob>().expect("open");
    let blob = bytes::Bytes::from(vec![1u8; SIZE]);
    // 2 MiB: more than a connection's window, so most of it is still queued
    // on the sending side when the sender goes away.
    let sender = tokio::spawn(async move {
        for _ in 0..COUNT {
            tx.send(Blob {
                bytes: blob.clone(),
            })
            .await
            .expect("send");
        }
    });
    let mut rx = within("accept", acceptor.accept::<Blob>())
        .await
        .expect("accept")
        .expect("channel");
    let mut got = 0;
    while let Some(m) = within("next message", rx.recv()).await.expect("recv") {
        assert_eq!(m.bytes.len(), SIZE);
        got += 1;
    }
    within("sender", sender).await.expect("sender task");
    assert_eq!(got, COUNT, "every message sent before the drop arrives");
}
