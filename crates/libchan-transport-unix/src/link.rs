//! A unix stream socket as a [`Link`]: bytes with `sendmsg`/`recvmsg`, and
//! file descriptors beside them as SCM_RIGHTS ancillary data.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use libchan_mux::driver::{Link, LinkRead, LinkWrite, PassedFd};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use tokio::io::{AsyncWrite, Interest, ReadBuf};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::error::UnixError;

/// Most descriptors one `sendmsg` may carry on Linux (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;

/// A connected unix stream socket, for the mux driver.
#[derive(Debug)]
pub(crate) struct UnixLink {
    pub(crate) stream: UnixStream,
    /// Room for this many descriptors per read.
    pub(crate) fds_per_read: usize,
}

impl Link for UnixLink {
    type Read = Reader;
    type Write = Writer;

    fn passes_fds(&self) -> bool {
        true
    }

    fn split(self) -> (Reader, Writer) {
        let (rd, wr) = self.stream.into_split();
        let space = rustix::cmsg_space!(ScmRights(self.fds_per_read));
        (
            Reader {
                rd,
                space: vec![MaybeUninit::uninit(); space],
            },
            Writer { wr },
        )
    }
}

/// The reading half: `recvmsg` with room for the descriptors of one read.
#[derive(Debug)]
pub(crate) struct Reader {
    rd: OwnedReadHalf,
    space: Vec<MaybeUninit<u8>>,
}

impl LinkRead for Reader {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.rd.as_ref().poll_read_ready(cx))?;
            let stream: &UnixStream = self.rd.as_ref();
            let space = &mut self.space;
            let unfilled = buf.initialize_unfilled();
            let received = stream.try_io(Interest::READABLE, || {
                let mut control = RecvAncillaryBuffer::new(space);
                let mut iov = [IoSliceMut::new(unfilled)];
                let msg = rustix::net::recvmsg(
                    stream.as_fd(),
                    &mut iov,
                    &mut control,
                    RecvFlags::CMSG_CLOEXEC,
                )?;
                // Own every descriptor that arrived, so each is closed on
                // every path below, the error included.
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(received) = message {
                        fds.extend(received);
                    }
                }
                if msg.flags.contains(ReturnFlags::CTRUNC) {
                    return Err(UnixError::AncillaryTruncated.into());
                }
                Ok(msg.bytes)
            });
            match received {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// The writing half: `sendmsg`, descriptors with the first bytes.
#[derive(Debug)]
pub(crate) struct Writer {
    wr: OwnedWriteHalf,
}

impl LinkWrite for Writer {
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        fds: &mut Vec<PassedFd>,
    ) -> Poll<io::Result<usize>> {
        if fds.is_empty() {
            return Pin::new(&mut self.wr).poll_write(cx, buf);
        }
        loop {
            ready!(self.wr.as_ref().poll_write_ready(cx))?;
            let stream: &UnixStream = self.wr.as_ref();
            // More than one sendmsg can carry: send them a byte at a time
            // first, so every one still arrives before the OPENs in `buf`.
            let (chunk, count) = if fds.len() > SCM_MAX_FD {
                (&buf[..1], SCM_MAX_FD)
            } else {
                (buf, fds.len())
            };
            let sent = stream.try_io(Interest::WRITABLE, || {
                let borrowed: Vec<BorrowedFd<'_>> =
                    fds.iter().take(count).map(AsFd::as_fd).collect();
                let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(count))];
                let mut control = SendAncillaryBuffer::new(&mut space);
                if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
                    return Err(io::Error::other("control buffer too small"));
                }
                let n = rustix::net::sendmsg(
                    stream.as_fd(),
                    &[IoSlice::new(chunk)],
                    &mut control,
                    SendFlags::NOSIGNAL,
                )?;
                Ok(n)
            });
            match sent {
                Ok(n) => {
                    // The kernel holds its own references now: ours close.
                    fds.drain(..count);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.wr).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.wr).poll_shutdown(cx)
    }
}
