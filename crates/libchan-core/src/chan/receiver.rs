//! `Receiver<T>`: the receiving end of a channel.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::state::Chan;
use crate::error::ChannelError;

/// The receiving end of a channel of `T`.
///
/// Yields messages in the order each sender sent them. Also a
/// [`futures_core::Stream`] of `Result<T, ChannelError>` that ends after a
/// clean close. A `Receiver` may be put inside a message and sent over any
/// session; the peer then receives what is sent here.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// This handle's generation; see `State::rx_gen`.
    gen: u64,
    /// The stream already returned its final item (end or error).
    done: bool,
}

impl<T> Receiver<T> {
    /// The live receiving handle of `chan`; any earlier handle is spent.
    pub(crate) fn from_chan(chan: Arc<Chan<T>>) -> Self {
        let gen = {
            let mut st = chan.lock();
            st.rx_gen = st.rx_gen.wrapping_add(1);
            st.rx_gen
        };
        Receiver {
            chan,
            gen,
            done: false,
        }
    }

    /// Receives the next message.
    ///
    /// Returns `Ok(Some(value))` for a message, `Ok(None)` once every sender
    /// is gone and every message was received (a clean close), and `Err` if
    /// the channel broke: its session was lost, the peer reset it, or a
    /// message could not be decoded. Messages queued before the break are
    /// still returned first. A broken channel keeps returning its error.
    ///
    /// Cancel safety: cancel-safe; a message is only taken when the future
    /// completes.
    pub async fn recv(&mut self) -> Result<Option<T>, ChannelError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, ChannelError>> {
        self.chan.poll_recv(cx, self.gen)
    }

    /// Takes the next message if one is queued, without waiting.
    ///
    /// `Ok(None)` means nothing is queued right now *or* the channel closed;
    /// use [`recv`](Self::recv) to tell them apart.
    pub fn try_recv(&mut self) -> Result<Option<T>, ChannelError> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match self.chan.poll_recv(&mut cx, self.gen) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(None),
        }
    }

    /// Number of messages queued and not yet received.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver(self.gen);
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = Result<T, ChannelError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.chan.poll_recv(cx, this.gen) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(v))) => Poll::Ready(Some(Ok(v))),
            Poll::Ready(Ok(None)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

fn noop_waker() -> std::task::Waker {
    std::task::Waker::noop().clone()
}
