//! Unit tests of the channel queue: pipes, and a drain onto a scripted sink.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::test_util::poll_once;
use super::*;
use crate::codec::Codec;
use crate::error::{CodecError, TryRecvError};
use crate::transport::{DrainHandle, EncodeFn, ExportedReceiver, Sent, SessionId, StreamSink};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn send_waits_when_the_pipe_is_full_and_resumes_after_a_recv() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(2);
    assert!(poll_once(tx.send(1)).is_ready());
    assert!(poll_once(tx.send(2)).is_ready());
    let mut third = Box::pin(tx.send(3));
    assert!(
        poll_once(third.as_mut()).is_pending(),
        "a full pipe makes send wait"
    );
    assert_eq!(rx.try_recv().expect("recv"), 1);
    assert!(matches!(poll_once(third.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv().expect("recv"), 2);
    assert_eq!(rx.try_recv().expect("recv"), 3);
}

#[test]
fn a_cancelled_send_delivers_nothing_and_frees_its_place() {
    let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    assert!(poll_once(tx.send(1)).is_ready());
    let mut pending = Box::pin(tx.send(2));
    assert!(poll_once(pending.as_mut()).is_pending());
    drop(pending);
    assert_eq!(rx.chan.lock().send_waiters_len(), 0, "the waiter left");
    assert_eq!(rx.try_recv().expect("recv"), 1);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[test]
fn clean_close_only_after_the_last_clone_and_the_last_message() {
    rt().block_on(async {
        let (tx, mut rx) = pipe::<u32>();
        let tx2 = tx.clone();
        tx.send(1).await.expect("send");
        drop(tx);
        tx2.send(2).await.expect("a clone keeps it open");
        drop(tx2);
        assert_eq!(rx.recv().await.expect("recv"), Some(1));
        assert_eq!(rx.recv().await.expect("recv"), Some(2));
        assert_eq!(rx.recv().await.expect("clean"), None);
        assert_eq!(rx.recv().await.expect("still clean"), None);
    });
}

#[test]
fn a_dropped_receiver_fails_senders_with_closed() {
    rt().block_on(async {
        let (tx, rx) = pipe_with_capacity::<u32>(1);
        tx.send(1).await.expect("send");
        let mut waiting = Box::pin(tx.send(2));
        assert!(poll_once(waiting.as_mut()).is_pending());
        drop(rx);
        assert!(matches!(
            waiting.await.map_err(ChannelError::from),
            Err(ChannelError::Closed)
        ));
        assert!(tx.is_closed());
    });
}

#[test]
fn a_break_delivers_what_is_queued_then_the_error_and_stays_broken() {
    rt().block_on(async {
        let (tx, mut rx) = pipe::<u32>();
        tx.send(1).await.expect("send");
        crate::transport::Breaker::of_sender(&tx)
            .break_with(ChannelError::SessionLost(crate::SessionError::Closed));
        assert_eq!(rx.recv().await.expect("queued first"), Some(1));
        assert!(matches!(rx.recv().await, Err(ChannelError::SessionLost(_))));
        assert!(rx.recv().await.is_err(), "the error is sticky");
        assert!(tx.send(2).await.is_err(), "senders see it too");
    });
}

#[test]
fn receiver_is_a_stream_that_ends_after_close() {
    use futures_core::Stream;
    let (tx, mut rx) = pipe::<u32>();
    assert!(poll_once(tx.send(5)).is_ready());
    drop(tx);
    let mut cx = Context::from_waker(Waker::noop());
    let mut rx = std::pin::Pin::new(&mut rx);
    assert!(matches!(
        rx.as_mut().poll_next(&mut cx),
        Poll::Ready(Some(Ok(5)))
    ));
    assert!(matches!(rx.as_mut().poll_next(&mut cx), Poll::Ready(None)));
    assert!(matches!(rx.as_mut().poll_next(&mut cx), Poll::Ready(None)));
}

#[test]
fn many_senders_each_keep_their_order() {
    rt().block_on(async {
        let (tx, mut rx) = pipe_with_capacity::<(u32, u32)>(4);
        let mut tasks = Vec::new();
        for s in 0..4u32 {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..500u32 {
                    tx.send((s, i)).await.expect("send");
                }
            }));
        }
        drop(tx);
        let mut next = [0u32; 4];
        while let Some((s, i)) = rx.recv().await.expect("recv") {
            assert_eq!(i, next[s as usize], "sender {s} out of order");
            next[s as usize] += 1;
        }
        assert_eq!(next, [500; 4]);
    });
}

