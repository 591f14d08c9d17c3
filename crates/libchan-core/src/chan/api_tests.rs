//! Unit tests of the tokio-like surface: `try_send`, permits, `close`,
//! `recv_many`, `try_recv`, the `Sink`, and how waiting senders are served.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::test_util::{counting, poll_once};
use super::*;
use crate::error::{SendError, TryRecvError, TrySendError};

#[test]
fn try_send_reports_full_and_closed_with_the_value() {
    let (tx, mut rx) = pipe_with_capacity::<String>(1);
    tx.try_send("a".into()).expect("room for one");
    match tx.try_send("b".into()) {
        Err(TrySendError::Full(v)) => assert_eq!(v, "b"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(rx.try_recv().expect("queued"), "a");
    tx.try_send("c".into()).expect("room again");
    drop(rx);
    let err = tx.try_send("d".into()).expect_err("the receiver is gone");
    assert!(err.is_closed());
    assert_eq!(err.into_inner(), "d");
}

#[test]
fn try_send_after_an_abort_is_broken_with_the_cause() {
    let (tx, _rx) = pipe::<u32>();
    tx.abort("stop");
    match tx.try_send(7) {
        Err(TrySendError::Broken(7, ChannelError::Aborted { reason, .. })) => {
            assert_eq!(reason, "stop")
        }
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[test]
fn a_failed_send_hands_the_value_back() {
    let (tx, rx) = pipe::<Vec<u8>>();
    drop(rx);
    let Poll::Ready(Err(err)) = poll_once(tx.send(vec![1, 2, 3])) else {
        panic!("a send to a dropped receiver fails at once");
    };
    assert!(matches!(err.error(), ChannelError::Closed));
    assert_eq!(err.to_string(), ChannelError::Closed.to_string());
    let (value, cause): (Vec<u8>, ChannelError) = err.into_parts();
    assert_eq!(value, [1, 2, 3]);
    assert!(matches!(cause, ChannelError::Closed));
    // `?` still works where a ChannelError is expected.
    fn convert(e: SendError<u32>) -> ChannelError {
        e.into()
    }
    let _ = convert;
}

#[test]
fn waiting_senders_are_woken_one_per_freed_slot_in_order() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    tx.try_send(0).expect("room");
    let (first_wakes, first_waker) = counting();
    let (second_wakes, second_waker) = counting();
    let mut first = Box::pin(tx.send(1));
    let mut second = Box::pin(tx.send(2));
    assert!(first
        .as_mut()
        .poll(&mut Context::from_waker(&first_waker))
        .is_pending());
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&second_waker))
        .is_pending());

    assert_eq!(rx.try_recv().expect("queued"), 0);
    assert_eq!(first_wakes.0.load(Ordering::SeqCst), 1, "the oldest waiter");
    assert_eq!(
        second_wakes.0.load(Ordering::SeqCst),
        0,
        "one wake per slot"
    );
    // A newcomer cannot take the slot handed to the first waiter.
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&second_waker))
        .is_pending());
    assert!(matches!(poll_once(first.as_mut()), Poll::Ready(Ok(()))));

    assert_eq!(rx.try_recv().expect("queued"), 1);
    assert_eq!(second_wakes.0.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_once(second.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv().expect("queued"), 2);
}

#[test]
fn a_waiter_cancelled_after_its_wake_passes_the_slot_on() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    tx.try_send(0).expect("room");
    let (_, first_waker) = counting();
    let (second_wakes, second_waker) = counting();
    let mut first = Box::pin(tx.send(1));
    let mut second = Box::pin(tx.send(2));
    assert!(first
        .as_mut()
        .poll(&mut Context::from_waker(&first_waker))
        .is_pending());
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&second_waker))
        .is_pending());
    assert_eq!(rx.try_recv().expect("queued"), 0);
    drop(first);
    assert_eq!(
        second_wakes.0.load(Ordering::SeqCst),
        1,
        "the slot the cancelled waiter was handed goes to the next one"
    );
    assert!(matches!(poll_once(second.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv().expect("queued"), 2);
    assert_eq!(rx.chan.lock().send_waiters_len(), 0);
}

#[test]
fn a_permit_holds_a_slot_until_used_or_dropped() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    let Poll::Ready(Ok(permit)) = poll_once(tx.reserve()) else {
        panic!("an empty channel has a slot");
    };
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    assert!(tx.try_reserve().expect("open").is_none());
    permit.send(2);
    assert_eq!(rx.try_recv().expect("sent through the permit"), 2);

    let permit = tx.try_reserve().expect("open").expect("a free slot");
    let mut waiting = Box::pin(tx.send(3));
    assert!(poll_once(waiting.as_mut()).is_pending());
    drop(permit);
    assert!(
        matches!(poll_once(waiting.as_mut()), Poll::Ready(Ok(()))),
        "a dropped permit frees its slot for the waiting sender"
    );
    assert_eq!(rx.try_recv().expect("queued"), 3);
}

#[test]
fn a_cancelled_reserve_holds_nothing() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    tx.try_send(0).expect("room");
    let mut reserve = Box::pin(tx.reserve());
    assert!(poll_once(reserve.as_mut()).is_pending());
    drop(reserve);
    assert_eq!(rx.try_recv().expect("queued"), 0);
    tx.try_send(1).expect("the slot is free again");
}

