//! The seed's untyped message: data bytes, an optional byte stream, an
//! optional return channel.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::chan::{Receiver, Sender};
use crate::error::ChannelError;
use crate::ByteStream;

/// The untyped message of the original libchan: `Data`, an attached stream
/// (the seed's `Fd`), and `Ret`, a channel for the answer.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use libchan_core::{pipe, Message};
///
/// let (ch, mut server) = pipe::<Message>();
/// tokio::spawn(async move {
///     while let Ok(Some(msg)) = server.recv().await {
///         if let Some(ret) = msg.ret {
///             let _ = ret.send(Message::new("this is an extremely useful response")).await;
///         }
///     }
/// });
/// let mut ret1 = ch.send_ret(Message::new("request 1!")).await?;
/// let answer = ret1.recv().await?.expect("one reply");
/// assert_eq!(&answer.data[..], b"this is an extremely useful response");
/// # Ok::<_, libchan_core::ChannelError>(())
/// # });
/// ```
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Message {
    /// The payload.
    pub data: Bytes,
    /// A byte stream travelling with the message (a file descriptor over
    /// unix sockets).
    pub stream: Option<ByteStream>,
    /// Where to send the answer, if one is wanted.
    pub ret: Option<Sender<Message>>,
}

impl Message {
    /// A message carrying `data` only.
    pub fn new(data: impl Into<Bytes>) -> Self {
        Message {
            data: data.into(),
            stream: None,
            ret: None,
        }
    }

    /// Attaches a byte stream.
    pub fn with_stream(mut self, stream: ByteStream) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Attaches a return channel.
    pub fn with_ret(mut self, ret: Sender<Message>) -> Self {
        self.ret = Some(ret);
        self
    }
}

impl Sender<Message> {
    /// Sends `msg` with a fresh return channel in its `ret` field and returns
    /// the receiving end: the seed's `Ret: libchan.RetPipe`.
    ///
    /// Any `ret` already set on `msg` is replaced.
    pub async fn send_ret(&self, msg: Message) -> Result<Receiver<Message>, ChannelError> {
        self.request_with(|ret| msg.with_ret(ret)).await
    }
}
