//! The shared state behind a channel: one bounded queue, whoever feeds it and
//! whoever consumes it.
//!
//! A channel is always this one structure, wherever its ends are:
//!
//! ```text
//!   producers                       queue                    consumer
//!   ─────────                       ─────                    ────────
//!   local Sender handles ─┐                                ┌─ local Receiver (recv)
//!                         ├──▶ [slot, slot, slot, ...] ──▶─┤
//!   session feeds ────────┘                                └─ a session drain (encodes
//!   (decoded from the wire,                                   each slot onto a stream
//!    carrying a credit token)                                 as credit allows)
//! ```
//!
//! Local senders are bounded by the channel's capacity; session feeds are
//! bounded by the credit window they granted their peer, so neither can grow
//! memory without bound. Nothing here spawns a task: a drain is pumped by the
//! task that pushed (a `send`) or by the session when credit returns.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::ChannelError;
use crate::transport::{CreditToken, StreamSink};

/// One queued message and, when it came off the wire, the credit to return
/// to the peer once it is consumed.
pub(crate) struct Slot<T> {
    pub(crate) value: T,
    /// `None` for a value from a local `Sender` (it holds a capacity slot).
    pub(crate) credit: Option<CreditToken>,
}

/// Who takes messages out of the queue.
pub(crate) enum Consumer<T> {
    /// A `Receiver` in this process.
    Local,
    /// The `Receiver` is being serialized into a message; a session will
    /// attach a drain when the message is committed.
    Exporting,
    /// A session encodes queued messages onto one of its streams; `pump`
    /// is the encoder for `T`, chosen where `T: Payload` was known.
    Drain {
        sink: Arc<dyn StreamSink>,
        pump: PumpFn<T>,
        send_one: SendOneFn<T>,
    },
    /// Nobody: the receiver was dropped or its stream was cancelled.
    Gone,
}

pub(crate) struct State<T> {
    pub(crate) queue: VecDeque<Slot<T>>,
    /// Queued values that occupy a capacity slot (sent by local handles).
    pub(crate) held: usize,
    /// Live `Sender` handles plus session feeds. Zero means closed.
    pub(crate) senders: usize,
    pub(crate) consumer: Consumer<T>,
    /// A sticky failure: reported to the consumer after the queue drains and
    /// to every later `send`.
    pub(crate) error: Option<ChannelError>,
    pub(crate) rx_waker: Option<Waker>,
    /// Which `Receiver` handle is the live one: a handle rebuilt after an
    /// export (in-memory transports) supersedes the one inside the message.
    pub(crate) rx_gen: u64,
    send_waiters: Vec<(u64, Waker)>,
    next_waiter: u64,
    /// A drain is encoding a message right now (outside the lock); only it
    /// may pop, so messages keep their order.
    pub(crate) pumping: bool,
    /// The drain has told its stream that the channel ended.
    pub(crate) finished: bool,
}

/// What the producer must do after a push, outside the lock.
#[must_use]
pub(crate) enum Pushed<T> {
    /// Nothing more to do.
    Done,
    /// The local receiver is waiting: wake it.
    Wake(Waker),
    /// The consumer is a drain: pump it.
    Pump(PumpFn<T>),
}

impl<T> Pushed<T> {
    /// Wakes or pumps the consumer, if due. Call without holding the
    /// channel lock, so the woken task does not find it taken.
    pub(crate) fn run(self, chan: &Arc<Chan<T>>) {
        match self {
            Pushed::Done => {}
            Pushed::Wake(waker) => waker.wake(),
            Pushed::Pump(pump) => pump(chan),
        }
    }
}

/// Moves queued messages of a drained channel onto its stream.
pub(crate) type PumpFn<T> = fn(&Arc<Chan<T>>);

/// Encodes one message straight onto a drain's stream.
pub(crate) type SendOneFn<T> = fn(&dyn StreamSink, &T) -> Result<(), ChannelError>;

pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
    pub(crate) capacity: usize,
}

