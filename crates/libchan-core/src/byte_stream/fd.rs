//! A byte stream over a file descriptor: a socket, a pipe, a terminal or a
//! regular file, which a unix session can hand over as the descriptor
//! itself (SCM_RIGHTS) and any other session forwards as a proxied stream.
//!
//! The descriptor is left exactly as it was given (flags untouched) until
//! the stream is first read or written here; only then is it registered
//! with the runtime: a socket as a tokio stream, a pipe, FIFO or terminal as
//! tokio pipe ends (both made non-blocking; the old flags come back with
//! [`FdIo::into_fd`]), a regular file through tokio's blocking file, since
//! epoll cannot watch regular files.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::fs::{fcntl_getfl, fcntl_setfl, fstat, FileType, OFlags};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// The IO side of an fd-backed [`ByteStream`](super::ByteStream).
#[derive(Debug)]
pub(crate) struct FdIo {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not used for IO yet: can be handed over untouched.
    Idle(OwnedFd),
    /// A socket of any family, as a tokio stream (only read, write and
    /// half-close are used, which every stream socket has).
    Socket {
        io: tokio::net::UnixStream,
        /// The status flags it had before, restored when handed back.
        flags: OFlags,
    },
    /// A pipe, FIFO or terminal: a reading end if it was opened for
    /// reading, a writing end (a duplicate of the descriptor when it was
    /// opened for both) if for writing.
    Pipe {
        rx: Option<pipe::Receiver>,
        tx: Option<pipe::Sender>,
        flags: OFlags,
    },
    /// A regular file, read and written on the blocking pool.
    File(tokio::fs::File),
    /// Closed by `shutdown` (a write-only descriptor), or failed to register.
    Closed,
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from(e)
}

impl FdIo {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        FdIo {
            state: State::Idle(fd),
        }
    }

    /// The descriptor back, with its original flags; `None` if it was
    /// closed by `shutdown` or a regular file has an operation in flight.
    pub(crate) fn into_fd(self) -> Option<OwnedFd> {
        match self.state {
            State::Idle(fd) => Some(fd),
            State::Socket { io, flags } => {
                let fd = OwnedFd::from(io.into_std().ok()?);
                let _ = fcntl_setfl(&fd, flags);
                Some(fd)
            }
            State::Pipe { rx, tx, flags } => {
                let fd = match (rx, tx) {
                    (Some(rx), _) => rx.into_nonblocking_fd().ok()?,
                    (None, Some(tx)) => tx.into_nonblocking_fd().ok()?,
                    (None, None) => return None,
                };
                let _ = fcntl_setfl(&fd, flags);
                Some(fd)
            }
            State::File(file) => file.try_into_std().ok().map(OwnedFd::from),
            State::Closed => None,
        }
    }

    /// Registers the descriptor with the runtime on first use.
    fn activate(&mut self) -> io::Result<()> {
        if !matches!(self.state, State::Idle(_)) {
            return Ok(());
        }
        let State::Idle(fd) = std::mem::replace(&mut self.state, State::Closed) else {
            return Ok(());
        };
        let stat = fstat(&fd).map_err(errno)?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind == FileType::RegularFile {
            self.state = State::File(tokio::fs::File::from_std(File::from(fd)));
            return Ok(());
        }
        let flags = fcntl_getfl(&fd).map_err(errno)?;
        fcntl_setfl(&fd, flags | OFlags::NONBLOCK).map_err(errno)?;
        if kind == FileType::Socket {
            let std = std::os::unix::net::UnixStream::from(fd);
            self.state = State::Socket {
                io: tokio::net::UnixStream::from_std(std)?,
                flags,
            };
            return Ok(());
        }
        let access = flags & OFlags::ACCMODE;
        let (rx, tx) = if access == OFlags::RDONLY {
            (Some(pipe::Receiver::from_owned_fd_unchecked(fd)?), None)
        } else if access == OFlags::WRONLY {
            (None, Some(pipe::Sender::from_owned_fd_unchecked(fd)?))
        } else {
            let dup = fd.try_clone()?;
            (
                Some(pipe::Receiver::from_owned_fd_unchecked(fd)?),
                Some(pipe::Sender::from_owned_fd_unchecked(dup)?),
            )
        };
        self.state = State::Pipe { rx, tx, flags };
        Ok(())
    }
}

