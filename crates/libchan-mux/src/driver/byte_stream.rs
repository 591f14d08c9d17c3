//! Byte streams over the session: a mux stream as `AsyncRead + AsyncWrite`,
//! and the bridge that carries a local byte stream across.
//!
//! End-of-stream is only ever the peer's CLOSE, sent by its `shutdown`. A
//! handle dropped without `shutdown` resets the stream with `ABORTED`; a
//! bridged local source that fails resets it with `ABORTED` and the
//! source's error as the reason; a reader that goes away resets it with
//! `CANCEL`. The other side's reads and writes then fail with the matching
//! [`ByteStreamError`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use libchan_core::{ByteStream, ByteStreamError, Initiator};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::export::not_sent;
use super::state::Shared;
use crate::{ErrorCode, SendError, StreamId};

/// Largest chunk one write puts in a DATA frame (smaller when the peer's
/// frame limit is).
const MAX_CHUNK: usize = 64 * 1024;

/// The reason a RESET carries for a handle dropped without `shutdown`.
const DROPPED: &str = "the writing end was dropped without shutdown";

/// What a RESET from the peer means for a byte stream.
pub(crate) fn remote_error(code: ErrorCode, reason: String) -> ByteStreamError {
    match code {
        ErrorCode::ABORTED => ByteStreamError::Aborted {
            initiator: Initiator::Remote,
            reason,
        },
        ErrorCode::CANCEL => ByteStreamError::Cancelled {
            initiator: Initiator::Remote,
        },
        code => ByteStreamError::Reset {
            initiator: Initiator::Remote,
            code: code.0,
            reason,
        },
    }
}

/// One byte stream of the session, as seen from this side.
pub(crate) struct MuxByteStream {
    shared: Arc<Shared>,
    id: StreamId,
    read: ReadSide,
    write: WriteSide,
}

/// The receiving half's state: the chunk being read, partly consumed.
#[derive(Default)]
struct ReadSide {
    current: Bytes,
}

/// The sending half's state.
#[derive(Default)]
struct WriteSide {
    /// `shutdown` ran: CLOSE was sent.
    closed: bool,
}

impl MuxByteStream {
    pub(crate) fn new(shared: &Arc<Shared>, id: StreamId) -> Self {
        MuxByteStream {
            shared: shared.clone(),
            id,
            read: ReadSide::default(),
            write: WriteSide::default(),
        }
    }
}

