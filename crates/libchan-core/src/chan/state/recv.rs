//! Consuming from a local receiver.

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
}
