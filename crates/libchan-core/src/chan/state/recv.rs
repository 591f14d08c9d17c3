//! Consuming from a local receiver: its batch first, refilled with the
//! whole queue under one channel lock when it runs out.

use super::*;

impl<T> Chan<T> {
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
        let mut rx = self.lock_rx();
        if rx.gen != gen {
            // This handle was sent away; its successor receives.
            return Poll::Ready(Err(ChannelError::Closed));
        }
        if rx.batch.len() < limit {
            // Whatever is queued, up to `limit`.
            let mut st = self.lock();
            if rx.batch.is_empty() {
                std::mem::swap(&mut rx.batch, &mut st.queue);
            } else {
                let more = (limit - rx.batch.len()).min(st.queue.len());
                rx.batch.extend(st.queue.drain(..more));
            }
            if rx.batch.is_empty() {
                drop(rx);
                return Self::nothing_queued(st, cx, 0);
            }
        }
        let n = limit.min(rx.batch.len());
        let taken: Vec<Slot<T>> = rx.batch.drain(..n).collect();
        drop(rx);
        self.free_slots(taken.iter().filter(|slot| slot.credit.is_none()).count());
        // Credit tokens return the peer's window as each slot is unpacked,
        // outside both locks.
        out.extend(taken.into_iter().map(|slot| slot.value));
        Poll::Ready(Ok(n))
    }

    /// Polls the local receiver for the next message.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        gen: u64,
    ) -> Poll<Result<Option<T>, ChannelError>> {
        match self.next_slot(gen) {
            Ok(slot) => Poll::Ready(Ok(Some(self.hand_out(slot)))),
            Err(Next::Stale) => Poll::Ready(Err(ChannelError::Closed)),
            Err(Next::Empty(st)) => Self::nothing_queued(st, cx, None),
        }
    }

    /// The next message if one is queued, without waiting.
    pub(crate) fn try_recv(&self, gen: u64) -> Result<T, TryRecvError> {
        match self.next_slot(gen) {
            Ok(slot) => Ok(self.hand_out(slot)),
            Err(Next::Stale) => Err(TryRecvError::Broken(ChannelError::Closed)),
            Err(Next::Empty(st)) => match st.end_for_receiver() {
                Some(Ok(())) => Err(TryRecvError::Closed),
                Some(Err(e)) => Err(TryRecvError::Broken(e)),
                None => Err(TryRecvError::Empty),
            },
        }
    }

    /// Messages queued and not yet received, in the batch or the queue.
    pub(crate) fn queued(&self) -> usize {
        let (rx, st) = self.lock_both();
        rx.batch.len() + st.queue.len()
    }

    /// The front of the batch, refilled with the whole queue when empty;
    /// otherwise why there is none.
    fn next_slot(&self, gen: u64) -> Result<Slot<T>, Next<'_, T>> {
        let mut rx = self.lock_rx();
        if rx.gen != gen {
            // This handle was sent away; its successor receives.
            return Err(Next::Stale);
        }
        if let Some(slot) = rx.batch.pop_front() {
            return Ok(slot);
        }
        let mut st = self.lock();
        // The queue's spare room goes back with the (empty) batch.
        std::mem::swap(&mut rx.batch, &mut st.queue);
        match rx.batch.pop_front() {
            Some(slot) => Ok(slot),
            None => Err(Next::Empty(st)),
        }
    }

    /// Frees the capacity slot of a message taken from the batch and
    /// unpacks it; its credit token, if any, returns the peer's window here,
    /// outside both locks.
    fn hand_out(&self, slot: Slot<T>) -> T {
        let Slot { value, credit } = slot;
        match credit {
            None => self.free_slots(1),
            Some(token) => drop(token),
        }
        value
    }

    /// Nothing queued (the channel lock held): the end if it came,
    /// otherwise the receiver waits to be woken.
    fn nothing_queued<R>(
        mut st: MutexGuard<'_, State<T>>,
        cx: &mut Context<'_>,
        end: R,
    ) -> Poll<Result<R, ChannelError>> {
        match st.end_for_receiver() {
            Some(result) => Poll::Ready(result.map(|()| end)),
            None => {
                st.register_receiver(cx.waker());
                Poll::Pending
            }
        }
    }
}

/// Why the receiver got no message.
enum Next<'a, T> {
    /// The handle is not the live one.
    Stale,
    /// Nothing is queued; the channel lock is held to decide what next.
    Empty(MutexGuard<'a, State<T>>),
}
