//! Producers and the consumer coming and going: closing, breaking, and
//! telling whoever watches.

use super::*;

impl<T> Chan<T> {
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
        let (mut rx, mut st) = self.lock_both();
        if rx.gen == gen && st.import_hold {
            // Maybe handed out again by the decode under way; see
            // `end_import_hold`.
            st.rx_dropped_in_hold = true;
            return;
        }
        if rx.gen != gen || !matches!(st.consumer, Consumer::Local) {
            // Exported: the receiving end lives on in a session.
            return;
        }
        let queue = std::mem::take(&mut st.queue);
        let batch = std::mem::take(&mut rx.batch);
        let gone = st.consumer_gone();
        drop(st);
        drop(rx);
        drop(batch);
        drop(queue);
        gone.run();
    }

    /// The local receiver is being sent away: what its batch holds goes
    /// back to the front of the queue, for the consumer that takes over.
    /// Returns the channel state, locked, to set that consumer.
    pub(crate) fn begin_export(&self) -> MutexGuard<'_, State<T>> {
        let (mut rx, mut st) = self.lock_both();
        rx.return_batch(&mut st);
        st
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
            let (rx, mut st) = self.lock_both();
            st.import_hold = false;
            if !std::mem::take(&mut st.rx_dropped_in_hold) {
                return;
            }
            rx.gen
        };
        self.drop_receiver(gen);
    }

    /// The local receiver closed its end (`Receiver::close`): senders fail
    /// from now on and sessions feeding the channel cancel their streams,
    /// while what is queued stays receivable.
    pub(crate) fn close_receiver(&self, gen: u64) {
        let (rx, mut st) = self.lock_both();
        if rx.gen != gen || st.rx_closed || !matches!(st.consumer, Consumer::Local) {
            return;
        }
        drop(rx);
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
