//! `Sender<T>`: the sending end of a channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::state::Chan;
use crate::error::{ChannelError, SendError, TrySendError};

/// The sending end of a channel of `T`.
///
/// Cloneable; the channel closes (the receiver sees `Ok(None)`) when the last
/// clone is dropped. A `Sender` may be put inside a message and sent over any
/// session: the peer then holds a live sender whose messages arrive here.
///
/// Besides [`send`](Self::send), it offers what tokio's `mpsc::Sender` does:
/// [`try_send`](Self::try_send) that never waits, [`reserve`](Self::reserve)
/// for cancel-safe sends, [`closed`](Self::closed), and it is a
/// [`futures_sink::Sink`].
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// This handle's state as a `Sink` (a reserved slot, a place in line);
    /// clones start without one.
    sink: SinkState,
}

#[derive(Debug, Default)]
struct SinkState {
    waiter: Option<u64>,
    reserved: bool,
}

impl<T> Sender<T> {
    /// A handle on `chan` taking over a producer count already made.
    pub(crate) fn from_chan(chan: Arc<Chan<T>>) -> Self {
        Sender {
            chan,
            sink: SinkState::default(),
        }
    }
}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// Waits when the receiver is slow: on an in-memory channel until the
    /// receiver takes a message; over a session until the peer grants credit.
    /// Senders waiting for room are served in the order they started
    /// waiting, one per freed slot.
    ///
    /// Fails with a [`SendError`] that hands `value` back: its
    /// [`error`](SendError::error) is [`ChannelError::Closed`] if the
    /// receiving end is gone, or the error that broke the channel (a lost
    /// session, a reset, an abort). `?` turns it into that
    /// [`ChannelError`]. Over a session, `Ok` means the message is queued for
    /// the connection in order, not that the peer has read it.
    ///
    /// Over a session, a message the session cannot queue yet (sent before
    /// the peer's handshake told its size limit, or while the connection's
    /// send buffer is full) makes `send` wait until it is queued, so that a
    /// message above the peer's limit fails its own `send` with
    /// [`ChannelError::Limit`] and the channel lives on; so does one that
    /// cannot be encoded ([`ChannelError::Encode`]).
    ///
    /// Cancel safety: if the future is dropped before it completes, `value`
    /// was not sent, except in the case above: once the session holds the
    /// encoded message, it is sent even if the future is dropped (and if it
    /// then fails, the channel breaks with the error). For a send that is
    /// never half-done, [`reserve`](Self::reserve) a slot first.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: None,
            ticket: None,
        }
    }

    /// Sends `value` if the channel has room now, without waiting: the
    /// fan-out primitive (a slow subscriber gets [`TrySendError::Full`]
    /// instead of stalling the others).
    ///
    /// Over a session, a message is encoded at once when the stream has
    /// credit (and an encoding error or a size limit is reported here, the
    /// channel staying usable); otherwise it takes a slot of the channel's
    /// local queue like a `send` would, and `Full` means that queue holds
    /// `capacity` messages. A message the session had to hold back (before
    /// the peer's handshake, or with the connection's buffer full) counts
    /// as sent; if it then fails, the channel breaks with the error.
    ///
    /// ```
    /// use libchan_core::{pipe_with_capacity, TrySendError};
    ///
    /// let (tx, mut rx) = pipe_with_capacity::<u32>(1);
    /// tx.try_send(1).expect("room for one");
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// drop(rx);
    /// assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut slot = Some(value);
        if let Some(sent) = self.chan.try_send_direct(&mut slot) {
            return match sent {
                Ok(_) => Ok(()),
                Err(e) => Err(TrySendError::from_error(
                    slot.take().expect("a failed direct send keeps its value"),
                    e,
                )),
            };
        }
        let value = slot
            .take()
            .expect("the direct path leaves the value when it is not taken");
        match self.chan.try_acquire() {
            Err(e) => Err(TrySendError::from_error(value, e)),
            Ok(false) => Err(TrySendError::Full(value)),
            Ok(true) => match self.chan.push_acquired(value) {
                Ok(pushed) => {
                    pushed.run(&self.chan);
                    Ok(())
                }
                Err((value, e)) => Err(TrySendError::from_error(value, e)),
            },
        }
    }

    /// Waits for a slot in the channel and returns a [`Permit`] holding it:
    /// [`Permit::send`] then sends without waiting and cannot fail, so a
    /// value is never lost to a cancelled future (tokio's `reserve`).
    ///
    /// A permit holds one capacity slot of the channel's local queue, as a
    /// queued message would: with `capacity` permits out, `send` and
    /// `try_send` wait or report `Full`. It does not hold session credit:
    /// over a session, a message sent through a permit is encoded at once
    /// if the stream has credit and otherwise waits in the queue (in the
    /// slot the permit held) for the peer's credit. Because
    /// [`Permit::send`] returns nothing, a failure after that (the message
    /// cannot be encoded, or is above the peer's size limit) breaks the
    /// channel, and later sends report it. Dropping a permit unused gives
    /// its slot to the next waiting sender.
    ///
    /// Fails as `send` would once the channel is closed or broken.
    ///
    /// Cancel safety: cancel-safe; a cancelled `reserve` loses its place in
    /// line and holds no slot.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, ChannelError> {
        let mut waiter = Waiting {
            chan: &self.chan,
            id: None,
        };
        std::future::poll_fn(|cx| self.chan.poll_acquire(cx, &mut waiter.id)).await?;
        Ok(Permit {
            chan: &self.chan,
            live: true,
        })
    }

    /// Takes a [`Permit`] if the channel has a free slot now; see
    /// [`reserve`](Self::reserve). `Ok(None)` when it is full.
    pub fn try_reserve(&self) -> Result<Option<Permit<'_, T>>, ChannelError> {
        // Built only once the slot is taken: a permit dropped live frees one.
        Ok(self.chan.try_acquire()?.then(|| Permit {
            chan: &self.chan,
            live: true,
        }))
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
    /// channel without answering. A responder whose answer could not be
    /// sent (through [`Responder::respond`](crate::Responder::respond): it
    /// was above this side's size limit, or could not be encoded) breaks
    /// the reply channel with that error instead, so the caller sees it
    /// (over a session, a [`ChannelError::Reset`] with the wire code
    /// `LIMIT_EXCEEDED` and the responder's error as its reason).
    ///
    /// Cancel safety: dropping the future before the request was sent
    /// sends nothing. Once it was sent, the request is not withdrawn (the
    /// responder still receives it); dropping the future drops the reply
    /// receiver, so the responder's answer fails with
    /// [`ChannelError::Closed`], and over a session the reply stream is
    /// cancelled at once (the responder's `reply.closed()` completes, and
    /// it can stop working on the request).
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

    /// Breaks the channel with `err`, as a failed producer: the receiver
    /// gets it after what was sent before.
    pub(crate) fn fail_with(&self, err: ChannelError) {
        self.chan.break_producer(err).run(&self.chan);
    }

    /// True if both handles send into the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// The most messages the channel holds from local senders before
    /// `send` waits.
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender::from_chan(self.chan.clone())
    }
}