#[test]
fn close_fails_senders_and_keeps_what_is_queued() {
    let (tx, mut rx) = pipe::<u32>();
    tx.try_send(1).expect("room");
    tx.try_send(2).expect("room");
    rx.close();
    assert!(tx.is_closed());
    assert!(matches!(poll_once(tx.closed()), Poll::Ready(())));
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert_eq!(rx.try_recv().expect("queued before close"), 1);
    assert!(matches!(poll_once(rx.recv()), Poll::Ready(Ok(Some(2)))));
    assert!(matches!(poll_once(rx.recv()), Poll::Ready(Ok(None))));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
}

#[test]
fn recv_many_takes_what_is_queued_up_to_the_limit() {
    let (tx, mut rx) = pipe::<u32>();
    let mut batch = Vec::new();
    assert!(poll_once(rx.recv_many(&mut batch, 4)).is_pending());
    for i in 0..6 {
        tx.try_send(i).expect("room");
    }
    assert!(matches!(
        poll_once(rx.recv_many(&mut batch, 4)),
        Poll::Ready(Ok(4))
    ));
    assert!(matches!(
        poll_once(rx.recv_many(&mut batch, 0)),
        Poll::Ready(Ok(0))
    ));
    tx.abort("done");
    assert!(matches!(
        poll_once(rx.recv_many(&mut batch, 4)),
        Poll::Ready(Ok(2))
    ));
    assert!(matches!(
        poll_once(rx.recv_many(&mut batch, 4)),
        Poll::Ready(Err(ChannelError::Aborted { .. }))
    ));
    assert_eq!(batch, [0, 1, 2, 3, 4, 5]);

    let (tx, mut rx) = pipe::<u32>();
    drop(tx);
    assert!(matches!(
        poll_once(rx.recv_many(&mut batch, 4)),
        Poll::Ready(Ok(0))
    ));
}

#[test]
fn try_recv_tells_empty_from_finished_from_broken() {
    let (tx, mut rx) = pipe::<u32>();
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    tx.try_send(1).expect("room");
    drop(tx);
    assert_eq!(rx.try_recv().expect("queued"), 1);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));

    let (tx, mut rx) = pipe::<u32>();
    tx.abort("crash");
    assert!(matches!(
        rx.try_recv(),
        Err(TryRecvError::Broken(ChannelError::Aborted { .. }))
    ));
}

#[test]
fn sender_is_a_sink() {
    use futures_util::SinkExt;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(async {
            let (tx, mut rx) = pipe_with_capacity::<u32>(2);
            let consumer = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(v) = rx.recv().await.expect("recv") {
                    got.push(v);
                }
                got
            });
            let mut sink = tx.clone();
            let mut items = futures_util::stream::iter((0..10).map(Ok));
            sink.send_all(&mut items).await.expect("send_all");
            sink.close().await.expect("close flushes");
            drop(sink);
            drop(tx);
            assert_eq!(consumer.await.expect("join"), (0..10).collect::<Vec<_>>());
        });
}

#[test]
fn a_sink_reports_a_broken_channel() {
    use futures_util::SinkExt;
    let (tx, rx) = pipe::<u32>();
    drop(rx);
    let mut sink = tx;
    assert!(matches!(
        poll_once(SinkExt::send(&mut sink, 1)),
        Poll::Ready(Err(ChannelError::Closed))
    ));
}

#[test]
fn a_shared_receiver_gives_each_job_to_exactly_one_worker() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime")
        .block_on(async {
            let (jobs, rx) = pipe_with_capacity::<u32>(4);
            let rx = rx.into_shared();
            let mut workers = Vec::new();
            for _ in 0..4 {
                let rx = rx.clone();
                workers.push(tokio::spawn(async move {
                    let mut got = Vec::new();
                    while let Some(job) = rx.recv().await.expect("recv") {
                        got.push(job);
                        tokio::task::yield_now().await;
                    }
                    got
                }));
            }
            drop(rx);
            for job in 0..200 {
                jobs.send(job).await.expect("the workers pull");
            }
            drop(jobs);
            let mut all = Vec::new();
            for w in workers {
                all.extend(w.await.expect("a worker"));
            }
            all.sort_unstable();
            assert_eq!(all, (0..200).collect::<Vec<_>>(), "each job once");
        });
}

#[test]
fn dropping_every_shared_clone_closes_the_channel() {
    let (tx, rx) = pipe::<u32>();
    let a = rx.into_shared();
    let b = a.clone();
    drop(a);
    assert!(!tx.is_closed(), "a clone still consumes");
    drop(b);
    assert!(tx.is_closed());
}

#[test]
fn a_try_reserve_that_finds_no_slot_frees_none() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    tx.try_send(0).expect("room");
    assert!(tx.try_reserve().expect("open").is_none());
    assert!(
        matches!(tx.try_send(1), Err(TrySendError::Full(1))),
        "the channel is still full"
    );
    assert_eq!(rx.try_recv().expect("queued"), 0);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}
