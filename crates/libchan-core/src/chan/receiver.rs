//! `Receiver<T>`: the receiving end of a channel.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::state::Chan;
use crate::error::{ChannelError, TryRecvError};

/// The receiving end of a channel of `T`.
///
/// Yields messages in the order each sender sent them. Also a
/// [`futures_core::Stream`] of `Result<T, ChannelError>` that ends after a
/// clean close. A `Receiver` may be put inside a message and sent over any
/// session; the peer then receives what is sent here.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// This handle's generation; see `RxSide::gen`.
    gen: u64,
    /// The stream already returned its final item (end or error).
    done: bool,
}

impl<T> Receiver<T> {
    /// The live receiving handle of `chan`; any earlier handle is spent.
    pub(crate) fn from_chan(chan: Arc<Chan<T>>) -> Self {
        let gen = {
            let mut rx = chan.lock_rx();
            rx.gen = rx.gen.wrapping_add(1);
            rx.gen
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
    /// [`TryRecvError::Empty`] when nothing is queued right now,
    /// [`TryRecvError::Closed`] once the channel ended cleanly (where
    /// `recv` returns `Ok(None)`), [`TryRecvError::Broken`] once it broke
    /// (where `recv` returns the error).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv(self.gen)
    }

    /// Receives up to `limit` messages at once, appending them to `buffer`,
    /// and returns how many (tokio's `recv_many`).
    ///
    /// Waits only while nothing is queued; then takes whatever is queued,
    /// up to `limit`. `Ok(0)` means the clean end (every sender gone and
    /// every message received), or a `limit` of 0. A break is returned as
    /// `Err` once the messages queued before it were all received, as with
    /// [`recv`](Self::recv).
    ///
    /// Cancel safety: cancel-safe; messages are taken only when the future
    /// completes.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (tx, mut rx) = libchan_core::pipe::<u32>();
    /// for i in 0..5 {
    ///     tx.send(i).await?;
    /// }
    /// drop(tx);
    /// let mut batch = Vec::new();
    /// assert_eq!(rx.recv_many(&mut batch, 3).await?, 3);
    /// assert_eq!(rx.recv_many(&mut batch, 3).await?, 2);
    /// assert_eq!(rx.recv_many(&mut batch, 3).await?, 0); // the end
    /// assert_eq!(batch, [0, 1, 2, 3, 4]);
    /// # Ok::<_, libchan_core::ChannelError>(())
    /// # });
    /// ```
    pub async fn recv_many(
        &mut self,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Result<usize, ChannelError> {
        poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// Polls for up to `limit` messages; see [`recv_many`](Self::recv_many).
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<Result<usize, ChannelError>> {
        self.chan.poll_recv_many(cx, self.gen, buffer, limit)
    }

    /// Closes the receiving end without dropping it (tokio's
    /// `Receiver::close`): from now on every `send` fails with
    /// [`ChannelError::Closed`] and [`Sender::closed`](crate::Sender::closed)
    /// completes, while the messages already queued can still be received;
    /// after them `recv` returns `Ok(None)` (or the error, if the channel
    /// broke before). Over a session the peer's senders are told at once
    /// (a cancel on the wire), as when a receiver is dropped; messages in
    /// flight from them are discarded.
    ///
    /// Use it for a clean shutdown: stop new work, finish what was queued.
    pub fn close(&mut self) {
        self.chan.close_receiver(self.gen);
    }

    /// The most messages the channel holds from local senders before
    /// `send` waits.
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }

    /// Number of messages queued and not yet received.
    pub fn len(&self) -> usize {
        self.chan.queued()
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
