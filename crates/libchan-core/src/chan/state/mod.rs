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
//!
//! A local receiver takes the whole queue at once into its batch
//! ([`RxSide`]), under a lock of its own, and hands the batch out without
//! touching the channel lock again; the capacity slots it frees on the way
//! are counted in an atomic ([`Freed`]) that the senders fold into `held`
//! when they run out. So the receiver takes the channel lock once per batch,
//! not once per message, and the bound stays `capacity` messages queued or
//! batched. (Padding these parts onto cache lines of their own measured
//! slower: a fresh channel per request then costs an aligned allocation.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use crate::error::{ChannelError, TryRecvError};
use crate::transport::{CreditToken, Sent, StreamSink};

mod ends;
mod recv;
mod send;

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

/// The local receiver's own part of the channel: what it took from the
/// queue and has not handed out yet. Always older than everything in the
/// queue. Lock order: this lock, then the channel lock; nothing is dropped
/// while it is held (a dropped value or credit token may reach a session,
/// which may rebuild a receiver and take this lock).
pub(crate) struct RxSide<T> {
    pub(crate) batch: VecDeque<Slot<T>>,
    /// Which `Receiver` handle is the live one: a handle rebuilt after an
    /// export (in-memory transports) supersedes the one inside the message.
    pub(crate) gen: u64,
}

/// Capacity slots freed outside the channel lock.
pub(crate) struct Freed {
    /// Slots the receiver freed from its batch that `held` does not count
    /// off yet; folded into `held` ([`State::absorb`]) under the lock.
    released: AtomicUsize,
    /// A sender may wait for a slot: the receiver must take the lock to
    /// hand over the slots it frees. A sender sets it (under the lock)
    /// before it last looks at `released`, and the receiver adds to
    /// `released` before it looks at this flag, so one of the two always
    /// sees the other (both `SeqCst`). Cleared, under the lock, only when no
    /// waiter lacks a slot; a stale `true` only costs a lock.
    waiting: AtomicBool,
}

pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
    rx: Mutex<RxSide<T>>,
    freed: Freed,
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
            rx: Mutex::new(RxSide {
                batch: VecDeque::new(),
                gen: 0,
            }),
            freed: Freed {
                released: AtomicUsize::new(0),
                waiting: AtomicBool::new(false),
            },
            capacity: capacity.max(1),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent before it can
        // panic (user code never runs under this lock), so a poisoned lock
        // still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The receiver's side; take it before the channel lock, never after.
    pub(crate) fn lock_rx(&self) -> MutexGuard<'_, RxSide<T>> {
        // As for `lock`: nothing under this lock can panic half-way.
        self.rx.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The receiver's side and the channel state, in lock order.
    pub(crate) fn lock_both(&self) -> (MutexGuard<'_, RxSide<T>>, MutexGuard<'_, State<T>>) {
        let rx = self.lock_rx();
        (rx, self.lock())
    }

    /// The receiver handed out `n` messages from its batch that held
    /// capacity slots: frees them, through the lock only if a sender may
    /// be waiting for one.
    pub(crate) fn free_slots(&self, n: usize) {
        if n == 0 {
            return;
        }
        let freed = &self.freed;
        freed.released.fetch_add(n, Ordering::SeqCst);
        if !freed.waiting.load(Ordering::SeqCst) {
            return;
        }
        let mut wake = Vec::new();
        let mut st = self.lock();
        st.absorb(freed, &mut wake);
        if !st.has_ungranted_waiters() {
            freed.waiting.store(false, Ordering::SeqCst);
        }
        drop(st);
        wake_all(wake);
    }
}

impl<T> RxSide<T> {
    /// Puts the batch back at the front of the queue, for a consumer other
    /// than the local receiver (an export) to find it there, in order.
    pub(crate) fn return_batch(&mut self, st: &mut State<T>) {
        while let Some(slot) = self.batch.pop_back() {
            st.queue.push_front(slot);
        }
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

    /// A slot is free for a newcomer: under capacity, and nobody waits.
    fn slot_free(&self, capacity: usize) -> bool {
        self.held < capacity && !self.has_ungranted_waiters()
    }

    /// Folds the slots the receiver freed outside the lock into `held`,
    /// each handed to the oldest waiter without one first, as
    /// [`release_slot`](Self::release_slot) does; the waiters to wake are
    /// added to `wake`.
    fn absorb(&mut self, freed: &Freed, wake: &mut Vec<Waker>) {
        let mut n = freed.released.swap(0, Ordering::SeqCst);
        while n > 0 && self.has_ungranted_waiters() {
            wake.extend(self.release_slot());
            n -= 1;
        }
        self.held = self.held.saturating_sub(n);
    }

    /// Takes a slot for the sender whose place is `waiter`: the one handed
    /// to it, or a free one if nobody waits ahead of it. Otherwise keeps
    /// (or takes) its place in line and returns false. Slots the receiver
    /// freed meanwhile are folded in first; waiters they were handed to are
    /// added to `wake`.
    fn acquire(
        &mut self,
        waker: &Waker,
        waiter: &mut Option<u64>,
        capacity: usize,
        freed: &Freed,
        wake: &mut Vec<Waker>,
    ) -> bool {
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
        if !self.slot_free(capacity) {
            // Announce the wait before the last look at what the receiver
            // freed; see `Freed::waiting`.
            freed.waiting.store(true, Ordering::SeqCst);
            self.absorb(freed, wake);
            if !self.slot_free(capacity) {
                self.wait_in_line(waker, waiter);
                return false;
            }
            // Nobody lacks a slot after all.
            freed.waiting.store(false, Ordering::SeqCst);
        }
        self.held += 1;
        true
    }

    /// Takes a place at the back of the line for a slot.
    fn wait_in_line(&mut self, waker: &Waker, waiter: &mut Option<u64>) {
        let id = self.next_waiter;
        self.next_waiter = self.next_waiter.wrapping_add(1);
        *waiter = Some(id);
        self.send_waiters.push_back(Waiter {
            id,
            waker: waker.clone(),
            granted: false,
        });
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

pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}
