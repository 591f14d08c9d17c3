//! Unit tests of the receiver's batch: the capacity it still counts, the
//! senders it wakes, and what happens to it when the receiver goes.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::test_util::{counting, poll_once};
use super::*;
use crate::error::{TryRecvError, TrySendError};
use crate::transport::ExportedReceiver;

#[test]
fn messages_in_the_batch_still_count_against_the_capacity() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(3);
    for i in 0..3 {
        tx.try_send(i).expect("room");
    }
    // Takes the whole queue into the batch and hands out the first.
    assert_eq!(rx.try_recv().expect("queued"), 0);
    assert_eq!(rx.len(), 2);
    tx.try_send(3).expect("the one freed slot");
    assert!(
        matches!(tx.try_send(4), Err(TrySendError::Full(4))),
        "two batched and one queued fill a capacity of three"
    );
    assert_eq!(rx.len(), 3);
    for want in 1..4 {
        assert_eq!(rx.try_recv().expect("queued"), want);
    }
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[test]
fn a_receive_from_the_batch_wakes_a_parked_sender() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(2);
    tx.try_send(0).expect("room");
    tx.try_send(1).expect("room");
    let (count, waker) = counting();
    let mut parked = Box::pin(tx.send(2));
    assert!(parked
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(rx.try_recv().expect("queued"), 0);
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "the freed slot woke it");
    assert!(matches!(poll_once(parked.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv().expect("batched"), 1);
    assert_eq!(rx.try_recv().expect("queued"), 2);
}

#[test]
fn recv_many_takes_the_batch_and_then_the_queue() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(8);
    for i in 0..3 {
        tx.try_send(i).expect("room");
    }
    assert_eq!(rx.try_recv().expect("queued"), 0);
    for i in 3..5 {
        tx.try_send(i).expect("room");
    }
    let mut got = Vec::new();
    let Poll::Ready(Ok(n)) = poll_once(rx.recv_many(&mut got, 10)) else {
        panic!("messages are queued");
    };
    assert_eq!(n, 4);
    assert_eq!(got, [1, 2, 3, 4]);
}

#[test]
fn a_receiver_sent_away_with_a_batch_keeps_the_order() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(8);
    for i in 0..3 {
        tx.try_send(i).expect("room");
    }
    assert_eq!(rx.try_recv().expect("queued"), 0);
    tx.try_send(3).expect("room");
    // An in-memory transport moves the end as it is.
    let moved = ExportedReceiver::new(rx).into_any();
    let mut rx = *moved.downcast::<Receiver<u32>>().expect("a Receiver<u32>");
    for want in 1..4 {
        assert_eq!(rx.try_recv().expect("queued"), want);
    }
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[test]
fn dropping_the_receiver_drops_what_its_batch_holds() {
    let (tx, mut rx) = pipe_with_capacity::<Arc<()>>(4);
    let value = Arc::new(());
    for _ in 0..3 {
        tx.try_send(value.clone()).expect("room");
    }
    drop(rx.try_recv().expect("queued"));
    assert_eq!(Arc::strong_count(&value), 3, "two batched");
    drop(rx);
    assert_eq!(Arc::strong_count(&value), 1, "the batch went with it");
    assert!(matches!(tx.try_send(value), Err(TrySendError::Closed(_))));
}

/// Senders and the receiver on different threads, one slot between them,
/// so every message goes through a park and a wake: a wake lost between
/// the receiver freeing a slot and a sender parking would hang this.
#[test]
fn no_wake_is_lost_between_threads_on_a_full_channel() {
    const PER_SENDER: u32 = 20_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (tx, mut rx) = pipe_with_capacity::<(u32, u32)>(1);
        let senders: Vec<_> = (0..2)
            .map(|who| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((who, i)).await.expect("send");
                    }
                })
            })
            .collect();
        drop(tx);
        let receive = async {
            let mut next = [0u32; 2];
            while let Some((who, i)) = rx.recv().await.expect("recv") {
                assert_eq!(i, next[who as usize], "in order per sender");
                next[who as usize] += 1;
            }
            next
        };
        let next = tokio::time::timeout(Duration::from_secs(30), receive)
            .await
            .expect("every message arrives; no sender is left parked");
        assert_eq!(next, [PER_SENDER; 2]);
        for s in senders {
            s.await.expect("sender");
        }
    });
}