// ---- draining onto a session stream --------------------------------------

#[derive(Debug)]
struct TestCodec;

impl Codec for TestCodec {
    fn name(&self) -> &str {
        "test"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A codec-free payload, so the pump can be tested without a codec crate.
#[derive(Debug, PartialEq)]
struct Num(u32);

impl crate::codec::Payload for Num {
    fn encode(&self, _codec: &dyn Codec, out: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.0 == u32::MAX {
            return Err(CodecError::format("test", "unencodable"));
        }
        out.extend_from_slice(&self.0.to_be_bytes());
        Ok(())
    }
    fn decode(_codec: &dyn Codec, bytes: &[u8]) -> Result<Self, CodecError> {
        let arr: [u8; 4] = bytes
            .try_into()
            .map_err(|_| CodecError::format("test", "length"))?;
        Ok(Num(u32::from_be_bytes(arr)))
    }
}

/// A stream whose credit is a message count the test controls.
#[derive(Debug, Default)]
struct ScriptedSink {
    credit: AtomicUsize,
    sent: Mutex<Vec<Vec<u8>>>,
    closed: AtomicBool,
    reset: AtomicBool,
    drain: Mutex<Option<DrainHandle>>,
}

impl StreamSink for ScriptedSink {
    fn session(&self) -> SessionId {
        SessionId::next()
    }
    fn stream(&self) -> u64 {
        1
    }
    fn has_credit(&self) -> bool {
        self.credit.load(Ordering::SeqCst) > 0
    }
    fn send(&self, encode: &mut EncodeFn<'_>) -> Result<Sent, ChannelError> {
        let mut buf = Vec::new();
        encode(&TestCodec, &mut buf).map_err(|e| ChannelError::Encode(Arc::new(e)))?;
        self.credit.fetch_sub(1, Ordering::SeqCst);
        self.sent.lock().expect("lock").push(buf);
        Ok(Sent::Queued)
    }
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
    fn reset(&self, _error: &ChannelError) {
        self.reset.store(true, Ordering::SeqCst);
    }
    fn attach_drain(&self, drain: DrainHandle) {
        *self.drain.lock().expect("lock") = Some(drain);
    }
}

impl ScriptedSink {
    fn grant(&self, n: usize) {
        self.credit.fetch_add(n, Ordering::SeqCst);
        let drain = self.drain.lock().expect("lock").clone();
        drain.expect("a drain is attached").pump();
    }
    fn sent(&self) -> Vec<u32> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .map(|b| u32::from_be_bytes(b[..4].try_into().expect("4 bytes")))
            .collect()
    }
}

#[test]
fn a_drained_channel_encodes_on_send_and_waits_for_credit() {
    let sink = Arc::new(ScriptedSink::default());
    let (tx, rx) = pipe_with_capacity::<Num>(2);
    ExportedReceiver::new(rx).attach(sink.clone());
    sink.grant(1);
    assert!(poll_once(tx.send(Num(1))).is_ready());
    assert_eq!(sink.sent(), vec![1], "with credit, send encodes at once");
    // No credit: messages queue up to the capacity, then send waits.
    assert!(poll_once(tx.send(Num(2))).is_ready());
    assert!(poll_once(tx.send(Num(3))).is_ready());
    let mut fourth = Box::pin(tx.send(Num(4)));
    assert!(
        poll_once(fourth.as_mut()).is_pending(),
        "no credit and a full queue"
    );
    sink.grant(2);
    assert_eq!(sink.sent(), vec![1, 2, 3], "credit pumps in order");
    assert!(poll_once(fourth.as_mut()).is_ready());
    drop(fourth);
    sink.grant(10);
    assert_eq!(sink.sent(), vec![1, 2, 3, 4]);
    assert!(!sink.closed.load(Ordering::SeqCst));
    drop(tx);
    assert!(
        sink.closed.load(Ordering::SeqCst),
        "the last sender closes the stream"
    );
}

#[test]
fn a_receiver_sent_over_a_session_drains_its_batch_first() {
    let sink = Arc::new(ScriptedSink::default());
    let (tx, mut rx) = pipe_with_capacity::<Num>(8);
    for i in 0..3 {
        tx.try_send(Num(i)).expect("room");
    }
    // Takes the whole queue into the receiver's batch.
    assert_eq!(rx.try_recv().expect("queued").0, 0);
    tx.try_send(Num(3)).expect("room");
    ExportedReceiver::new(rx).attach(sink.clone());
    sink.grant(10);
    assert_eq!(sink.sent(), vec![1, 2, 3], "the batch goes first, in order");
}

#[test]
fn a_queued_message_that_cannot_be_encoded_breaks_the_channel() {
    let sink = Arc::new(ScriptedSink::default());
    let (tx, rx) = pipe::<Num>();
    ExportedReceiver::new(rx).attach(sink.clone());
    assert!(poll_once(tx.send(Num(u32::MAX))).is_ready());
    sink.grant(5);
    assert!(sink.reset.load(Ordering::SeqCst), "the stream is reset");
    assert!(matches!(poll_once(tx.send(Num(1))), Poll::Ready(Err(_))));
}

#[test]
fn a_drain_failure_reaches_every_sender() {
    let sink = Arc::new(ScriptedSink::default());
    let (tx, rx) = pipe::<Num>();
    ExportedReceiver::new(rx).attach(sink.clone());
    let drain = sink.drain.lock().expect("lock").clone().expect("drain");
    drain.fail(ChannelError::SessionLost(crate::SessionError::Closed));
    assert!(matches!(
        poll_once(tx.send(Num(1))).map_err(ChannelError::from),
        Poll::Ready(Err(ChannelError::SessionLost(_)))
    ));
}

#[test]
fn closed_resolves_when_the_receiver_goes_and_abort_reaches_it() {
    let (tx, rx) = pipe::<u32>();
    let mut closed = Box::pin(tx.closed());
    assert!(poll_once(closed.as_mut()).is_pending());
    drop(rx);
    assert!(poll_once(closed.as_mut()).is_ready());
    assert!(tx.is_closed());

    let (tx, mut rx) = pipe::<u32>();
    let other = tx.clone();
    assert!(poll_once(tx.send(1)).is_ready());
    other.abort("gave up");
    assert_eq!(rx.try_recv().expect("what was sent first"), 1);
    assert!(matches!(
        rx.try_recv(),
        Err(TryRecvError::Broken(ChannelError::Aborted { reason, .. })) if reason == "gave up"
    ));
    assert!(matches!(
        poll_once(tx.send(2)).map_err(ChannelError::from),
        Poll::Ready(Err(ChannelError::Aborted { .. }))
    ));
}

#[test]
fn the_last_sender_dropped_in_a_panic_aborts_the_channel() {
    let (tx, mut rx) = pipe::<u32>();
    let keep = tx.clone();
    let _ = std::thread::spawn(move || {
        let _tx = tx;
        panic!("a producer crashes (this panic is part of the test)");
    })
    .join();
    assert!(!keep.is_closed(), "another sender still holds the channel");
    drop(keep);
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Closed)),
        "a clean end"
    );

    let (tx, mut rx) = pipe::<u32>();
    let _ = std::thread::spawn(move || {
        let _tx = tx;
        panic!("the last producer crashes (this panic is part of the test)");
    })
    .join();
    assert!(matches!(
        rx.try_recv(),
        Err(TryRecvError::Broken(ChannelError::Aborted { .. }))
    ));
}

