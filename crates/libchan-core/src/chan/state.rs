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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use crate::error::{ChannelError, TryRecvError};
use crate::transport::{CreditToken, Sent, StreamSink};

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
    /// Senders waiting for a capacity slot, oldest first. A freed slot is
    /// handed to the oldest waiter that has none (`granted`), so waiters are
    /// served one per slot in arrival order and a newcomer cannot take a
    /// slot a waiter was woken for.
    send_waiters: VecDeque<Waiter>,
    next_waiter: u64,
    /// The local receiver called `close`: senders fail from now on, and
    /// what is queued can still be received.
    pub(crate) rx_closed: bool,
    /// The receiving end arrived in a message still being decoded: a
    /// handle dropped meanwhile may be handed out again (`nest::held`), so
    /// its drop is only noted, and acted on when the decode ends.
    import_hold: bool,
    /// The live receiver handle was dropped during `import_hold`.
    rx_dropped_in_hold: bool,
    /// A drain is encoding a message right now (outside the lock); only it
    /// may pop, so messages keep their order.
    pub(crate) pumping: bool,
    /// The drain has told its stream that the channel ended.
    pub(crate) finished: bool,
    /// `Sender::closed` callers, woken once sending can no longer succeed.
    closed_wakers: Vec<Waker>,
    /// Session feeds that must tell their peer at once when the consumer
    /// goes (a cancel on the wire). Weak: a feed that ended drops out.
    gone_watchers: Vec<Weak<dyn ConsumerGone>>,
}

/// A sender waiting for a capacity slot.
struct Waiter {
    id: u64,
    waker: Waker,
    /// A slot was freed for this waiter: it is counted in `held` already.
    granted: bool,
}

/// Told when a channel's consumer goes away (its receiver was dropped, or
/// the stream it drained onto was cancelled), outside the channel lock.
pub trait ConsumerGone: Send + Sync + 'static {
    /// The consumer is gone: nothing sent from now on can be delivered.
    fn consumer_gone(&self);
}

/// What to run after the consumer went away, outside the lock.
#[must_use]
pub(crate) struct Gone {
    closed: Vec<Waker>,
    watchers: Vec<Weak<dyn ConsumerGone>>,
    senders: Vec<Waker>,
}

impl Gone {
    pub(crate) fn run(self) {
        for w in self.closed {
            w.wake();
        }
        for w in self.senders {
            w.wake();
        }
        for watcher in self.watchers {
            if let Some(w) = watcher.upgrade() {
                w.consumer_gone();
            }
        }
    }
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
pub(crate) type SendOneFn<T> = fn(&dyn StreamSink, &T) -> Result<Sent, ChannelError>;

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
                send_waiters: VecDeque::new(),
                next_waiter: 0,
                rx_closed: false,
                import_hold: false,
                rx_dropped_in_hold: false,
                pumping: false,
                finished: false,
                closed_wakers: Vec::new(),
                gone_watchers: Vec::new(),
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
    /// this caller and leaves the channel usable; so is a parked message's
    /// ticket, which the caller awaits.
    ///
    /// `value` is taken (and dropped) only once the message is queued: on
    /// an error, or while a parked message's outcome is open, it stays, so
    /// that a failed send can hand it back.
    pub(crate) fn try_send_direct(
        self: &Arc<Self>,
        value: &mut Option<T>,
    ) -> Option<Result<Sent, ChannelError>> {
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
        let result = send_one(&*sink, value.as_ref()?);
        if matches!(result, Ok(Sent::Queued)) {
            drop(value.take());
        }
        let after = {
            let mut st = self.lock();
            st.pumping = false;
            match (&result, &st.consumer) {
                (Err(ChannelError::Encode(_) | ChannelError::Limit(_)), _) | (Ok(_), _)
                    if !st.queue.is_empty() =>
                {
                    st.after_push()
                }
                _ => Pushed::Done,
            }
        };
        match result {
            Ok(_) | Err(ChannelError::Encode(_) | ChannelError::Limit(_)) => {
                after.run(self);
                Some(result)
            }
            Err(dead) => {
                self.break_consumer(dead.clone());
                Some(Err(dead))
            }
        }
    }

    /// Why a local sender cannot send now, if it cannot: the sticky error,
    /// or `Closed` once the receiver is gone or closed.
    fn send_blocked(st: &State<T>) -> Option<ChannelError> {
        if let Some(e) = &st.error {
            return Some(e.clone());
        }
        if matches!(st.consumer, Consumer::Gone) || st.rx_closed {
            return Some(ChannelError::Closed);
        }
        None
    }

