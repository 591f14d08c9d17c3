//! Session → channel: the feed through which a session delivers what the
//! peer sent on one stream, decoded, into the channel's queue, with the
//! credit each message holds in the stream's window.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Weak};

use super::{ConsumerGone, CreditSink, CreditToken};
use crate::chan::Sender;
use crate::codec::{Codec, Payload};
use crate::error::ChannelError;

/// The bytes of one message a session delivers.
#[derive(Clone, Copy, Debug)]
pub enum MessageBytes<'a> {
    /// Part of a buffer shared with other data: decoded with
    /// [`Payload::decode`], values copy what they keep.
    Borrowed(&'a [u8]),
    /// A buffer the message has to itself: decoded with
    /// [`Payload::decode_shared`], values may keep slices of it.
    Shared(&'a bytes::Bytes),
}

/// A session's place among a channel's producers: it delivers what the peer
/// sends on one stream. Dropping the feed is the peer closing cleanly.
pub struct Feed(Box<dyn ErasedFeed>);

/// Where the window of a delivered batch goes back: a session's credit sink
/// and the stream the messages came on (`None`: a transport without flow
/// control).
type CreditReturn<'a> = Option<(&'a Arc<dyn CreditSink>, u64)>;

trait ErasedFeed: Send + Sync {
    fn deliver_batch(
        &self,
        codec: &dyn Codec,
        credit: CreditReturn<'_>,
        batch: &mut dyn Iterator<Item = (MessageBytes<'_>, usize)>,
    ) -> Result<(), ChannelError>;
    fn fail(&self, err: ChannelError);
    fn sender_any(&self) -> Box<dyn Any + Send>;
    fn watch_consumer(&self, watcher: Weak<dyn ConsumerGone>);
}

/// Once a batch's messages have held back this much credit, the last of
/// them carries it and the next starts anew: what a delivered batch holds
/// back from the peer until the message carrying its credit is consumed
/// stays under this plus one message, even for the messages buffered
/// before a receiver was attached (up to a whole window).
const MERGED_CREDIT: usize = 64 * 1024;

/// A token returning `bytes` of the window to where `credit` names.
fn token(credit: CreditReturn<'_>, bytes: usize) -> CreditToken {
    match credit {
        Some((sink, stream)) if bytes > 0 => CreditToken::new(sink.clone(), stream, bytes),
        _ => CreditToken::none(),
    }
}

struct TypedFeed<T> {
    sender: Sender<T>,
}

impl<T: Payload> ErasedFeed for TypedFeed<T> {
    fn deliver_batch(
        &self,
        codec: &dyn Codec,
        credit: CreditReturn<'_>,
        batch: &mut dyn Iterator<Item = (MessageBytes<'_>, usize)>,
    ) -> Result<(), ChannelError> {
        // Decoded outside the channel lock (a `Deserialize` impl is user
        // code), queued under one. A lone message (the common case at low
        // rates) allocates nothing here; `rest` grows only for a second.
        let mut first: Option<(T, CreditToken)> = None;
        let mut rest: Vec<(T, CreditToken)> = Vec::new();
        let mut failed = None;
        // The credit of the messages queued since the last token, which the
        // last of them will carry: a receiver consumes them in order, so
        // the window comes back in one call per batch, not one per message,
        // and no message but that one holds a token.
        let mut owed = 0;
        for (bytes, held) in &mut *batch {
            let value = match bytes {
                MessageBytes::Borrowed(bytes) => T::decode(codec, bytes),
                MessageBytes::Shared(bytes) => T::decode_shared(codec, bytes),
            };
            let value = match value {
                Ok(value) => value,
                Err(e) => {
                    // Its own credit returns at once, with the message.
                    drop(token(credit, held));
                    failed = Some(ChannelError::Decode(Arc::new(e)));
                    break;
                }
            };
            if owed >= MERGED_CREDIT {
                // Enough held back already: it goes with the message
                // before this one.
                if let Some(last) = rest.last_mut().or(first.as_mut()) {
                    last.1 = token(credit, std::mem::take(&mut owed));
                }
            }
            owed += held;
            if first.is_none() {
                first = Some((value, CreditToken::none()));
            } else {
                rest.push((value, CreditToken::none()));
            }
        }
        if let Some(last) = rest.last_mut().or(first.as_mut()) {
            last.1 = token(credit, owed);
        }
        if let Some(first) = first {
            let pushed = self
                .sender
                .chan
                .push_fed(std::iter::once(first).chain(rest))?;
            pushed.run(&self.sender.chan);
        }
        failed.map_or(Ok(()), Err)
    }

    fn fail(&self, err: ChannelError) {
        self.sender.chan.break_producer(err).run(&self.sender.chan);
    }

    fn sender_any(&self) -> Box<dyn Any + Send> {
        Box::new(self.sender.clone())
    }

    fn watch_consumer(&self, watcher: Weak<dyn ConsumerGone>) {
        self.sender.chan.watch_consumer(watcher);
    }
}

impl Feed {
    /// The feed of `sender`'s channel.
    pub(super) fn new<T: Payload>(sender: Sender<T>) -> Self {
        Feed(Box::new(TypedFeed { sender }))
    }

