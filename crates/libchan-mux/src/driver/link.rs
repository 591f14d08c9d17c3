//! What the driver runs a session over: a byte stream that may also carry
//! file descriptors.
//!
//! Every `AsyncRead + AsyncWrite` is a [`Link`] through [`StreamLink`] (no
//! descriptors). A transport whose connection can pass descriptors (a unix
//! socket, with SCM_RIGHTS) implements the traits itself; the driver then
//! sends a descriptor-backed byte stream as the descriptor (see
//! `docs/PROTOCOL.md`, "Passing file descriptors").

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A file descriptor passed beside the bytes.
#[cfg(unix)]
pub type PassedFd = std::os::fd::OwnedFd;

/// A file descriptor passed beside the bytes (none exist off unix).
#[cfg(not(unix))]
#[derive(Debug)]
pub enum PassedFd {}

/// A connection to run a session over.
pub trait Link: Send + 'static {
    /// The reading half.
    type Read: LinkRead;
    /// The writing half.
    type Write: LinkWrite;

    /// Whether descriptors can travel over this connection.
    fn passes_fds(&self) -> bool;

    /// Splits the connection into halves that work concurrently.
    fn split(self) -> (Self::Read, Self::Write);
}

/// The reading half of a [`Link`].
pub trait LinkRead: Send + Unpin + 'static {
    /// Reads bytes into `buf`, like `AsyncRead::poll_read` (filling nothing
    /// is end-of-stream). Descriptors that arrived with them are appended
    /// to `fds`, in the order they were sent; they arrive no later than the
    /// bytes of the write that carried them.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<()>>;
}

/// The writing half of a [`Link`].
pub trait LinkWrite: Send + Unpin + 'static {
    /// Writes from `buf`, like `AsyncWrite::poll_write`. If `fds` is not
    /// empty, every descriptor in it goes with the first byte written, and
    /// `fds` is emptied once that write succeeded.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<usize>>;

    /// Flushes, like `AsyncWrite::poll_flush`.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts the writing direction down, like `AsyncWrite::poll_shutdown`.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// Any `AsyncRead + AsyncWrite` as a [`Link`] that carries no descriptors.
#[derive(Debug)]
pub struct StreamLink<IO>(pub IO);

impl<IO: AsyncRead + AsyncWrite + Send + 'static> Link for StreamLink<IO> {
    type Read = tokio::io::ReadHalf<IO>;
    type Write = tokio::io::WriteHalf<IO>;

    fn passes_fds(&self) -> bool {
        false
    }

    fn split(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self.0)
    }
}

impl<IO: AsyncRead + Send + 'static> LinkRead for tokio::io::ReadHalf<IO> {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        _fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<()>> {
        AsyncRead::poll_read(Pin::new(self), cx, buf)
    }
}

impl<IO: AsyncWrite + Send + 'static> LinkWrite for tokio::io::WriteHalf<IO> {
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<usize>> {
        debug_assert!(fds.is_empty(), "no descriptors over a plain stream");
        AsyncWrite::poll_write(Pin::new(self), cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(self), cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(Pin::new(self), cx)
    }
}