// ---- credit of messages fed by a session ---------------------------------

/// Records every `consumed` call.
#[derive(Default)]
struct CreditLog(Mutex<Vec<(u64, usize)>>);

impl crate::transport::CreditSink for CreditLog {
    fn consumed(&self, stream: u64, bytes: usize) {
        self.0.lock().expect("lock").push((stream, bytes));
    }
}

impl CreditLog {
    fn calls(&self) -> Vec<(u64, usize)> {
        self.0.lock().expect("lock").clone()
    }
}

/// Feeds `msgs` to `tx`'s channel as one batch of stream 7, each message
/// holding `credit` bytes of window that go back to `log`.
fn feed_batch(
    tx: Sender<Num>,
    msgs: &[u32],
    log: &Arc<CreditLog>,
    credit: usize,
) -> crate::transport::Feed {
    use crate::transport::{CreditSink, ExportedSender, MessageBytes};
    let feed = ExportedSender::new(tx).into_feed();
    let encoded: Vec<[u8; 4]> = msgs.iter().map(|n| n.to_be_bytes()).collect();
    let mut batch = encoded
        .iter()
        .map(|bytes| (MessageBytes::Borrowed(bytes), credit));
    let sink: Arc<dyn CreditSink> = log.clone();
    feed.deliver_batch(&TestCodec, &sink, 7, &mut batch)
        .expect("delivered");
    feed
}