    /// Decodes one message the peer sent and queues it for the channel's
    /// consumer; `credit` is returned to the session once it is consumed.
    ///
    /// Fails with [`ChannelError::Decode`] if the bytes are not a `T` (the
    /// session should reset the stream), or [`ChannelError::Closed`] if the
    /// consumer is gone (the session should cancel the stream).
    pub fn deliver(
        &self,
        codec: &dyn Codec,
        bytes: &[u8],
        credit: CreditToken,
    ) -> Result<(), ChannelError> {
        let (sink, stream, held) = credit.into_parts();
        let one = (MessageBytes::Borrowed(bytes), held);
        let credit = sink.as_ref().map(|sink| (sink, stream));
        self.0
            .deliver_batch(codec, credit, &mut std::iter::once(one))
    }

    /// Decodes messages the peer sent on `stream`, in order, and queues
    /// them for the channel's consumer under one lock, waking (or pumping)
    /// it once: what a session does with the messages of one stream that
    /// one read brought. Each message comes with the bytes of window it
    /// holds, returned to `sink` once it is consumed: a batch's credit
    /// travels as one token, carried by the last message it covers (a new
    /// one starts once a token holds 64 KiB), so it returns in a call or a
    /// few, each once the message carrying it (consumed after the ones
    /// before it) is received or dropped.
    ///
    /// Stops at the first message that is not a `T`: the messages before it
    /// are queued, its own credit returns at once, it fails with
    /// [`ChannelError::Decode`], and the rest stay in `batch` for the
    /// caller (the session resets the stream, so it only returns their
    /// credit). Fails with [`ChannelError::Closed`] if the consumer is gone;
    /// the messages decoded so far are dropped, which releases the ends they
    /// carried and returns their credit.
    pub fn deliver_batch(
        &self,
        codec: &dyn Codec,
        sink: &Arc<dyn CreditSink>,
        stream: u64,
        batch: &mut dyn Iterator<Item = (MessageBytes<'_>, usize)>,
    ) -> Result<(), ChannelError> {
        self.0.deliver_batch(codec, Some((sink, stream)), batch)
    }

    /// The stream broke: the consumer sees `err` after what is queued.
    pub fn fail(&self, err: ChannelError) {
        self.0.fail(err);
    }

    /// Asks to be told, outside the channel's lock, as soon as the channel's
    /// consumer goes away (its receiver dropped, or the stream it drains
    /// onto cancelled), so the session can cancel the stream on the wire at
    /// once instead of at the peer's next message. Told at once if it
    /// already went. The channel keeps only a weak reference: drop the
    /// watcher with the feed.
    pub fn watch_consumer(&self, watcher: Weak<dyn ConsumerGone>) {
        self.0.watch_consumer(watcher);
    }

    /// A new local `Sender<T>` for this channel, boxed: for a session whose
    /// peer sends this end back (it comes home instead of being forwarded).
    pub fn sender_any(&self) -> Box<dyn Any + Send> {
        self.0.sender_any()
    }
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}
