//! One HTTP/2 stream seen as a byte stream, so the mux driver can run
//! libchan's protocol over it: the request body one way, the response body
//! the other.
//!
//! Writing reserves HTTP/2 send capacity first and sends at most what the
//! peer's stream and connection windows allow, so nothing piles up inside
//! h2 beyond what the peer granted; a write waits (`Pending`) while the
//! windows are shut. Reading hands the DATA frames' payloads on in order
//! and gives their window back to the peer at once: libchan's own session
//! window (enforced by the mux) bounds what the application may leave
//! unread, so HTTP/2 only bounds what is in flight. Every HTTP/2 failure
//! becomes an [`std::io::Error`] whose inner error is a typed [`Error`].

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use libchan_core::Initiator;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;

/// Most send capacity requested from h2 at once: 1 MiB. A larger write is
/// sent in pieces, so one write never waits for more window than a peer
/// with HTTP/2's usual windows can grant.
const MAX_RESERVE: usize = 1 << 20;

/// The HTTP/2 receive window this crate announces, per stream and per
/// connection: the largest HTTP/2 allows (2^31 - 1 bytes).
///
/// HTTP/2 flow control does not bound our memory here: the data is handed
/// to libchan as it arrives and its window given back at once, and
/// libchan's own session window (enforced by the mux) bounds what a peer
/// may leave unread. A smaller window would only add a way to deadlock
/// behind a proxy. A proxy such as HAProxy announces a window but stops
/// reading a connection while its buffer for the stream is full. With both
/// directions of a session busy, its buffer toward us waits for our
/// `WINDOW_UPDATE`, which sits in the socket behind our DATA that it no
/// longer reads, while its buffer toward the peer waits the same way on
/// the peer: neither side ever moves again. With a window the proxy can
/// never use up, its buffers toward us drain whenever the socket does, and
/// both libchan ends always read their socket.
pub(crate) const RECEIVE_WINDOW: u32 = (1 << 31) - 1;

/// Most concurrent streams (sessions) a peer may open on one connection to
/// us: 256. A proxy multiplexes its clients' sessions onto few backend
/// connections; each session costs a libchan session's memory budget, so
/// the listener's own session cap is what really bounds them.
pub(crate) const MAX_CONCURRENT_STREAMS: u32 = 256;

/// An HTTP/2 stream (our [`SendStream`] and the peer's [`RecvStream`]) as
/// `AsyncRead + AsyncWrite`.
#[derive(Debug)]
pub(crate) struct H2Io {
    send: SendStream<Bytes>,
    /// Always `Some` until dropped (see [`Drop`]).
    recv: Option<RecvStream>,
    /// The unread rest of the last DATA frame.
    pending: Bytes,
    /// `END_STREAM` was sent (or could not be).
    finished: bool,
    /// How long the stream is kept open for the peer's `END_STREAM` once
    /// ours was sent and the session let go of it (see [`Drop`]).
    linger: Duration,
}

impl H2Io {
    pub(crate) fn new(send: SendStream<Bytes>, recv: RecvStream, linger: Duration) -> Self {
        H2Io {
            send,
            recv: Some(recv),
            pending: Bytes::new(),
            finished: false,
            linger,
        }
    }

    /// The error for a send stream that h2 says is closed: the peer's
    /// reset if there was one, else the connection's failure.
    fn closed_error(&mut self, cx: &mut Context<'_>) -> io::Error {
        match self.send.poll_reset(cx) {
            Poll::Ready(Ok(reason)) => Error::StreamReset {
                reason,
                initiator: Initiator::Remote,
            }
            .into_io(),
            Poll::Ready(Err(e)) => Error::from_h2(e).into_io(),
            Poll::Pending => io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the HTTP/2 stream carrying the session is closed for sending",
            ),
        }
    }
}

impl AsyncRead for H2Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            let recv = this
                .recv
                .as_mut()
                .expect("the receive half is there until drop");
            match ready!(recv.poll_data(cx)) {
                // END_STREAM: the end of the byte stream. Whether that was
                // a clean end is the libchan session's to say.
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => {
                    // Handing the bytes to the session is consuming them:
                    // the window goes back to the peer now.
                    if let Err(e) = recv.flow_control().release_capacity(data.len()) {
                        return Poll::Ready(Err(Error::from_h2(e).into_io()));
                    }
                    this.pending = data;
                }
                Some(Err(e)) => return Poll::Ready(Err(Error::from_h2(e).into_io())),
            }
        }
    }
}

impl AsyncWrite for H2Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.finished {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the HTTP/2 stream was already ended",
            )));
        }
        let mut capacity = this.send.capacity();
        if capacity == 0 {
            this.send.reserve_capacity(buf.len().min(MAX_RESERVE));
            loop {
                match ready!(this.send.poll_capacity(cx)) {
                    Some(Ok(0)) => continue,
                    Some(Ok(n)) => {
                        capacity = n;
                        break;
                    }
                    Some(Err(e)) => return Poll::Ready(Err(Error::from_h2(e).into_io())),
                    None => return Poll::Ready(Err(this.closed_error(cx))),
                }
            }
        }
        let n = capacity.min(buf.len());
        match this
            .send
            .send_data(Bytes::copy_from_slice(&buf[..n]), false)
        {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(Error::from_h2(e).into_io())),
        }
    }

    /// h2's connection task writes what was sent; there is nothing to
    /// flush at the stream.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Ends our half of the stream (`END_STREAM`). Errors are ignored: a
    /// reset stream is finished either way.
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.finished {
            self.finished = true;
            let _ = self.send.send_data(Bytes::new(), true);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Io {
    /// A stream dropped while both halves are open is reset (`CANCEL`) by
    /// h2, which is right for a session that broke. But once our
    /// `END_STREAM` is sent, a reset would race our last frames (h2 drops
    /// what it has not written yet, and the peer drops what it has not
    /// read): the libchan goodbye, or an abort's reason, would be lost.
    /// So the stream is kept until the peer ends its half too, reading and
    /// discarding, for at most the session's linger time.
    fn drop(&mut self) {
        let Some(mut recv) = self.recv.take() else {
            return;
        };
        if !self.finished || recv.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let linger = self.linger;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(linger, async {
                while let Some(Ok(data)) = recv.data().await {
                    let _ = recv.flow_control().release_capacity(data.len());
                }
            })
            .await;
        });
    }
}