impl<T> Drop for Sender<T> {
    /// The last clone dropped closes the channel cleanly, unless the thread
    /// is panicking: then the channel is aborted, so the receiver sees a
    /// crash instead of a finished stream.
    fn drop(&mut self) {
        if self.sink.reserved {
            self.chan.release_acquired();
        }
        self.chan.forget_waiter(&mut self.sink.waiter);
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

/// A sender as a [`futures_sink::Sink`], for `SinkExt::send_all` and
/// stream forwarding.
///
/// `poll_ready` waits for a slot in the channel as [`Sender::reserve`] does
/// (a slot of the local queue, not session credit), `start_send` queues the
/// item in it (over a session it is encoded at once if the stream has
/// credit), `poll_flush` has nothing to wait for and reports whether the
/// channel broke, and `poll_close` gives up an unused slot. Closing the
/// sink does not close the channel: that happens when the last `Sender`
/// is dropped. As with [`Permit::send`], an item that cannot be encoded
/// or is above the peer's size limit breaks the channel, and the next
/// call reports it.
///
/// `SinkExt::send` is shadowed by [`Sender::send`]; call it as
/// `SinkExt::send(&mut tx, item)`, or use `send_all` / `StreamExt::forward`.
impl<T: Send + 'static> futures_sink::Sink<T> for Sender<T> {
    type Error = ChannelError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        let this = self.get_mut();
        if this.sink.reserved {
            return Poll::Ready(Ok(()));
        }
        match this.chan.poll_acquire(cx, &mut this.sink.waiter) {
            Poll::Ready(Ok(())) => {
                this.sink.reserved = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), ChannelError> {
        let this = self.get_mut();
        if !std::mem::take(&mut this.sink.reserved) {
            // `Sink` requires `poll_ready` first; take a free slot if there
            // is one rather than overfilling the channel.
            if !this.chan.try_acquire()? {
                return Err(ChannelError::Limit(crate::LimitError {
                    what: "capacity (start_send without poll_ready)",
                    limit: this.chan.capacity as u64,
                    actual: this.chan.capacity as u64 + 1,
                }));
            }
        }
        match this.chan.push_acquired(item) {
            Ok(pushed) => {
                pushed.run(&this.chan);
                Ok(())
            }
            Err((_, e)) => Err(e),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        let st = self.chan.lock();
        Poll::Ready(match &st.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        let this = self.get_mut();
        if std::mem::take(&mut this.sink.reserved) {
            this.chan.release_acquired();
        }
        this.chan.forget_waiter(&mut this.sink.waiter);
        Pin::new(this).poll_flush(cx)
    }
}

/// A slot in a channel, taken by [`Sender::reserve`]: sending through it
/// never waits and never fails.
///
/// Dropping it unused frees the slot for the next waiting sender.
#[must_use = "a permit holds a slot of the channel until it is used or dropped"]
pub struct Permit<'a, T> {
    chan: &'a Arc<Chan<T>>,
    /// Still holds its slot (not yet used).
    live: bool,
}

impl<T: Send + 'static> Permit<'_, T> {
    /// Sends `value` in the reserved slot, at once.
    ///
    /// If the channel can no longer deliver (the receiver went away or the
    /// channel broke since the permit was taken), `value` is dropped, as
    /// with tokio's permits: check [`Sender::is_closed`] or wait on
    /// [`Sender::closed`] to learn it. Over a session, a failure to encode
    /// the message or a size limit breaks the channel (see
    /// [`Sender::reserve`]).
    pub fn send(mut self, value: T) {
        self.live = false;
        match self.chan.push_acquired(value) {
            Ok(pushed) => pushed.run(self.chan),
            Err((value, _)) => drop(value),
        }
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if self.live {
            self.chan.release_acquired();
        }
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// A place in line for a slot; leaving it (a cancelled `reserve`) hands a
/// slot already given to it to the next waiter.
struct Waiting<'a, T> {
    chan: &'a Arc<Chan<T>>,
    id: Option<u64>,
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        self.chan.forget_waiter(&mut self.id);
    }
}

/// The future returned by [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    waiter: Option<u64>,
    /// The session parked the encoded message; its outcome is this send's.
    /// The value is kept meanwhile, to hand back if it fails.
    ticket: Option<crate::transport::SendTicket>,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T: Send + 'static> SendFuture<'_, T> {
    fn fail(&mut self, error: ChannelError) -> Poll<Result<(), SendError<T>>> {
        match self.value.take() {
            Some(value) => Poll::Ready(Err(SendError::new(value, error))),
            // Polled again after it completed: nothing is left to hand back.
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<T: Send + 'static> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(ticket) = &mut this.ticket {
            return match ticket.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(())) => {
                    this.ticket = None;
                    drop(this.value.take());
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => {
                    this.ticket = None;
                    this.fail(e)
                }
            };
        }
        let chan = &this.sender.chan;
        match chan.poll_send(cx, &mut this.value, &mut this.waiter) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(None | Some(crate::transport::Sent::Queued))) => Poll::Ready(Ok(())),
            Poll::Ready(Ok(Some(crate::transport::Sent::Parked(ticket)))) => {
                this.ticket = Some(ticket);
                Pin::new(this).poll(cx)
            }
            Poll::Ready(Err(e)) => this.fail(e),
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.sender.chan.forget_waiter(&mut self.waiter);
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.value.is_some())
            .finish()
    }
}
