//! A session inside an HTTP server's request handler (hyper, axum): the
//! request body (any [`http_body::Body`]) is what the peer sends, a
//! [`ResponseBody`] handed back as the response is what we send.
//!
//! The server library owns the HTTP/2 stream and its flow control: it pulls
//! the response body when the peer's window allows, and gives the request
//! body's window back as we read. Between the session's writer and the
//! server library sits a small queue ([`PIPE_LIMIT`] bytes): a write waits
//! while it is full, so the session's own send buffer bound holds.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::{Body, Frame};
use libchan_core::{BoxError, Initiator};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;

/// Most bytes queued between the session and the HTTP server before a
/// write waits: 256 KiB, a few of the server's DATA frames. The server
/// library buffers at most one chunk beyond the peer's window on top.
const PIPE_LIMIT: usize = 256 << 10;

/// Largest chunk handed to the server library at once: 64 KiB.
const MAX_CHUNK: usize = 64 << 10;

/// The body of the response that carries a session (or of a refusal),
/// returned to the HTTP server library to send. Implements
/// [`http_body::Body`], with `Bytes` data.
///
/// A session's body ends (`END_STREAM`) when the session ends cleanly,
/// and fails, so the server library resets the stream, when the session
/// breaks; dropping it (the library gave up on the stream) breaks the
/// session.
#[derive(Debug)]
pub struct ResponseBody {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Text(Option<Bytes>),
    Session(Arc<Pipe>),
}

impl ResponseBody {
    /// A fixed body (a refusal's reason).
    pub(crate) fn text(text: String) -> Self {
        ResponseBody {
            inner: Inner::Text(Some(Bytes::from(text))),
        }
    }

    /// The body that streams a session's bytes, and the pipe its writer
    /// fills.
    pub(crate) fn session() -> (Self, Arc<Pipe>) {
        let pipe = Arc::new(Pipe::default());
        (
            ResponseBody {
                inner: Inner::Session(pipe.clone()),
            },
            pipe,
        )
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.inner {
            Inner::Text(text) => Poll::Ready(text.take().map(|t| Ok(Frame::data(t)))),
            Inner::Session(pipe) => {
                let mut st = pipe.lock();
                if let Some(chunk) = st.queue.pop_front() {
                    st.queued -= chunk.len();
                    if let Some(w) = st.writer.take() {
                        w.wake();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                if st.finished {
                    return Poll::Ready(None);
                }
                if st.abandoned {
                    return Poll::Ready(Some(Err(
                        "the libchan session ended without finishing its stream".into(),
                    )));
                }
                st.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Text(text) => text.is_none(),
            Inner::Session(_) => false,
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Inner::Session(pipe) = &self.inner {
            let mut st = pipe.lock();
            st.body_gone = true;
            if let Some(w) = st.writer.take() {
                w.wake();
            }
        }
    }
}

/// The queue between a session's writer and its [`ResponseBody`].
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
}

#[derive(Debug, Default)]
struct PipeState {
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The writer shut down: the body ends after the queue.
    finished: bool,
    /// The writer went away without shutting down: the body fails.
    abandoned: bool,
    /// The server library dropped the body: writes fail.
    body_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn lock(&self) -> std::sync::MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request body and the pipe into the response body, as
/// `AsyncRead + AsyncWrite` for the mux driver.
pub(crate) struct BodyIo<B: Body + Send + 'static> {
    /// Always `Some` until dropped (see [`Drop`]).
    body: Option<Pin<Box<B>>>,
    pending: Bytes,
    pipe: Arc<Pipe>,
    shut: bool,
    linger: Duration,
}

impl<B: Body + Send + 'static> BodyIo<B> {
    pub(crate) fn new(body: B, pipe: Arc<Pipe>, linger: Duration) -> Self {
        BodyIo {
            body: Some(Box::pin(body)),
            pending: Bytes::new(),
            pipe,
            shut: false,
            linger,
        }
    }
}

impl<B: Body + Send + 'static> std::fmt::Debug for BodyIo<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyIo")
            .field("pending", &self.pending.len())
            .field("shut", &self.shut)
            .finish()
    }
}

/// The error a failed request body ends the session with: the HTTP/2
/// reset or GOAWAY behind it when the server library's error leads to one
/// (hyper's does), else the library's error as it is.
fn body_error(err: BoxError) -> io::Error {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(&*err);
    while let Some(e) = current {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            let initiator = if h2.is_remote() {
                Initiator::Remote
            } else {
                Initiator::Local
            };
            match h2.reason() {
                Some(reason) if h2.is_reset() => {
                    return Error::StreamReset { reason, initiator }.into_io()
                }
                Some(reason) if h2.is_go_away() => {
                    return Error::GoAway { reason, initiator }.into_io()
                }
                _ => {}
            }
        }
        current = e.source();
    }
    Error::Body(err).into_io()
}

impl<B> AsyncRead for BodyIo<B>
where
    B: Body + Send + 'static,
    B::Error: Into<BoxError>,
{
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
            let body = this.body.as_mut().expect("the body is there until drop");
            match ready!(body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(frame)) => {
                    // Trailers carry nothing for libchan.
                    if let Ok(mut data) = frame.into_data() {
                        this.pending = data.copy_to_bytes(data.remaining());
                    }
                }
                Some(Err(e)) => return Poll::Ready(Err(body_error(e.into()))),
            }
        }
    }
}

impl<B: Body + Send + 'static> AsyncWrite for BodyIo<B> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut st = self.pipe.lock();
        if st.body_gone {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the HTTP server dropped the response carrying the session",
            )));
        }
        if st.queued >= PIPE_LIMIT {
            st.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(MAX_CHUNK);
        st.queue.push_back(Bytes::copy_from_slice(&buf[..n]));
        st.queued += n;
        if let Some(w) = st.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut = true;
        let mut st = self.pipe.lock();
        st.finished = true;
        if let Some(w) = st.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl<B: Body + Send + 'static> Drop for BodyIo<B> {
    /// Without a shutdown, the response body fails (the server library
    /// resets the stream). After one, the request body is read to its end
    /// (for at most the linger time) before it is dropped: dropping it
    /// early would reset the stream under our last frames, as for
    /// `H2Io`.
    fn drop(&mut self) {
        if !self.shut {
            let mut st = self.pipe.lock();
            st.abandoned = true;
            if let Some(w) = st.reader.take() {
                w.wake();
            }
            return;
        }
        let Some(mut body) = self.body.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let linger = self.linger;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(linger, async {
                while let Some(Ok(_)) =
                    std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
                {}
            })
            .await;
        });
    }
}
