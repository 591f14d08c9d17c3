//! The errors of sending and receiving that hand the value back.

use std::fmt;

use super::*;

/// Why [`Sender::send`](crate::Sender::send) failed, with the value that was
/// not sent.
///
/// The value comes back whenever the message did not go out: the channel
/// is closed or broken, or (over a session) the message could not be
/// encoded or is above the peer's size limit. In the last two cases the
/// channel stays usable, and channel ends inside the value were already
/// handed to the session and failed with the same error (its plain data is
/// intact). [`error`](Self::error) says why; `?` converts it into that
/// [`ChannelError`], dropping the value.
///
/// Displays as its [`ChannelError`] and has that error's source, so an error
/// chain prints each cause once.
pub struct SendError<T> {
    value: T,
    error: ChannelError,
}

impl<T> SendError<T> {
    pub(crate) fn new(value: T, error: ChannelError) -> Self {
        SendError { value, error }
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Why it was not sent.
    pub fn error(&self) -> &ChannelError {
        &self.error
    }

    /// Why it was not sent, dropping the value.
    pub fn into_error(self) -> ChannelError {
        self.error
    }

    /// The value and the reason.
    pub fn into_parts(self) -> (T, ChannelError) {
        (self.value, self.error)
    }
}

impl<T> From<SendError<T>> for ChannelError {
    fn from(e: SendError<T>) -> Self {
        e.error
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .field("value", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for SendError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Why [`Sender::try_send`](crate::Sender::try_send) did not send, with the
/// value, as tokio's `mpsc::error::TrySendError` plus the network's own
/// reasons.
pub enum TrySendError<T> {
    /// The channel holds as many messages from local senders as its
    /// capacity allows (over a session: the peer's credit is used up and
    /// the local queue is full). Retry later, or drop the message: this is
    /// how a fan-out skips a slow subscriber.
    Full(T),
    /// The receiving end is gone or closed ([`ChannelError::Closed`]);
    /// nothing sent can be delivered any more.
    Closed(T),
    /// Any other failure, given. Either the channel broke (its session was
    /// lost, it was reset or aborted: sticky, every later send fails too),
    /// or, over a session, this message could not be encoded
    /// ([`ChannelError::Encode`]) or is above the peer's size limit
    /// ([`ChannelError::Limit`]): then the channel stays usable.
    Broken(T, ChannelError),
}

impl<T> TrySendError<T> {
    pub(crate) fn from_error(value: T, error: ChannelError) -> Self {
        match error {
            ChannelError::Closed => TrySendError::Closed(value),
            other => TrySendError::Broken(value, other),
        }
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) | TrySendError::Broken(v, _) => v,
        }
    }

    /// True for [`Full`](Self::Full): only a wait (or a drop) is needed.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`Closed`](Self::Closed).
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }

    /// The channel error behind a failure other than [`Full`](Self::Full)
    /// (`Closed` is [`ChannelError::Closed`]).
    pub fn error(&self) -> Option<ChannelError> {
        match self {
            TrySendError::Full(_) => None,
            TrySendError::Closed(_) => Some(ChannelError::Closed),
            TrySendError::Broken(_, e) => Some(e.clone()),
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
            TrySendError::Broken(_, e) => f.debug_tuple("Broken").field(&"..").field(e).finish(),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full: the message was not sent"),
            TrySendError::Closed(_) => fmt::Display::fmt(&ChannelError::Closed, f),
            TrySendError::Broken(_, e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrySendError::Broken(_, e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) returned no message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing is queued right now; more may come.
    #[error("channel empty: no message queued")]
    Empty,
    /// The channel ended cleanly: every sender is gone (or the receiver
    /// was closed) and every message was received. `recv` returns
    /// `Ok(None)` here.
    #[error("channel finished: every sender is gone and every message was received")]
    Closed,
    /// The channel broke; `recv` returns this error here.
    #[error(transparent)]
    Broken(ChannelError),
}
