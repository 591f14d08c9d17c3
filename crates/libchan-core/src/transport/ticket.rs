//! The outcome of a message a session could not queue at once.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::ChannelError;

/// What [`StreamSink::send`](super::StreamSink::send) did with a message.
#[derive(Debug)]
#[must_use]
pub enum Sent {
    /// Queued for the connection, in order.
    Queued,
    /// Encoded, but held by the session until it can be queued (before the
    /// peer's limits are known, or while the connection's buffers are
    /// full). The ticket resolves once it is queued, or with the error that
    /// stopped it (a message above the peer's size limit). A `send` waits
    /// on the ticket, so it reports that error itself.
    Parked(SendTicket),
}

/// Resolves when a parked message is queued or has failed.
pub struct SendTicket(Arc<Mutex<TicketState>>);

/// The session's side of a [`SendTicket`].
pub struct TicketResolver(Option<Arc<Mutex<TicketState>>>);

struct TicketState {
    result: Option<Result<(), ChannelError>>,
    waker: Option<Waker>,
    /// The ticket still exists: someone may wait for the outcome.
    watched: bool,
}

/// A ticket for a parked message and the resolver the session keeps.
pub fn send_ticket() -> (SendTicket, TicketResolver) {
    let state = Arc::new(Mutex::new(TicketState {
        result: None,
        waker: None,
        watched: true,
    }));
    (SendTicket(state.clone()), TicketResolver(Some(state)))
}

fn lock(state: &Mutex<TicketState>) -> MutexGuard<'_, TicketState> {
    // Nothing can panic under this lock; the state is always consistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SendTicket {
    /// Polls for the outcome.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        let mut st = lock(&self.0);
        match st.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    st.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for SendTicket {
    fn drop(&mut self) {
        lock(&self.0).watched = false;
    }
}

impl TicketResolver {
    /// Reports the outcome. Returns the error back if the message failed
    /// and nobody waits for its ticket any more (the send that parked it
    /// was cancelled, or it was sent from the queue): the session must then
    /// report the failure another way, by breaking the channel.
    pub fn resolve(mut self, result: Result<(), ChannelError>) -> Result<(), ChannelError> {
        let Some(state) = self.0.take() else {
            return Ok(());
        };
        let mut st = lock(&state);
        if !st.watched {
            return result;
        }
        st.result = Some(result);
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl Drop for TicketResolver {
    /// A resolver dropped unresolved (its stream or session died) fails the
    /// waiting send with `Closed`; sessions resolve with a better error
    /// where they know one.
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            drop(TicketResolver(Some(state)).resolve(Err(ChannelError::Closed)));
        }
    }
}

impl fmt::Debug for SendTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTicket").finish_non_exhaustive()
    }
}

impl fmt::Debug for TicketResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketResolver").finish_non_exhaustive()
    }
}
