//! Typed request/response: a request body travelling with its reply channel.

use serde::{Deserialize, Serialize};

use crate::chan::{Receiver, Sender};
use crate::codec::Payload;
use std::fmt;

use crate::error::{ChannelError, SendError};

/// A request of type `Q` whose answer(s) of type `R` go to `reply`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use libchan_core::{pipe, Request};
///
/// let (client, mut server) = pipe::<Request<u32, u32>>();
/// tokio::spawn(async move {
///     while let Ok(Some(req)) = server.recv().await {
///         let n = req.body;
///         let _ = req.respond(n * 2).await;
///     }
/// });
/// assert_eq!(client.call(21).await?, 42);
/// # Ok::<_, libchan_core::ChannelError>(())
/// # });
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "Q: Serialize, R: Payload",
    deserialize = "Q: Deserialize<'de>, R: Payload"
))]
pub struct Request<Q, R> {
    /// The request itself.
    pub body: Q,
    /// Where the answer goes.
    pub reply: Sender<R>,
}

impl<Q, R: Send + 'static> Request<Q, R> {
    /// Sends the one answer and consumes the request; see
    /// [`Responder::respond`]. To answer with something computed from the
    /// body, split the request first with [`into_parts`](Self::into_parts).
    pub async fn respond(self, response: R) -> Result<(), SendError<R>> {
        Responder { reply: self.reply }.respond(response).await
    }

    /// Splits the request into its body and the [`Responder`] that answers
    /// it, so the answer can be built from the body it owns.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use libchan_core::{pipe, Request};
    ///
    /// let (client, mut server) = pipe::<Request<Vec<u32>, String>>();
    /// tokio::spawn(async move {
    ///     while let Ok(Some(req)) = server.recv().await {
    ///         let (body, responder) = req.into_parts();
    ///         let _ = responder.respond(format!("{body:?}")).await;
    ///     }
    /// });
    /// assert_eq!(client.call(vec![1, 2]).await?, "[1, 2]");
    /// # Ok::<_, libchan_core::ChannelError>(())
    /// # });
    /// ```
    pub fn into_parts(self) -> (Q, Responder<R>) {
        (self.body, Responder { reply: self.reply })
    }
}

/// The answering half of a [`Request`] (from [`Request::into_parts`]).
///
/// Dropping it unanswered makes the caller's `call` fail with
/// [`ChannelError::NoReply`].
pub struct Responder<R> {
    reply: Sender<R>,
}

impl<R: Send + 'static> Responder<R> {
    /// Sends the one answer.
    ///
    /// If it cannot be sent because it cannot be encoded or is above the
    /// caller's size limit, the reply channel is broken with that error
    /// (over a session, a reset whose code and reason say so), so the
    /// caller learns why instead of seeing [`ChannelError::NoReply`]; the
    /// error and the answer come back here too.
    pub async fn respond(self, response: R) -> Result<(), SendError<R>> {
        let result = self.reply.send(response).await;
        if let Err(e) = &result {
            if matches!(e.error(), ChannelError::Encode(_) | ChannelError::Limit(_)) {
                self.reply.fail_with(e.error().clone());
            }
        }
        result
    }

    /// True once the caller stopped waiting (its reply receiver is gone):
    /// the work need not be finished.
    pub fn is_closed(&self) -> bool {
        self.reply.is_closed()
    }

    /// Waits until the caller stopped waiting; see [`Sender::closed`].
    pub async fn closed(&self) {
        self.reply.closed().await;
    }

    /// The reply channel itself, for a responder that streams several
    /// answers.
    pub fn into_sender(self) -> Sender<R> {
        self.reply
    }
}

impl<R> fmt::Debug for Responder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("type", &std::any::type_name::<R>())
            .finish_non_exhaustive()
    }
}

impl<Q: Send + 'static, R: Send + 'static> Sender<Request<Q, R>> {
    /// Sends `body` with a fresh reply channel; returns the reply receiver
    /// (for a responder that streams several answers).
    pub async fn request(&self, body: Q) -> Result<Receiver<R>, ChannelError> {
        self.request_with(|reply| Request { body, reply }).await
    }

    /// Sends `body` with a fresh reply channel and waits for the answer.
    ///
    /// [`ChannelError::NoReply`] if the responder drops the request
    /// unanswered; see [`Sender::call_with`] for an answer that could not
    /// be sent and for what cancelling the call does.
    pub async fn call(&self, body: Q) -> Result<R, ChannelError> {
        self.call_with(|reply| Request { body, reply }).await
    }
}
