//! Typed request/response: a request body travelling with its reply channel.

use serde::{Deserialize, Serialize};

use crate::chan::{Receiver, Sender};
use crate::codec::Payload;
use crate::error::ChannelError;

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
    /// Sends the one answer and consumes the request.
    pub async fn respond(self, response: R) -> Result<(), ChannelError> {
        self.reply.send(response).await
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
    /// [`ChannelError::NoReply`] if the responder drops the request unanswered.
    pub async fn call(&self, body: Q) -> Result<R, ChannelError> {
        self.call_with(|reply| Request { body, reply }).await
    }
}
