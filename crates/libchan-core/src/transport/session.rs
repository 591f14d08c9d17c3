//! The `Session` trait every transport implements, and its typed face.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{ExportedReceiver, IncomingEnd};
use crate::chan::{pipe_with_capacity, Receiver, Sender};
use crate::codec::Payload;
use crate::error::SessionError;

/// Identifies one session within this process (never reused), so a session
/// can recognise ends that already drain onto its own streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    /// A fresh id, distinct from every other in this process (transports
    /// get one from [`new_session_id`](super::new_session_id)).
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
    }
}

/// Counters a session exposes, for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Streams currently open on the connection (0 for in-memory sessions).
    pub streams: usize,
    /// Channels this session feeds that are themselves drained onto another
    /// session's stream: messages that hop through this process.
    pub forwarders: usize,
    /// Top-level channels the peer opened that nobody accepted yet.
    pub pending_accepts: usize,
    /// Bytes received from the peer that the application has not consumed
    /// yet (messages waiting for `recv` or `accept`, unread byte-stream
    /// data), as the session's flow control counts them.
    pub buffered_in: u64,
    /// Bytes queued for the connection and not yet handed to the writer.
    pub buffered_out: u64,
    /// Bytes read from the connection since the session started, frame
    /// heads and control frames included (0 for in-memory sessions).
    pub bytes_in: u64,
    /// Bytes handed to the connection since the session started (0 for
    /// in-memory sessions).
    pub bytes_out: u64,
    /// Messages received on this session's channels (0 for in-memory
    /// sessions, whose values never cross a connection).
    pub messages_in: u64,
    /// Messages sent on this session's channels (0 for in-memory
    /// sessions).
    pub messages_out: u64,
}

/// One end of a connection between two peers, over which either side opens
/// top-level channels toward the other and accepts the other's.
///
/// "Client" and "server" only name who dialled: both sides can open channels.
/// Transports implement this trait; users call the typed methods of
/// [`SessionExt`] (`open::<T>()`, `accept::<T>()`).
#[async_trait]
pub trait Session: Send + Sync + fmt::Debug + 'static {
    /// This session's process-wide identity.
    fn id(&self) -> SessionId;

    /// Opens a new top-level channel toward the peer, whose receiving end is
    /// `end`; the peer gets it from [`accept_end`](Self::accept_end).
    ///
    /// Costs no round trip and waits for nothing: the caller may send at once.
    fn open_end(&self, end: ExportedReceiver) -> Result<(), SessionError>;

    /// Waits for the next top-level channel the peer opened.
    ///
    /// `Ok(None)` once the session has ended cleanly; an error if it broke.
    /// Cancel-safe.
    async fn accept_end(&self) -> Result<Option<IncomingEnd>, SessionError>;

    /// Ends the session gracefully and waits until it has ended.
    ///
    /// Neither side can open new top-level channels from now on (the
    /// peer's `accept` returns `None` once the channels opened before are
    /// accepted), while the channels already open finish: every message
    /// whose `send` returned `Ok` is delivered, including those still
    /// queued for credit, and streams end as their senders are dropped.
    /// Returns `Ok` once everything finished and both sides said goodbye;
    /// an error if the session broke meanwhile, or if channels were still
    /// open when the transport's linger timeout ran out (they are then
    /// aborted, as by [`abort`](Self::abort)). Closing twice, or after the
    /// peer closed, waits for the same end.
    async fn close(&self) -> Result<(), SessionError>;

    /// Ends the session abruptly, as a crash would but with a reason: no
    /// draining, every channel and byte stream on it breaks, and the peer
    /// sees [`SessionError::Aborted`] with `reason`.
    fn abort(&self, reason: &str);

    /// Current counters.
    fn stats(&self) -> SessionStats;

    /// Waits until the session is established, or returns the error that
    /// ended it first: over a connection, until the peer's handshake
    /// arrived (version, codec and limits agreed), which is when a bad
    /// magic, a version or codec mismatch or a handshake timeout shows.
    /// Channels can be opened and used before; this is for code that wants
    /// to fail early, and before passing what needs the peer's limits (a
    /// unix session passes file descriptors only once it knows the peer
    /// takes them). A transport without a handshake (in memory) returns
    /// `Ok` at once; one that wraps another session must delegate.
    async fn handshake(&self) -> Result<(), SessionError>;

    /// The capacity (messages from local senders before `send` waits) of
    /// channels this session builds for ends that arrive: the channels
    /// [`SessionExt::accept`] returns and the ends inside received
    /// messages. A session-wide setting of the transport; the default is
    /// [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY).
    fn channel_capacity(&self) -> usize {
        crate::DEFAULT_CAPACITY
    }
}

/// The typed calls on any [`Session`].
#[async_trait]
pub trait SessionExt: Session {
    /// Opens a top-level channel toward the peer and returns its sending end.
    ///
    /// ```
    /// # async fn demo(session: &dyn libchan_core::Session) -> Result<(), Box<dyn std::error::Error>> {
    /// use libchan_core::SessionExt;
    /// let tx = session.open::<String>()?;
    /// tx.send("hello".to_string()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The channel holds [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY)
    /// messages queued for the connection before `send` waits; see
    /// [`open_with_capacity`](Self::open_with_capacity).
    fn open<T: Payload>(&self) -> Result<Sender<T>, SessionError> {
        self.open_with_capacity(crate::DEFAULT_CAPACITY)
    }

    /// [`open`](Self::open) with a channel holding at most `capacity`
    /// messages (at least 1) queued on this side before `send` waits. Over
    /// a connection that queue fills once the peer's credit for the stream
    /// is used up; a larger one absorbs bursts, a smaller one pushes back
    /// sooner.
    fn open_with_capacity<T: Payload>(&self, capacity: usize) -> Result<Sender<T>, SessionError> {
        let (tx, rx) = pipe_with_capacity(capacity);
        self.open_end(ExportedReceiver::new(rx))?;
        Ok(tx)
    }

    /// Waits for the peer's next top-level channel and returns its receiving
    /// end, typed as `T`.
    ///
    /// `Ok(None)` once the session ended cleanly. Over a connection the type
    /// is checked message by message (a message that does not decode as `T`
    /// breaks the channel); in memory it is checked here.
    ///
    /// The channel gets the session's
    /// [`channel_capacity`](Session::channel_capacity).
    async fn accept<T: Payload>(&self) -> Result<Option<Receiver<T>>, SessionError> {
        let capacity = self.channel_capacity();
        self.accept_with_capacity(capacity).await
    }

    /// [`accept`](Self::accept) with a channel holding at most `capacity`
    /// messages from local senders; what the peer sends is bounded by the
    /// stream's credit window instead.
    async fn accept_with_capacity<T: Payload>(
        &self,
        capacity: usize,
    ) -> Result<Option<Receiver<T>>, SessionError> {
        match self.accept_end().await? {
            None => Ok(None),
            Some(end) => Receiver::from_incoming_with_capacity(end, capacity)
                .map(Some)
                .map_err(SessionError::Reference),
        }
    }
}

impl<S: Session + ?Sized> SessionExt for S {}
