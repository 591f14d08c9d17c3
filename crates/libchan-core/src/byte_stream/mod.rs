//! `ByteStream`: a duplex byte pipe that can travel inside a message.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ByteStreamError;

mod pipe;

/// Size of each direction's buffer in an in-memory [`ByteStream::pair`].
pub const PAIR_BUFFER: usize = 64 * 1024;

/// Anything a [`ByteStream`] can wrap: a socket, a pipe, a file, an
/// in-memory duplex, a session stream.
pub trait DuplexIo: AsyncRead + AsyncWrite + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + 'static> DuplexIo for T {}

/// A duplex byte stream (`AsyncRead + AsyncWrite`) that can be put in a
/// message.
///
/// In memory it is one end of a duplex pipe; over a multiplexed connection
/// it becomes a dedicated stream with its own flow control; over a unix
/// socket a stream backed by a file descriptor is passed as the descriptor.
/// Once sent, the local value is spent: reading or writing it fails.
///
/// # Ending
///
/// End-of-stream (a read of 0 bytes) always means the writer called
/// `shutdown`. Anything else — a writer dropped without `shutdown`, a
/// failing source, a reset, a lost session — is an `io::Error` whose inner
/// error is a [`ByteStreamError`] naming the cause
/// ([`ByteStreamError::of`] gets it back), on both sides.
pub struct ByteStream {
    // A mutex so that `Serialize` (which only sees `&self`) can take the IO
    // out when the stream is sent; reads and writes use `get_mut`, no lock.
    io: Mutex<Option<Pin<Box<dyn DuplexIo>>>>,
}

impl ByteStream {
    /// Wraps any duplex IO object.
    pub fn new(io: impl DuplexIo) -> Self {
        ByteStream {
            io: Mutex::new(Some(Box::pin(io))),
        }
    }

    pub(crate) fn from_pinned(io: Pin<Box<dyn DuplexIo>>) -> Self {
        ByteStream {
            io: Mutex::new(Some(io)),
        }
    }

    /// Two connected in-memory streams: what one writes the other reads,
    /// each direction buffering up to [`PAIR_BUFFER`] bytes.
    ///
    /// End-of-stream means the writer called `shutdown`; a writer dropped
    /// without it makes the reader fail with [`ByteStreamError::Aborted`]
    /// after the data, so an abandoned transfer never reads as complete.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let (mut a, mut b) = libchan_core::ByteStream::pair();
    /// a.write_all(b"ping").await?;
    /// let mut buf = [0u8; 4];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"ping");
    /// # Ok::<_, std::io::Error>(())
    /// # });
    /// ```
    pub fn pair() -> (ByteStream, ByteStream) {
        let (a, b) = pipe::pipe(PAIR_BUFFER);
        (ByteStream::new(a), ByteStream::new(b))
    }

    /// Takes the IO object out (the stream is being sent); `None` if it was
    /// already sent.
    pub fn take_io(&self) -> Option<Pin<Box<dyn DuplexIo>>> {
        self.io
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// True if this stream was already sent (its IO moved elsewhere).
    pub fn is_spent(&self) -> bool {
        self.io
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    fn io_mut(self: Pin<&mut Self>) -> io::Result<Pin<&mut dyn DuplexIo>> {
        match self
            .get_mut()
            .io
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(io) => Ok(io.as_mut()),
            None => Err(ByteStreamError::Spent.into()),
        }
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.io_mut() {
            Ok(io) => io.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for ByteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.io_mut() {
            Ok(io) => io.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io_mut() {
            Ok(io) => io.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io_mut() {
            Ok(io) => io.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("spent", &self.is_spent())
            .finish()
    }
}
