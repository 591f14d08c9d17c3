//! `SharedReceiver<T>`: one channel, many consumers (a work queue).

use std::fmt;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::Receiver;
use crate::error::{ChannelError, TryRecvError};

/// A cloneable receiving end: every clone takes messages from the same
/// channel, and each message goes to exactly one of them. Go's "workers
/// pull from one job channel" idiom.
///
/// Made with [`Receiver::into_shared`]. Consumers waiting in
/// [`recv`](Self::recv) are served in the order they started waiting, one
/// message each, so work spreads over idle workers.
///
/// Why a wrapper rather than a cloneable [`Receiver`]: a channel has
/// exactly one consumer everywhere else in libchan (it is what a session
/// drains onto a stream when a receiver is sent away, and what a dropped
/// receiver cancels), so the sharing lives on this side, in one place,
/// and a `SharedReceiver` stays local: it cannot be put in a message. The
/// channel ends for the senders when the last clone is dropped.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (jobs, rx) = libchan_core::pipe::<u32>();
/// let rx = rx.into_shared();
/// let mut workers = Vec::new();
/// for _ in 0..3 {
///     let rx = rx.clone();
///     workers.push(tokio::spawn(async move {
///         let mut done = 0;
///         while let Ok(Some(_job)) = rx.recv().await {
///             done += 1;
///         }
///         done
///     }));
/// }
/// drop(rx);
/// for job in 0..30 {
///     jobs.send(job).await?;
/// }
/// drop(jobs);
/// let mut total = 0;
/// for w in workers {
///     total += w.await.expect("a worker");
/// }
/// assert_eq!(total, 30);
/// # Ok::<_, libchan_core::ChannelError>(())
/// # });
/// ```
pub struct SharedReceiver<T> {
    inner: Arc<Mutex<Receiver<T>>>,
}

impl<T> Receiver<T> {
    /// Turns this receiver into a [`SharedReceiver`] that can be cloned
    /// for several consumers.
    pub fn into_shared(self) -> SharedReceiver<T> {
        SharedReceiver {
            inner: Arc::new(Mutex::new(self)),
        }
    }
}

impl<T> SharedReceiver<T> {
    /// Receives the next message, for this consumer only; see
    /// [`Receiver::recv`]. Every clone sees the clean end (`Ok(None)`) and
    /// a break (the error) once the queue is empty.
    ///
    /// Cancel safety: cancel-safe; a message is only taken when the future
    /// completes, and a cancelled call gives up its place in line.
    pub async fn recv(&self) -> Result<Option<T>, ChannelError> {
        self.inner.lock().await.recv().await
    }

    /// Takes the next message if one is queued and no other consumer is
    /// receiving right now; see [`Receiver::try_recv`]. `Empty` also when
    /// another clone holds the queue at this moment.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.inner.try_lock() {
            Ok(mut rx) => rx.try_recv(),
            Err(_) => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Clone for SharedReceiver<T> {
    fn clone(&self) -> Self {
        SharedReceiver {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for SharedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReceiver")
            .field("type", &std::any::type_name::<T>())
            .field("consumers", &Arc::strong_count(&self.inner))
            .finish()
    }
}