impl<T> Chan<T> {
    pub(crate) fn new(capacity: usize, senders: usize, consumer: Consumer<T>) -> Arc<Self> {
        Arc::new(Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                held: 0,
                senders,
                consumer,
                error: None,
                rx_waker: None,
                rx_gen: 0,
                send_waiters: Vec::new(),
                next_waiter: 0,
                pumping: false,
                finished: false,
            }),
            capacity: capacity.max(1),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent before it can
        // panic (user code never runs under this lock), so a poisoned lock
        // still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `value` straight onto the drain's stream, skipping the queue,
    /// when nothing is queued or being sent ahead of it and the stream can
    /// take a message now. `None` (with `value` untouched) when the queue
    /// must be used. An error from encoding or a size limit is returned to
    /// this caller and leaves the channel usable.
    pub(crate) fn try_send_direct(
        self: &Arc<Self>,
        value: &mut Option<T>,
    ) -> Option<Result<(), ChannelError>> {
        let (sink, send_one) = {
            let mut st = self.lock();
            let Consumer::Drain { sink, send_one, .. } = &st.consumer else {
                return None;
            };
            if value.is_none()
                || st.error.is_some()
                || st.pumping
                || !st.queue.is_empty()
                || !sink.has_credit()
            {
                return None;
            }
            let parts = (sink.clone(), *send_one);
            st.pumping = true;
            parts
        };
        let value = value.take()?;
        let result = send_one(&*sink, &value);
        drop(value);
        let after = {
            let mut st = self.lock();
            st.pumping = false;
            match (&result, &st.consumer) {
                (Err(ChannelError::Encode(_) | ChannelError::Limit(_)), _) | (Ok(()), _)
                    if !st.queue.is_empty() =>
                {
                    st.after_push()
                }
                _ => Pushed::Done,
            }
        };
        match result {
            Ok(()) | Err(ChannelError::Encode(_) | ChannelError::Limit(_)) => {
                after.run(self);
                Some(result)
            }
            Err(dead) => {
                self.break_consumer(dead.clone());
                Some(Err(dead))
            }
        }
    }

