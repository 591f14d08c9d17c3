//! `ByteStream`: a duplex byte pipe that can travel inside a message.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ByteStreamError;

#[cfg(unix)]
mod fd;
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
    io: Mutex<Option<Backing>>,
    /// Set while a decode has lent this handle out: dropped unused, it gives
    /// its backing back (see `nest::held`).
    lender: Option<std::sync::Arc<dyn Lender>>,
}

/// Takes back a lent byte stream's backing when the handle is dropped.
pub(crate) trait Lender: Send + Sync {
    /// Keeps `stream`, or gives it back if the lending is over.
    fn give_back(&self, stream: ByteStream) -> Option<ByteStream>;
}

impl Drop for ByteStream {
    fn drop(&mut self) {
        if let Some(lender) = self.lender.take() {
            let backing = self
                .io
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(backing) = backing {
                drop(lender.give_back(ByteStream::with(Some(backing))));
            }
        }
    }
}

/// What a byte stream reads and writes.
enum Backing {
    /// Any IO object.
    Io(Pin<Box<dyn DuplexIo>>),
    /// A file descriptor, which a unix session can pass as is.
    #[cfg(unix)]
    Fd(Box<fd::FdIo>),
}

impl Backing {
    fn as_io(&mut self) -> Pin<&mut dyn DuplexIo> {
        match self {
            Backing::Io(io) => io.as_mut(),
            #[cfg(unix)]
            Backing::Fd(fd) => Pin::new(&mut **fd) as Pin<&mut dyn DuplexIo>,
        }
    }
}

impl ByteStream {
    /// Wraps any duplex IO object. Over every transport it travels as a
    /// proxied byte stream; see [`from_fd`](Self::from_fd) for a stream a
    /// unix session can hand over as a file descriptor.
    pub fn new(io: impl DuplexIo) -> Self {
        ByteStream::with(Some(Backing::Io(Box::pin(io))))
    }

    fn with(backing: Option<Backing>) -> Self {
        ByteStream {
            io: Mutex::new(backing),
            lender: None,
        }
    }

    /// This stream, lent out by a decode: dropped unused, its backing goes
    /// back to `lender`.
    pub(crate) fn lent(mut self, lender: std::sync::Arc<dyn Lender>) -> Self {
        self.lender = Some(lender);
        self
    }

    /// Moves what this stream reads and writes into a new stream (a file
    /// descriptor stays one); this one is spent. `None` if already spent.
    pub(crate) fn take_all(&self) -> Option<ByteStream> {
        let backing = self
            .io
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(ByteStream::with(Some(backing)))
    }

    /// A byte stream over a file descriptor you own: a connected socket
    /// (`std::net::TcpStream`, `std::os::unix::net::UnixStream`, or a tokio
    /// one through its `into_std()`), a pipe end, a terminal, a regular
    /// `std::fs::File`, or any `OwnedFd`.
    ///
    /// Sent over a unix session whose peer accepts descriptors, it travels
    /// as the descriptor itself (SCM_RIGHTS): the receiver gets the same
    /// socket, pipe or file (turn it back with [`into_fd`](Self::into_fd))
    /// and libchan is out of the data path. Over any other session it is
    /// read and written here and forwarded as a proxied byte stream, so the
    /// same program runs everywhere.
    ///
    /// The descriptor is untouched until the stream is read or written in
    /// this process; then a socket, pipe or terminal is made non-blocking
    /// (which its other copies, in this or another process, share) and a
    /// regular file is read on tokio's blocking pool. A write-only
    /// descriptor reads as ended; `shutdown` half-closes a socket and
    /// closes a write-only descriptor, so its reader sees the end.
    #[cfg(unix)]
    pub fn from_fd(fd: impl Into<std::os::fd::OwnedFd>) -> Self {
        ByteStream::with(Some(Backing::Fd(Box::new(fd::FdIo::new(fd.into())))))
    }

    /// Whether this stream is backed by a file descriptor (made with
    /// [`from_fd`](Self::from_fd), or received as one).
    #[cfg(unix)]
    pub fn is_fd(&self) -> bool {
        matches!(
            *self.io.lock().unwrap_or_else(PoisonError::into_inner),
            Some(Backing::Fd(_))
        )
    }

    /// The file descriptor behind this stream, with the flags it had when
    /// the stream was made (`std::net::TcpStream::from(fd)`,
    /// `std::fs::File::from(fd)`, ... turn it back into its type). Gives the
    /// stream back if it is not fd-backed, was sent, or was closed by
    /// `shutdown`.
    #[cfg(unix)]
    pub fn into_fd(mut self) -> Result<std::os::fd::OwnedFd, Self> {
        // Taken for good: a lent handle converted is not given back.
        self.lender = None;
        let backing = self
            .io
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match backing {
            Some(Backing::Fd(fd)) => fd.into_fd().ok_or_else(|| ByteStream::with(None)),
            other => Err(ByteStream::with(other)),
        }
    }

    /// Takes the descriptor out if this stream is fd-backed (the stream is
    /// spent); `None`, and the stream untouched, if it is not.
    #[cfg(unix)]
    pub(crate) fn take_fd(&self) -> Option<std::os::fd::OwnedFd> {
        let mut slot = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.take() {
            Some(Backing::Fd(fd)) => fd.into_fd(),
            other => {
                *slot = other;
                None
            }
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
            Some(io) => Ok(io.as_io()),
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