impl AsyncRead for FdIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.activate()?;
        match &mut this.state {
            State::Socket { io, .. } => Pin::new(io).poll_read(cx, buf),
            State::Pipe { rx: Some(rx), .. } => Pin::new(rx).poll_read(cx, buf),
            State::File(file) => Pin::new(file).poll_read(cx, buf),
            // A write-only descriptor (a pipe's write end) has nothing to
            // read: it is at its end.
            State::Pipe { rx: None, .. } | State::Idle(_) | State::Closed => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for FdIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.activate()?;
        match &mut this.state {
            State::Socket { io, .. } => Pin::new(io).poll_write(cx, data),
            State::Pipe { tx: Some(tx), .. } => Pin::new(tx).poll_write(cx, data),
            State::File(file) => Pin::new(file).poll_write(cx, data),
            State::Pipe { tx: None, rx, .. } if rx.is_some() => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this file descriptor is open for reading only",
            ))),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Socket { io, .. } => Pin::new(io).poll_flush(cx),
            State::File(file) => Pin::new(file).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Ends the writing direction: a socket is half-closed (the peer reads
    /// end-of-stream, and this side may still read); a pipe's or FIFO's
    /// writing end is closed, which is its reader's end-of-stream; a
    /// regular file is flushed.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.activate()?;
        match &mut this.state {
            State::Socket { io, .. } => Pin::new(io).poll_shutdown(cx),
            State::File(file) => Pin::new(file).poll_shutdown(cx),
            State::Pipe { tx, rx, .. } => {
                drop(tx.take());
                if rx.is_none() {
                    this.state = State::Closed;
                }
                Poll::Ready(Ok(()))
            }
            State::Idle(_) | State::Closed => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_socket_reads_writes_half_closes_and_comes_back_with_its_flags() {
        rt().block_on(async {
            let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
            let before = fcntl_getfl(&a).expect("flags");
            let mut io = FdIo::new(OwnedFd::from(a));
            let mut peer = tokio::net::UnixStream::from_std({
                b.set_nonblocking(true).expect("nonblocking");
                b
            })
            .expect("peer");
            io.write_all(b"ping").await.expect("write");
            io.shutdown().await.expect("half-close");
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.expect("read to the end");
            assert_eq!(got, b"ping");
            peer.write_all(b"pong").await.expect("write back");
            drop(peer);
            let mut back = Vec::new();
            io.read_to_end(&mut back).await.expect("read");
            assert_eq!(back, b"pong");
            let fd = io.into_fd().expect("the descriptor back");
            assert_eq!(fcntl_getfl(&fd).expect("flags"), before);
        });
    }

    #[test]
    fn a_pipe_write_end_reads_as_ended_and_closes_on_shutdown() {
        rt().block_on(async {
            let (rd, wr) = rustix::pipe::pipe().expect("pipe");
            let mut writer = FdIo::new(wr);
            let mut reader = FdIo::new(rd);
            let mut nothing = Vec::new();
            writer
                .read_to_end(&mut nothing)
                .await
                .expect("nothing to read");
            assert!(nothing.is_empty());
            writer.write_all(b"through a pipe").await.expect("write");
            writer.shutdown().await.expect("close the write end");
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.expect("read to the end");
            assert_eq!(got, b"through a pipe");
        });
    }

    #[test]
    fn a_regular_file_is_read_through_the_blocking_pool() {
        rt().block_on(async {
            let path = std::env::temp_dir().join(format!("libchan-fd-{}", std::process::id()));
            std::fs::write(&path, b"file contents").expect("write the file");
            let file = File::open(&path).expect("open");
            let mut io = FdIo::new(OwnedFd::from(file));
            let mut got = Vec::new();
            io.read_to_end(&mut got).await.expect("read");
            assert_eq!(got, b"file contents");
            let _ = std::fs::remove_file(&path);
        });
    }
}