impl ReadSide {
    fn poll_read(
        &mut self,
        shared: &Shared,
        id: StreamId,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.current.is_empty() {
            let mut st = shared.lock();
            let ended = st.end.clone();
            let Some(state) = st.streams.get_mut(&id).and_then(|e| e.bytes.as_mut()) else {
                drop(st);
                let err = match ended {
                    Some(e) => ByteStreamError::SessionLost(e),
                    None => not_sent(),
                };
                return Poll::Ready(Err(err.into()));
            };
            match state.inbound.pop_front() {
                Some(chunk) => self.current = chunk,
                None => {
                    // The peer's CLOSE came first: a later RESET (its reader
                    // going away) concerns our writes, not this end.
                    if state.eof {
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(err) = state.error.clone() {
                        return Poll::Ready(Err(err.into()));
                    }
                    state.read_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current[..n]);
        self.current.advance(n);
        {
            let mut st = shared.lock();
            st.proto.consumed(id, n);
            st.proto.consumed_session(n);
        }
        shared.writer_wake.notify_one();
        Poll::Ready(Ok(()))
    }
}

impl WriteSide {
    fn poll_write(
        &mut self,
        shared: &Shared,
        id: StreamId,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        let mut st = shared.lock();
        if let Some(e) = st.end.clone() {
            return Poll::Ready(Err(ByteStreamError::SessionLost(e).into()));
        }
        let Some(state) = st.streams.get(&id).and_then(|e| e.bytes.as_ref()) else {
            return Poll::Ready(Err(not_sent().into()));
        };
        if let Some(err) = state.error.clone() {
            return Poll::Ready(Err(err.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let credit = usize::try_from(st.proto.send_credit(id)).unwrap_or(0);
        if st.proto.poll_send_ready(id) {
            let n = data
                .len()
                .min(MAX_CHUNK)
                .min(st.proto.max_payload())
                .min(credit)
                .max(1);
            match st.proto.send_data(id, &data[..n]) {
                Ok(()) => {
                    drop(st);
                    shared.writer_wake.notify_one();
                    return Poll::Ready(Ok(n));
                }
                Err(SendError::Blocked) => {}
                Err(e) => {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e)));
                }
            }
        }
        match st.streams.get_mut(&id).and_then(|e| e.bytes.as_mut()) {
            Some(state) => {
                state.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            None => Poll::Ready(Err(not_sent().into())),
        }
    }

    fn shutdown(&mut self, shared: &Arc<Shared>, id: StreamId) {
        if !self.closed {
            self.closed = true;
            shared.call(|st| {
                let _ = st.proto.close(id);
            });
        }
    }
}

/// Ends `id` abruptly from this side: `code` and `reason` reach the peer.
fn reset(shared: &Arc<Shared>, id: StreamId, code: ErrorCode, reason: &str) {
    shared.call(|st| st.proto.reset(id, code, reason));
}

impl AsyncRead for MuxByteStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.read.poll_read(&this.shared, this.id, cx, buf)
    }
}

impl AsyncWrite for MuxByteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.write.poll_write(&this.shared, this.id, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are in the session's transmit buffer; its writer task
        // moves them without being asked.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.write.shutdown(&this.shared, this.id);
        Poll::Ready(Ok(()))
    }
}

impl Drop for MuxByteStream {
    /// Dropped without `shutdown`: the peer's reads fail (`ABORTED`), never
    /// a clean end. Dropped with unread input after `shutdown`: the peer's
    /// writes fail (`CANCEL`).
    fn drop(&mut self) {
        let id = self.id;
        let closed = self.write.closed;
        let unread = self.read.current.len();
        self.shared.call(|st| {
            if unread > 0 {
                st.proto.consumed_session(unread);
            }
            let peer_done = st
                .streams
                .get(&id)
                .and_then(|e| e.bytes.as_ref())
                .is_none_or(|b| b.eof || b.error.is_some());
            if !closed {
                st.proto.reset(id, ErrorCode::ABORTED, DROPPED);
            } else if !peer_done {
                st.proto
                    .reset(id, ErrorCode::CANCEL, "the reading end was dropped");
            }
            st.remove_stream(id)
        });
    }
}

/// How one direction of a bridge ended.
enum Direction {
    /// End-of-stream was passed on.
    Finished,
    /// The stream failed; stop both directions.
    Failed,
}

/// Copies both ways between a local byte stream and its session stream
/// until both directions finish, passing failures on as failures: a local
/// source that fails resets the session stream with its error, and a
/// session stream that fails is never turned into a clean end locally (the
/// local stream is dropped without `shutdown`).
pub(crate) async fn bridge(local: ByteStream, mut remote: MuxByteStream) {
    let (mut local_rd, mut local_wr) = tokio::io::split(local);
    let shared = remote.shared.clone();
    let id = remote.id;
    let MuxByteStream { read, write, .. } = &mut remote;

    let up = async {
        let mut buf = vec![0u8; MAX_CHUNK];
        loop {
            match local_rd.read(&mut buf).await {
                Ok(0) => {
                    write.shutdown(&shared, id);
                    return Direction::Finished;
                }
                Ok(n) => {
                    let mut sent = 0;
                    while sent < n {
                        let chunk = &buf[sent..n];
                        match std::future::poll_fn(|cx| write.poll_write(&shared, id, cx, chunk))
                            .await
                        {
                            Ok(k) => sent += k,
                            Err(_) => return Direction::Failed,
                        }
                    }
                }
                Err(e) => {
                    reset(
                        &shared,
                        id,
                        ErrorCode::ABORTED,
                        &format!("the byte stream's source failed: {e}"),
                    );
                    // Nothing to shut down cleanly any more.
                    write.closed = true;
                    return Direction::Failed;
                }
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; MAX_CHUNK];
        loop {
            let mut rb = ReadBuf::new(&mut buf);
            match std::future::poll_fn(|cx| read.poll_read(&shared, id, cx, &mut rb)).await {
                Ok(()) if rb.filled().is_empty() => {
                    let _ = local_wr.shutdown().await;
                    return Direction::Finished;
                }
                Ok(()) => {
                    let n = rb.filled().len();
                    if local_wr.write_all(&buf[..n]).await.is_err() {
                        reset(&shared, id, ErrorCode::CANCEL, "the local reader went away");
                        return Direction::Failed;
                    }
                }
                Err(_) => return Direction::Failed,
            }
        }
    };
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        let failed = tokio::select! {
            d = &mut up, if !up_done => { up_done = true; matches!(d, Direction::Failed) }
            d = &mut down, if !down_done => { down_done = true; matches!(d, Direction::Failed) }
        };
        if failed {
            break;
        }
    }
    // Dropping the local halves without `shutdown` after a failure makes a
    // local reader see an error, not an end; dropping `remote` resets the
    // session stream unless both directions finished.
}
