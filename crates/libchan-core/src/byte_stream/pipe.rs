//! The in-memory duplex pipe behind [`ByteStream::pair`](super::ByteStream::pair).
//!
//! Unlike `tokio::io::duplex`, it tells a writer that called `shutdown`
//! (the reader sees end-of-stream) from one that was dropped without it
//! (the reader sees [`ByteStreamError::Aborted`]): an abandoned upload must
//! never read as a complete one.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ByteStreamError;
use crate::Initiator;

/// What a reader of an abandoned pipe is told.
pub(crate) const ABANDONED: &str = "the writing end was dropped without shutdown";

/// How the writing side of one direction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writer {
    Open,
    /// `shutdown` was called: the reader gets end-of-stream after the data.
    Shutdown,
    /// Dropped without `shutdown`: the reader gets an error after the data.
    Dropped,
}

/// One direction of the pipe.
struct Direction {
    state: Mutex<DirectionState>,
    capacity: usize,
}

struct DirectionState {
    buf: BytesMut,
    writer: Writer,
    reader_gone: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Direction {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Direction {
            state: Mutex::new(DirectionState {
                buf: BytesMut::new(),
                writer: Writer::Open,
                reader_gone: false,
                read_waker: None,
                write_waker: None,
            }),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, DirectionState> {
        // No user code runs under the lock; the state is always consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One end of an in-memory duplex pipe.
pub(crate) struct PipeEnd {
    /// What this end reads (the peer writes it).
    rx: Arc<Direction>,
    /// What this end writes (the peer reads it).
    tx: Arc<Direction>,
}

/// Two connected ends, each direction buffering at most `capacity` bytes.
pub(crate) fn pipe(capacity: usize) -> (PipeEnd, PipeEnd) {
    let a_to_b = Direction::new(capacity);
    let b_to_a = Direction::new(capacity);
    (
        PipeEnd {
            rx: b_to_a.clone(),
            tx: a_to_b.clone(),
        },
        PipeEnd {
            rx: a_to_b,
            tx: b_to_a,
        },
    )
}

impl AsyncRead for PipeEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.rx.lock();
        if !st.buf.is_empty() {
            let n = st.buf.len().min(out.remaining());
            out.put_slice(&st.buf[..n]);
            st.buf.advance(n);
            let waker = st.write_waker.take();
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            return Poll::Ready(Ok(()));
        }
        match st.writer {
            Writer::Shutdown => Poll::Ready(Ok(())),
            Writer::Dropped => Poll::Ready(Err(ByteStreamError::Aborted {
                initiator: Initiator::Local,
                reason: ABANDONED.into(),
            }
            .into())),
            Writer::Open => {
                if !st
                    .read_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    st.read_waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for PipeEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let capacity = self.tx.capacity;
        let mut st = self.tx.lock();
        if st.reader_gone {
            return Poll::Ready(Err(ByteStreamError::Cancelled {
                initiator: Initiator::Local,
            }
            .into()));
        }
        if st.writer != Writer::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = capacity.saturating_sub(st.buf.len());
        if room == 0 {
            if !st
                .write_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                st.write_waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let n = room.min(data.len());
        st.buf.extend_from_slice(&data[..n]);
        let waker = st.read_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.tx.lock();
        if st.writer == Writer::Open {
            st.writer = Writer::Shutdown;
        }
        let waker = st.read_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let read_waker = {
            let mut st = self.tx.lock();
            if st.writer == Writer::Open {
                st.writer = Writer::Dropped;
            }
            st.read_waker.take()
        };
        let write_waker = {
            let mut st = self.rx.lock();
            st.reader_gone = true;
            st.buf = BytesMut::new();
            st.write_waker.take()
        };
        for w in [read_waker, write_waker].into_iter().flatten() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn shutdown_is_end_of_stream_after_the_data() {
        rt().block_on(async {
            let (mut a, mut b) = pipe(4);
            let writer = tokio::spawn(async move {
                a.write_all(b"hello world").await.expect("write");
                a.shutdown().await.expect("shutdown");
                a
            });
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.expect("a clean end");
            assert_eq!(got, b"hello world");
            drop(writer.await.expect("writer"));
        });
    }

    #[test]
    fn a_writer_dropped_without_shutdown_is_an_error_after_the_data() {
        rt().block_on(async {
            let (mut a, mut b) = pipe(64);
            a.write_all(b"partial").await.expect("write");
            drop(a);
            let mut got = [0u8; 7];
            b.read_exact(&mut got).await.expect("the data first");
            assert_eq!(&got, b"partial");
            let err = b.read(&mut [0u8; 8]).await.expect_err("not a clean end");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            assert!(matches!(
                ByteStreamError::of(&err),
                Some(ByteStreamError::Aborted { .. })
            ));
        });
    }

    #[test]
    fn writing_to_a_dropped_reader_fails() {
        rt().block_on(async {
            let (mut a, b) = pipe(64);
            drop(b);
            let err = a.write_all(b"x").await.expect_err("nobody reads");
            assert!(matches!(
                ByteStreamError::of(&err),
                Some(ByteStreamError::Cancelled { .. })
            ));
        });
    }
}