#[test]
fn a_fed_batch_returns_its_credit_once_its_last_message_is_consumed() {
    let (tx, mut rx) = pipe::<Num>();
    let log = Arc::new(CreditLog::default());
    let _feed = feed_batch(tx, &[1, 2, 3], &log, 4);
    assert_eq!(rx.try_recv().expect("first"), Num(1));
    assert_eq!(rx.try_recv().expect("second"), Num(2));
    assert!(log.calls().is_empty(), "the window returns with the last");
    assert_eq!(rx.try_recv().expect("third"), Num(3));
    assert_eq!(log.calls(), [(7, 12)], "one call for the whole batch");
}

#[test]
fn a_fed_batch_never_received_returns_its_credit_when_dropped() {
    let (tx, mut rx) = pipe::<Num>();
    let log = Arc::new(CreditLog::default());
    let _feed = feed_batch(tx, &[1, 2], &log, 4);
    assert_eq!(rx.try_recv().expect("first"), Num(1));
    drop(rx);
    assert_eq!(log.calls(), [(7, 8)]);
}

#[test]
fn a_merged_credit_token_stops_growing_past_64_kib() {
    let (tx, mut rx) = pipe::<Num>();
    let log = Arc::new(CreditLog::default());
    let _feed = feed_batch(tx, &[1, 2, 3], &log, 40_000);
    assert_eq!(rx.try_recv().expect("first"), Num(1));
    assert!(log.calls().is_empty());
    assert_eq!(rx.try_recv().expect("second"), Num(2));
    assert_eq!(log.calls(), [(7, 80_000)], "past 64 KiB a new token starts");
    assert_eq!(rx.try_recv().expect("third"), Num(3));
    assert_eq!(log.calls(), [(7, 80_000), (7, 40_000)]);
}

#[test]
fn a_message_that_fails_to_decode_returns_its_credit_at_once() {
    use crate::transport::{CreditSink, ExportedSender, MessageBytes};
    let (tx, mut rx) = pipe::<Num>();
    let log = Arc::new(CreditLog::default());
    let sink: Arc<dyn CreditSink> = log.clone();
    let feed = ExportedSender::new(tx).into_feed();
    let (one, two) = (1u32.to_be_bytes(), 2u32.to_be_bytes());
    let bad = [0u8; 3];
    let mut batch = [
        (MessageBytes::Borrowed(&one), 10),
        (MessageBytes::Borrowed(&two), 20),
        (MessageBytes::Borrowed(&bad), 30),
        (MessageBytes::Borrowed(&one), 40),
    ]
    .into_iter();
    let delivered = feed.deliver_batch(&TestCodec, &sink, 7, &mut batch);
    assert!(matches!(delivered, Err(ChannelError::Decode(_))));
    assert_eq!(log.calls(), [(7, 30)], "the bad message's credit, at once");
    assert_eq!(batch.len(), 1, "the message after it is left undecoded");
    assert_eq!(rx.try_recv().expect("first"), Num(1));
    assert_eq!(log.calls(), [(7, 30)]);
    assert_eq!(rx.try_recv().expect("second"), Num(2));
    assert_eq!(
        log.calls(),
        [(7, 30), (7, 30)],
        "the queued two, with the last"
    );
}
