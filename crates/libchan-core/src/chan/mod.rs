//! Channels: the queue every `Sender`/`Receiver` pair shares, the handles,
//! and the pump that drains a queue onto a session stream.

mod receiver;
mod sender;
mod shared;
pub(crate) mod state;

use std::sync::Arc;

pub use receiver::Receiver;
pub use sender::{Permit, SendFuture, Sender};
pub use shared::SharedReceiver;

use crate::codec::Payload;
use crate::error::ChannelError;
use state::{wake, Chan, Consumer};

/// Creates an in-memory channel with the default capacity
/// ([`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY) messages), like Go's
/// `libchan.Pipe()`.
///
/// Either end may later be put in a message and sent over any session.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (tx, mut rx) = libchan_core::pipe::<&'static str>();
/// tx.send("hello").await?;
/// drop(tx);
/// assert_eq!(rx.recv().await?, Some("hello"));
/// assert_eq!(rx.recv().await?, None); // clean close: the last sender is gone
/// # Ok::<_, libchan_core::ChannelError>(())
/// # });
/// ```
pub fn pipe<T: Send + 'static>() -> (Sender<T>, Receiver<T>) {
    pipe_with_capacity(crate::DEFAULT_CAPACITY)
}

/// Creates an in-memory channel holding at most `capacity` unreceived
/// messages from local senders (at least 1); `send` waits beyond that.
pub fn pipe_with_capacity<T: Send + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(capacity, 1, Consumer::Local);
    (Sender::from_chan(chan.clone()), Receiver::from_chan(chan))
}

/// Encodes one message onto a drain's stream (the direct path of `send`).
pub(crate) fn send_one<T: Payload>(
    sink: &dyn crate::transport::StreamSink,
    value: &T,
) -> Result<crate::transport::Sent, ChannelError> {
    sink.send(&mut |codec, buf| value.encode(codec, buf))
}

/// Moves queued messages of a drained channel onto its stream, in order,
/// while the stream has credit. Only one caller pumps at a time; the others
/// return at once and the active pump picks up what they queued.
pub(crate) fn pump<T: Payload>(chan: &Arc<Chan<T>>) {
    let mut st = chan.lock();
    if st.pumping {
        return;
    }
    loop {
        let Consumer::Drain { sink, .. } = &st.consumer else {
            return;
        };
        let sink = sink.clone();
        if st.queue.is_empty() {
            if !st.finished && (st.error.is_some() || st.senders == 0) {
                st.finished = true;
                let error = st.error.clone();
                drop(st);
                match error {
                    Some(e) => sink.reset(&e),
                    None => sink.close(),
                }
            }
            return;
        }
        if !sink.has_credit() {
            return;
        }
        let Some(slot) = st.queue.pop_front() else {
            return;
        };
        let pass_on = st.release(&slot);
        st.pumping = true;
        drop(st);
        wake(pass_on);
        // A parked message goes out when the session can take it; nobody
        // waits for its ticket here (its `send` returned when it was
        // queued), so a failure breaks the channel (the session does that).
        let result = sink
            .send(&mut |codec, buf| slot.value.encode(codec, buf))
            .map(drop);
        // Dropping the slot here returns its credit to the session it came from.
        drop(slot);
        st = chan.lock();
        st.pumping = false;
        if let Err(e) = result {
            // A queued message that cannot be encoded, or a dead stream,
            // breaks the channel: its senders learn it on their next send.
            let dead = !matches!(e, ChannelError::Encode(_) | ChannelError::Limit(_));
            if dead {
                drop(st);
                chan.break_consumer(e);
                return;
            }
            st.error.get_or_insert(e);
        }
    }
}

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