    /// Polls for one capacity slot for a local sender (counted in `held`
    /// once `Ready(Ok)`). Waiting senders are served in arrival order, one
    /// per freed slot; `waiter` keeps this caller's place across polls.
    pub(crate) fn poll_acquire(
        &self,
        cx: &mut Context<'_>,
        waiter: &mut Option<u64>,
    ) -> Poll<Result<(), ChannelError>> {
        let mut st = self.lock();
        if let Some(e) = Self::send_blocked(&st) {
            let pass_on = st.forget_sender(waiter);
            drop(st);
            wake(pass_on);
            return Poll::Ready(Err(e));
        }
        if st.acquire(cx.waker(), waiter, self.capacity) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Takes a capacity slot if one is free and nobody waits for one.
    pub(crate) fn try_acquire(&self) -> Result<bool, ChannelError> {
        let mut st = self.lock();
        if let Some(e) = Self::send_blocked(&st) {
            return Err(e);
        }
        if st.held < self.capacity && !st.has_ungranted_waiters() {
            st.held += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Queues `value` in a capacity slot the caller already holds (from
    /// `poll_acquire`/`try_acquire`). When the channel can no longer
    /// deliver, the value is handed back and the slot released.
    pub(crate) fn push_acquired(&self, value: T) -> Result<Pushed<T>, (T, ChannelError)> {
        let mut st = self.lock();
        if let Some(e) = Self::send_blocked(&st) {
            let pass_on = st.release_slot();
            drop(st);
            wake(pass_on);
            return Err((value, e));
        }
        st.queue.push_back(Slot {
            value,
            credit: None,
        });
        Ok(st.after_push())
    }

    /// Gives back a capacity slot taken and not used.
    pub(crate) fn release_acquired(&self) {
        let pass_on = self.lock().release_slot();
        wake(pass_on);
    }

    /// A waiting sender gave up its place (its future was dropped, or it
    /// sent another way); a slot it had been handed goes to the next one.
    pub(crate) fn forget_waiter(&self, waiter: &mut Option<u64>) {
        if waiter.is_none() {
            return;
        }
        let pass_on = self.lock().forget_sender(waiter);
        wake(pass_on);
    }

    /// Enqueues a value that arrived from a session, bypassing the capacity
    /// (the credit window it was granted bounds it instead).
    pub(crate) fn push_fed(
        &self,
        value: T,
        credit: CreditToken,
    ) -> Result<Pushed<T>, ChannelError> {
        let mut st = self.lock();
        if matches!(st.consumer, Consumer::Gone) || st.rx_closed {
            return Err(st.error.clone().unwrap_or(ChannelError::Closed));
        }
        st.queue.push_back(Slot {
            value,
            credit: Some(credit),
        });
        Ok(st.after_push())
    }

    /// Polls the local receiver for up to `limit` messages (at least one
    /// unless `limit` is 0), appended to `out`. `Ok(0)` is the clean end.
    pub(crate) fn poll_recv_many(
        &self,
        cx: &mut Context<'_>,
        gen: u64,
        out: &mut Vec<T>,
        limit: usize,
    ) -> Poll<Result<usize, ChannelError>> {
        if limit == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut st = self.lock();
        if st.rx_gen != gen {
            // This handle was sent away; its successor receives.
            return Poll::Ready(Err(ChannelError::Closed));
        }
        if !st.queue.is_empty() {
            let n = limit.min(st.queue.len());
            let mut taken = Vec::with_capacity(n);
            let mut wakers = Vec::new();
            for _ in 0..n {
                let Some(slot) = st.queue.pop_front() else {
                    break;
                };
                wakers.extend(st.release(&slot));
                taken.push(slot);
            }
            drop(st);
            for w in wakers {
                w.wake();
            }
            // Credit tokens return the peer's window as each slot is
            // unpacked, outside the channel lock.
            out.extend(taken.into_iter().map(|slot| slot.value));
            return Poll::Ready(Ok(n));
        }
        match st.end_for_receiver() {
            Some(end) => Poll::Ready(end.map(|()| 0)),
            None => {
                st.register_receiver(cx.waker());
                Poll::Pending
            }
        }
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
            let pass_on = st.release(&slot);
            drop(st);
            wake(pass_on);
            // The credit token returns the peer's window when dropped, here,
            // outside the channel lock.
            return Poll::Ready(Ok(Some(slot.value)));
        }
        match st.end_for_receiver() {
            Some(end) => Poll::Ready(end.map(|()| None)),
            None => {
                st.register_receiver(cx.waker());
                Poll::Pending
            }
        }
    }

    /// The next message if one is queued, without waiting.
    pub(crate) fn try_recv(&self, gen: u64) -> Result<T, TryRecvError> {
        let mut st = self.lock();
        if st.rx_gen != gen {
            return Err(TryRecvError::Broken(ChannelError::Closed));
        }
        if let Some(slot) = st.queue.pop_front() {
            let pass_on = st.release(&slot);
            drop(st);
            wake(pass_on);
            return Ok(slot.value);
        }
        match st.end_for_receiver() {
            Some(Ok(())) => Err(TryRecvError::Closed),
            Some(Err(e)) => Err(TryRecvError::Broken(e)),
            None => Err(TryRecvError::Empty),
        }
    }

    /// One more producer (a cloned `Sender` or a session feed).
    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    /// A producer went away; the last one closes the channel. The last one
    /// dropped while its thread panics breaks it instead: a crashed producer
    /// must not read as a finished stream.
    pub(crate) fn drop_sender(&self, panicking: bool) -> Pushed<T> {
        let mut st = self.lock();
        st.senders = st.senders.saturating_sub(1);
        if st.senders > 0 {
            return Pushed::Done;
        }
        if panicking && st.error.is_none() {
            st.error = Some(ChannelError::Aborted {
                initiator: crate::Initiator::Local,
                reason: PANICKED.into(),
            });
        }
        st.after_push()
    }

    /// The local receiver went away: drop what is queued, fail the senders,
    /// and tell the sessions feeding the channel.
    pub(crate) fn drop_receiver(&self, gen: u64) {
        let mut st = self.lock();
        if st.rx_gen == gen && st.import_hold {
            // Maybe handed out again by the decode under way; see
            // `end_import_hold`.
            st.rx_dropped_in_hold = true;
            return;
        }
        if st.rx_gen != gen || !matches!(st.consumer, Consumer::Local) {
            // Exported: the receiving end lives on in a session.
            return;
        }
        let queue = std::mem::take(&mut st.queue);
        let gone = st.consumer_gone();
        drop(st);
        drop(queue);
        gone.run();
    }

    /// The receiver was just built for an end that arrived in a message
    /// being decoded; see `import_hold`.
    pub(crate) fn begin_import_hold(&self) {
        let mut st = self.lock();
        st.import_hold = true;
        st.rx_dropped_in_hold = false;
    }

    /// True, and the hold renewed for a new handle, if the receiver handed
    /// out during this decode was dropped (so it may be handed out again).
    pub(crate) fn take_again(&self) -> bool {
        let mut st = self.lock();
        std::mem::take(&mut st.rx_dropped_in_hold)
    }

    /// The decode is over: a receiver dropped during it is dropped for real.
    pub(crate) fn end_import_hold(&self) {
        let gen = {
            let mut st = self.lock();
            st.import_hold = false;
            if !std::mem::take(&mut st.rx_dropped_in_hold) {
                return;
            }
            st.rx_gen
        };
        self.drop_receiver(gen);
    }

    /// The local receiver closed its end (`Receiver::close`): senders fail
    /// from now on and sessions feeding the channel cancel their streams,
    /// while what is queued stays receivable.
    pub(crate) fn close_receiver(&self, gen: u64) {
        let mut st = self.lock();
        if st.rx_gen != gen || st.rx_closed || !matches!(st.consumer, Consumer::Local) {
            return;
        }
        st.rx_closed = true;
        let gone = Gone {
            closed: std::mem::take(&mut st.closed_wakers),
            watchers: std::mem::take(&mut st.gone_watchers),
            senders: st.send_waiters.drain(..).map(|w| w.waker).collect(),
        };
        drop(st);
        gone.run();
    }

    /// A producer broke (its session was lost, its stream reset) or aborted.
    /// What is queued is still delivered; then the consumer sees `err`.
    pub(crate) fn break_producer(&self, err: ChannelError) -> Pushed<T> {
        let mut st = self.lock();
        if st.error.is_none() {
            st.error = Some(err);
        }
        let wake: Vec<Waker> = st.send_waiters.drain(..).map(|w| w.waker).collect();
        let closed = std::mem::take(&mut st.closed_wakers);
        let pushed = st.after_push();
        drop(st);
        for w in wake.into_iter().chain(closed) {
            w.wake();
        }
        pushed
    }

    /// The consumer broke (the drain's stream was cancelled or its session
    /// lost): queued messages are dropped and senders see `err`.
    pub(crate) fn break_consumer(&self, err: ChannelError) {
        let mut st = self.lock();
        if st.error.is_none() {
            st.error = Some(err);
        }
        let queue = std::mem::take(&mut st.queue);
        let gone = st.consumer_gone();
        drop(st);
        drop(queue);
        gone.run();
    }

    /// Polls until sending can no longer succeed (see `Sender::closed`).
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.is_closed() {
            return Poll::Ready(());
        }
        if !st.closed_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.closed_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Registers a session feed to be told when the consumer goes; tells it
    /// at once if it already has.
    pub(crate) fn watch_consumer(&self, watcher: Weak<dyn ConsumerGone>) {
        let mut st = self.lock();
        if matches!(st.consumer, Consumer::Gone) || st.rx_closed {
            drop(st);
            if let Some(w) = watcher.upgrade() {
                w.consumer_gone();
            }
            return;
        }
        let n = st.gone_watchers.len();
        if n >= 16 && n.is_power_of_two() {
            // Feeds that ended drop out, so the list stays proportional to
            // the live ones.
            st.gone_watchers.retain(|w| w.strong_count() > 0);
        }
        st.gone_watchers.push(watcher);
    }
}

/// The reason a channel breaks when its last sender is dropped while the
/// sender's thread is panicking.
pub(crate) const PANICKED: &str = "the last sender was dropped while its thread was panicking";

impl<T> State<T> {
    /// True once sending can no longer succeed.
    pub(crate) fn is_closed(&self) -> bool {
        self.error.is_some() || matches!(self.consumer, Consumer::Gone) || self.rx_closed
    }

    /// With the queue empty: how the receiver's stream ends, if it has
    /// (`Ok` a clean end, `Err` a break), or `None` while more may come.
    fn end_for_receiver(&self) -> Option<Result<(), ChannelError>> {
        if let Some(e) = &self.error {
            return Some(Err(e.clone()));
        }
        if self.senders == 0 || self.rx_closed {
            return Some(Ok(()));
        }
        None
    }

    fn register_receiver(&mut self, waker: &Waker) {
        match &self.rx_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.rx_waker = Some(waker.clone()),
        }
    }

    /// Marks the consumer gone; returns whom to tell, outside the lock.
    fn consumer_gone(&mut self) -> Gone {
        self.consumer = Consumer::Gone;
        self.held = 0;
        Gone {
            closed: std::mem::take(&mut self.closed_wakers),
            watchers: std::mem::take(&mut self.gone_watchers),
            senders: self.send_waiters.drain(..).map(|w| w.waker).collect(),
        }
    }

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

    /// Frees the capacity slot a popped message held; returns the waiting
    /// sender the slot was handed to, to wake outside the lock.
    pub(crate) fn release(&mut self, slot: &Slot<T>) -> Option<Waker> {
        if slot.credit.is_none() {
            self.release_slot()
        } else {
            None
        }
    }

    /// One capacity slot is free: it goes to the oldest waiter without one
    /// (returned, to wake), or back to the pool.
    fn release_slot(&mut self) -> Option<Waker> {
        match self.send_waiters.iter_mut().find(|w| !w.granted) {
            Some(w) => {
                w.granted = true;
                Some(w.waker.clone())
            }
            None => {
                self.held = self.held.saturating_sub(1);
                None
            }
        }
    }

    fn has_ungranted_waiters(&self) -> bool {
        self.send_waiters.iter().any(|w| !w.granted)
    }

    /// Takes a slot for the sender whose place is `waiter`: the one handed
    /// to it, or a free one if nobody waits ahead of it. Otherwise keeps
    /// (or takes) its place in line and returns false.
    fn acquire(&mut self, waker: &Waker, waiter: &mut Option<u64>, capacity: usize) -> bool {
        if let Some(id) = *waiter {
            if let Some(pos) = self.send_waiters.iter().position(|w| w.id == id) {
                if self.send_waiters[pos].granted {
                    self.send_waiters.remove(pos);
                    *waiter = None;
                    return true;
                }
                let entry = &mut self.send_waiters[pos];
                if !entry.waker.will_wake(waker) {
                    entry.waker = waker.clone();
                }
                return false;
            }
            // Our place was cleared (every waiter was woken): start again.
            *waiter = None;
        }
        if self.held < capacity && !self.has_ungranted_waiters() {
            self.held += 1;
            return true;
        }
        let id = self.next_waiter;
        self.next_waiter = self.next_waiter.wrapping_add(1);
        *waiter = Some(id);
        self.send_waiters.push_back(Waiter {
            id,
            waker: waker.clone(),
            granted: false,
        });
        false
    }

    #[cfg(test)]
    pub(crate) fn send_waiters_len(&self) -> usize {
        self.send_waiters.len()
    }

    /// Removes the sender whose place is `waiter` from the line; a slot it
    /// had been handed goes to the next waiter (returned, to wake).
    fn forget_sender(&mut self, waiter: &mut Option<u64>) -> Option<Waker> {
        let id = waiter.take()?;
        let pos = self.send_waiters.iter().position(|w| w.id == id)?;
        let gone = self.send_waiters.remove(pos)?;
        if gone.granted {
            self.release_slot()
        } else {
            None
        }
    }
}

pub(crate) fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}