    /// Polls to enqueue `value` from a local sender, waiting for capacity.
    ///
    /// `value` is taken only on success; `waiter` keeps this caller's place
    /// among the waiting senders across polls.
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        value: &mut Option<T>,
        waiter: &mut Option<u64>,
    ) -> Poll<Result<Pushed<T>, ChannelError>> {
        let mut st = self.lock();
        if let Some(e) = &st.error {
            return Poll::Ready(Err(e.clone()));
        }
        if matches!(st.consumer, Consumer::Gone) {
            return Poll::Ready(Err(ChannelError::Closed));
        }
        if st.held >= self.capacity {
            st.register_sender(cx.waker(), waiter);
            return Poll::Pending;
        }
        st.forget_sender(waiter);
        let Some(value) = value.take() else {
            // Polled again after completing: nothing left to send.
            return Poll::Ready(Ok(Pushed::Done));
        };
        st.held += 1;
        st.queue.push_back(Slot {
            value,
            credit: None,
        });
        Poll::Ready(Ok(st.after_push()))
    }

    /// Enqueues a value that arrived from a session, bypassing the capacity
    /// (the credit window it was granted bounds it instead).
    pub(crate) fn push_fed(
        &self,
        value: T,
        credit: CreditToken,
    ) -> Result<Pushed<T>, ChannelError> {
        let mut st = self.lock();
        if matches!(st.consumer, Consumer::Gone) {
            return Err(st.error.clone().unwrap_or(ChannelError::Closed));
        }
        st.queue.push_back(Slot {
            value,
            credit: Some(credit),
        });
        Ok(st.after_push())
    }

    /// Polls the local receiver for the next message.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        gen: u64,
    ) -> Poll<Result<Option<T>, ChannelError>> {
        let mut st = self.lock();
        if st.rx_gen != gen {
            // This handle was sent away; its successor receives.
            return Poll::Ready(Err(ChannelError::Closed));
        }
        if let Some(slot) = st.queue.pop_front() {
            let wake = st.release(&slot);
            drop(st);
            wake_all(wake);
            // The credit token returns the peer's window when dropped, here,
            // outside the channel lock.
            return Poll::Ready(Ok(Some(slot.value)));
        }
        if let Some(e) = &st.error {
            return Poll::Ready(Err(e.clone()));
        }
        if st.senders == 0 {
            return Poll::Ready(Ok(None));
        }
        match &st.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// One more producer (a cloned `Sender` or a session feed).
    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    /// A producer went away; the last one closes the channel.
    pub(crate) fn drop_sender(&self) -> Pushed<T> {
        let mut st = self.lock();
        st.senders = st.senders.saturating_sub(1);
        if st.senders > 0 {
            return Pushed::Done;
        }
        st.after_push()
    }

    /// The local receiver went away: drop what is queued, fail the senders.
    pub(crate) fn drop_receiver(&self, gen: u64) {
        let mut st = self.lock();
        if st.rx_gen != gen || !matches!(st.consumer, Consumer::Local) {
            // Exported: the receiving end lives on in a session.
            return;
        }
        st.consumer = Consumer::Gone;
        let queue = std::mem::take(&mut st.queue);
        st.held = 0;
        let wake = std::mem::take(&mut st.send_waiters);
        drop(st);
        drop(queue);
        wake_all(wake);
    }

    /// A producer broke (its session was lost, its stream reset). What is
    /// queued is still delivered; then the consumer sees `err`.
    pub(crate) fn break_producer(&self, err: ChannelError) -> Pushed<T> {
        let mut st = self.lock();
        if st.error.is_none() {
            st.error = Some(err);
        }
        let wake = std::mem::take(&mut st.send_waiters);
        let pushed = st.after_push();
        drop(st);
        wake_all(wake);
        pushed
    }

    /// The consumer broke (the drain's stream was cancelled or its session
    /// lost): queued messages are dropped and senders see `err`.
    pub(crate) fn break_consumer(&self, err: ChannelError) {
        let mut st = self.lock();
        st.consumer = Consumer::Gone;
        if st.error.is_none() {
            st.error = Some(err);
        }
        let queue = std::mem::take(&mut st.queue);
        st.held = 0;
        let wake = std::mem::take(&mut st.send_waiters);
        drop(st);
        drop(queue);
        wake_all(wake);
    }
}

impl<T> State<T> {
    /// Wakes or pumps the consumer after something changed for it.
    fn after_push(&mut self) -> Pushed<T> {
        match &self.consumer {
            Consumer::Local => match self.rx_waker.take() {
                Some(w) => Pushed::Wake(w),
                None => Pushed::Done,
            },
            Consumer::Drain { pump, .. } => Pushed::Pump(*pump),
            Consumer::Exporting | Consumer::Gone => Pushed::Done,
        }
    }

    /// Frees the capacity slot a popped message held; returns the senders to wake.
    pub(crate) fn release(&mut self, slot: &Slot<T>) -> Vec<(u64, Waker)> {
        if slot.credit.is_none() {
            self.held = self.held.saturating_sub(1);
            if !self.send_waiters.is_empty() {
                return std::mem::take(&mut self.send_waiters);
            }
        }
        Vec::new()
    }

    fn register_sender(&mut self, waker: &Waker, waiter: &mut Option<u64>) {
        if let Some(id) = *waiter {
            if let Some(entry) = self.send_waiters.iter_mut().find(|(i, _)| *i == id) {
                if !entry.1.will_wake(waker) {
                    entry.1 = waker.clone();
                }
                return;
            }
        }
        let id = self.next_waiter;
        self.next_waiter = self.next_waiter.wrapping_add(1);
        *waiter = Some(id);
        self.send_waiters.push((id, waker.clone()));
    }

    #[cfg(test)]
    pub(crate) fn send_waiters_len(&self) -> usize {
        self.send_waiters.len()
    }

    pub(crate) fn forget_sender(&mut self, waiter: &mut Option<u64>) {
        if let Some(id) = waiter.take() {
            self.send_waiters.retain(|(i, _)| *i != id);
        }
    }
}

pub(crate) fn wake_all(wakers: Vec<(u64, Waker)>) {
    for (_, w) in wakers {
        w.wake();
    }
}
