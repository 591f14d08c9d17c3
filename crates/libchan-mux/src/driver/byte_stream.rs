//! Byte streams over the session: a mux stream as `AsyncRead + AsyncWrite`,
//! and the bridge that carries a local byte stream across.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use libchan_core::ByteStream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::state::Shared;
use crate::{ErrorCode, SendError, StreamId};

/// Largest chunk one write puts in a DATA frame.
const MAX_CHUNK: usize = 64 * 1024;

/// One byte stream of the session, as seen from this side.
pub(crate) struct MuxByteStream {
    shared: Arc<Shared>,
    id: StreamId,
    /// The chunk being read, partly consumed.
    current: Bytes,
    write_closed: bool,
}

impl MuxByteStream {
    pub(crate) fn new(shared: &Arc<Shared>, id: StreamId) -> Self {
        MuxByteStream {
            shared: shared.clone(),
            id,
            current: Bytes::new(),
            write_closed: false,
        }
    }

    fn broken(&self, why: Option<String>) -> io::Error {
        let why = why
            .or_else(|| self.shared.ended().map(|e| e.to_string()))
            .unwrap_or_else(|| "the byte stream was reset".into());
        io::Error::new(io::ErrorKind::ConnectionReset, why)
    }
}

impl AsyncRead for MuxByteStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.current.is_empty() {
            let mut st = this.shared.lock();
            let ended = st.end.clone();
            let Some(state) = st.streams.get_mut(&this.id).and_then(|e| e.bytes.as_mut()) else {
                drop(st);
                return match ended {
                    // Finished and forgotten after a clean close: end of stream.
                    None => Poll::Ready(Ok(())),
                    Some(e) => Poll::Ready(Err(this.broken(Some(e.to_string())))),
                };
            };
            match state.inbound.pop_front() {
                Some(chunk) => this.current = chunk,
                None => {
                    if let Some(why) = state.error.clone() {
                        drop(st);
                        return Poll::Ready(Err(this.broken(Some(why))));
                    }
                    if state.eof {
                        return Poll::Ready(Ok(()));
                    }
                    state.read_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
        let n = this.current.len().min(buf.remaining());
        buf.put_slice(&this.current[..n]);
        this.current.advance(n);
        this.shared.lock().proto.consumed(this.id, n);
        this.shared.writer_wake.notify_one();
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MuxByteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        let mut st = this.shared.lock();
        if let Some(e) = st.end.clone() {
            drop(st);
            return Poll::Ready(Err(this.broken(Some(e.to_string()))));
        }
        if let Some(why) = st
            .streams
            .get(&this.id)
            .and_then(|e| e.bytes.as_ref())
            .and_then(|b| b.error.clone())
        {
            drop(st);
            return Poll::Ready(Err(this.broken(Some(why))));
        }
        let credit = st.proto.send_credit(this.id);
        if st.proto.poll_send_ready(this.id) {
            let n = data.len().min(MAX_CHUNK).min(credit as usize).max(1);
            match st.proto.send_data(this.id, &data[..n]) {
                Ok(()) => {
                    drop(st);
                    this.shared.writer_wake.notify_one();
                    return Poll::Ready(Ok(n));
                }
                Err(SendError::Blocked) => {}
                Err(e) => {
                    drop(st);
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e)));
                }
            }
        }
        match st.streams.get_mut(&this.id).and_then(|e| e.bytes.as_mut()) {
            Some(state) => {
                state.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            None => Poll::Ready(Err(this.broken(None))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are in the session's transmit buffer; its writer task
        // moves them without being asked.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            this.write_closed = true;
            let _ = this.shared.lock().proto.close(this.id);
            this.shared.writer_wake.notify_one();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for MuxByteStream {
    fn drop(&mut self) {
        let entry = {
            let mut st = self.shared.lock();
            let peer_done = st
                .streams
                .get(&self.id)
                .and_then(|e| e.bytes.as_ref())
                .is_none_or(|b| b.eof || b.error.is_some());
            if peer_done && self.write_closed {
                // Both halves finished cleanly.
            } else if peer_done {
                let _ = st.proto.close(self.id);
            } else {
                st.proto
                    .reset(self.id, ErrorCode::CANCEL, "the byte stream was dropped");
            }
            st.streams.remove(&self.id)
        };
        self.shared.writer_wake.notify_one();
        drop(entry);
    }
}

/// Copies both ways between a local byte stream and its session stream
/// until both directions finish.
pub(crate) async fn bridge(mut local: ByteStream, mut remote: MuxByteStream) {
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
    let _ = local.shutdown().await;
    let _ = remote.shutdown().await;
}
