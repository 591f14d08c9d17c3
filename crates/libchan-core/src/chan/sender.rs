//! `Sender<T>`: the sending end of a channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::state::Chan;
use crate::error::ChannelError;

/// The sending end of a channel of `T`.
///
/// Cloneable; the channel closes (the receiver sees `Ok(None)`) when the last
/// clone is dropped. A `Sender` may be put inside a message and sent over any
/// session: the peer then holds a live sender whose messages arrive here.
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// Waits when the receiver is slow: on an in-memory channel until the
    /// receiver takes a message; over a session until the peer grants credit.
    /// Returns [`ChannelError::Closed`] if the receiving end is gone, or the
    /// error that broke the channel (a lost session, a reset, an encoding
    /// failure). Over a session, `Ok` means the message is queued for the
    /// connection in order, not that the peer has read it.
    ///
    /// Over a session, a message the session cannot queue yet (sent before
    /// the peer's handshake told its size limit, or while the connection's
    /// send buffer is full) makes `send` wait until it is queued, so that a
    /// message above the peer's limit fails its own `send` with
    /// [`ChannelError::Limit`] and the channel lives on.
    ///
    /// Cancel safety: if the future is dropped before it completes, `value`
    /// was not sent, except in the case above: once the session holds the
    /// encoded message, it is sent even if the future is dropped (and if it
    /// then fails, the channel breaks with the error).
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: None,
            ticket: None,
        }
    }

    /// Sends a request built around a fresh reply channel and returns the
    /// reply's receiving end: the seed's `RetPipe` as one call.
    ///
    /// ```
    /// # tokio_test_block_on(async {
    /// use libchan_core::{pipe, Sender};
    ///
    /// struct Ask { question: String, reply: Sender<String> }
    ///
    /// let (tx, mut rx) = pipe::<Ask>();
    /// tokio::spawn(async move {
    ///     while let Ok(Some(ask)) = rx.recv().await {
    ///         let _ = ask.reply.send(ask.question.to_uppercase()).await;
    ///     }
    /// });
    /// let mut replies = tx.request_with(|reply| Ask { question: "hi".into(), reply }).await?;
    /// assert_eq!(replies.recv().await?, Some("HI".to_string()));
    /// # Ok::<_, libchan_core::ChannelError>(())
    /// # });
    /// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub async fn request_with<R, F>(&self, make: F) -> Result<super::Receiver<R>, ChannelError>
    where
        R: Send + 'static,
        F: FnOnce(Sender<R>) -> T,
    {
        let (reply_tx, reply_rx) = super::pipe_with_capacity(crate::REPLY_CAPACITY);
        self.send(make(reply_tx)).await?;
        Ok(reply_rx)
    }

    /// Like [`request_with`](Self::request_with), then waits for the first reply.
    ///
    /// Returns [`ChannelError::NoReply`] if the responder drops the reply
    /// channel without answering.
    pub async fn call_with<R, F>(&self, make: F) -> Result<R, ChannelError>
    where
        R: Send + 'static,
        F: FnOnce(Sender<R>) -> T,
    {
        let mut replies = self.request_with(make).await?;
        replies.recv().await?.ok_or(ChannelError::NoReply)
    }

    /// True once sending can no longer succeed: the receiver is gone
    /// (dropped here, or, over a session, the peer's cancel arrived) or the
    /// channel broke. Every `send` fails from then on.
    pub fn is_closed(&self) -> bool {
        self.chan.lock().is_closed()
    }

    /// Waits until sending can no longer succeed (see
    /// [`is_closed`](Self::is_closed)), like tokio's `mpsc::Sender::closed`:
    /// a producer with nothing to send learns that its consumer went away.
    /// Over a session this is once the peer's cancel arrived.
    ///
    /// Cancel safety: cancel-safe.
    pub async fn closed(&self) {
        std::future::poll_fn(|cx| self.chan.poll_closed(cx)).await;
    }

    /// Ends the channel abruptly, for every clone of this sender: messages
    /// already sent are still delivered, then the receiver gets
    /// [`ChannelError::Aborted`] with `reason` (over a session, a RESET with
    /// code `ABORTED` carries it to the peer). Later sends fail with the
    /// same error. Use it when a producer fails midway, so that the
    /// consumer does not read a truncated stream as a finished one.
    pub fn abort(&self, reason: impl Into<String>) {
        let err = ChannelError::Aborted {
            initiator: crate::Initiator::Local,
            reason: reason.into(),
        };
        self.chan.break_producer(err).run(&self.chan);
    }

    /// True if both handles send into the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    /// The last clone dropped closes the channel cleanly, unless the thread
    /// is panicking: then the channel is aborted, so the receiver sees a
    /// crash instead of a finished stream.
    fn drop(&mut self) {
        self.chan
            .drop_sender(std::thread::panicking())
            .run(&self.chan);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    waiter: Option<u64>,
    /// The session parked the encoded message; its outcome is this send's.
    ticket: Option<crate::transport::SendTicket>,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T: Send + 'static> Future for SendFuture<'_, T> {
    type Output = Result<(), ChannelError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(ticket) = &mut this.ticket {
            return ticket.poll(cx);
        }
        if let Some(sent) = this.sender.chan.try_send_direct(&mut this.value) {
            if this.waiter.is_some() {
                this.sender.chan.lock().forget_sender(&mut this.waiter);
            }
            return match sent {
                Ok(crate::transport::Sent::Queued) => Poll::Ready(Ok(())),
                Ok(crate::transport::Sent::Parked(mut ticket)) => {
                    let outcome = ticket.poll(cx);
                    this.ticket = Some(ticket);
                    outcome
                }
                Err(e) => Poll::Ready(Err(e)),
            };
        }
        match this
            .sender
            .chan
            .poll_send(cx, &mut this.value, &mut this.waiter)
        {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(pushed)) => {
                pushed.run(&this.sender.chan);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if self.waiter.is_some() {
            self.sender.chan.lock().forget_sender(&mut self.waiter);
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.value.is_some())
            .finish()
    }
}
