//! Producing: a local send (straight onto a drain, or into the queue), the
//! capacity waiters, and what a session feed delivers.

use super::*;

impl<T> Chan<T> {
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
        let route = Self::direct_route(&mut self.lock(), value)?;
        Some(self.send_direct(route, value))
    }

    /// One step of a `send`, under one lock when the message goes through
    /// the queue: straight onto the drain's stream when it can take it now
    /// (`Ok(Some)`, as [`try_send_direct`](Self::try_send_direct)),
    /// otherwise a capacity slot taken and the value queued in the same
    /// critical section (`Ok(None)`, the consumer woken or pumped), or a
    /// place in line for a slot (`Pending`). On an error the value stays
    /// in `value`, to hand back.
    pub(crate) fn poll_send(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        value: &mut Option<T>,
        waiter: &mut Option<u64>,
    ) -> Poll<Result<Option<Sent>, ChannelError>> {
        if value.is_none() {
            // Polled again after it completed.
            return Poll::Ready(Ok(None));
        }
        let mut st = self.lock();
        if let Some(route) = Self::direct_route(&mut st, value) {
            drop(st);
            let sent = self.send_direct(route, value);
            self.forget_waiter(waiter);
            return Poll::Ready(sent.map(Some));
        }
        let mut handed = Vec::new();
        let acquired = self.acquire_in(st, cx, waiter, &mut handed);
        let mut st = match acquired {
            Poll::Ready(Ok(st)) => st,
            other => {
                wake_all(handed);
                return other.map_ok(|_| None);
            }
        };
        st.queue.extend(value.take().map(|value| Slot {
            value,
            credit: None,
        }));
        let pushed = st.after_push();
        drop(st);
        wake_all(handed);
        pushed.run(self);
        Poll::Ready(Ok(None))
    }

    /// The drain's stream and encoder when `value` can go straight onto
    /// it: nothing queued or being sent ahead of it, and credit now. Marks
    /// the channel as pumping, so nothing overtakes it meanwhile.
    fn direct_route(
        st: &mut State<T>,
        value: &Option<T>,
    ) -> Option<(Arc<dyn StreamSink>, SendOneFn<T>)> {
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
        Some(parts)
    }

    /// Encodes `value` onto the stream `direct_route` chose, then lets
    /// anything queued meanwhile follow it.
    fn send_direct(
        self: &Arc<Self>,
        (sink, send_one): (Arc<dyn StreamSink>, SendOneFn<T>),
        value: &mut Option<T>,
    ) -> Result<Sent, ChannelError> {
        let result = match value.as_ref() {
            Some(v) => send_one(&*sink, v),
            None => Ok(Sent::Queued),
        };
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
                result
            }
            Err(dead) => {
                self.break_consumer(dead.clone());
                Err(dead)
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
        let mut handed = Vec::new();
        let acquired = self
            .acquire_in(self.lock(), cx, waiter, &mut handed)
            .map_ok(drop);
        wake_all(handed);
        acquired
    }

    /// [`poll_acquire`](Self::poll_acquire) under a lock the caller already
    /// holds, which it gets back with the slot, to queue in the same
    /// critical section. Waiters handed a slot on the way (see
    /// `State::acquire`) are added to `handed`, for the caller to wake once
    /// it let go of the lock.
    fn acquire_in<'a>(
        &self,
        mut st: MutexGuard<'a, State<T>>,
        cx: &mut Context<'_>,
        waiter: &mut Option<u64>,
        handed: &mut Vec<Waker>,
    ) -> Poll<Result<MutexGuard<'a, State<T>>, ChannelError>> {
        if let Some(e) = Self::send_blocked(&st) {
            handed.extend(st.forget_sender(waiter));
            return Poll::Ready(Err(e));
        }
        if st.acquire(cx.waker(), waiter, self.capacity, &self.freed, handed) {
            Poll::Ready(Ok(st))
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
        let mut handed = Vec::new();
        if !st.slot_free(self.capacity) {
            // Maybe the receiver freed some since.
            st.absorb(&self.freed, &mut handed);
        }
        let free = st.slot_free(self.capacity);
        if free {
            st.held += 1;
        }
        drop(st);
        wake_all(handed);
        Ok(free)
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

    /// Enqueues values that arrived from a session, in order, bypassing the
    /// capacity (the credit window they were granted bounds them instead):
    /// one lock and one wake-up (or pump) for the whole batch.
    pub(crate) fn push_fed(
        &self,
        values: impl IntoIterator<Item = (T, CreditToken)>,
    ) -> Result<Pushed<T>, ChannelError> {
        let mut st = self.lock();
        if let Some(e) = &st.error {
            // Broken: the consumer sees the error after what is queued, and
            // nothing may come after it.
            return Err(e.clone());
        }
        if matches!(st.consumer, Consumer::Gone) || st.rx_closed {
            return Err(ChannelError::Closed);
        }
        st.queue
            .extend(values.into_iter().map(|(value, credit)| Slot {
                value,
                credit: Some(credit),
            }));
        Ok(st.after_push())
    }
}
