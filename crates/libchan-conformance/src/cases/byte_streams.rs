//! Byte streams: end-of-stream only after `shutdown`, every failure an
//! error with its cause.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use libchan_core::{ByteStream, SessionExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::{within, Harness};

const UPLOAD: usize = 3 << 20;

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// An upload whose writer is dropped without `shutdown` is an error at the
/// reader after the data, never a complete stream; the same upload ended
/// with `shutdown` reads whole, then end-of-stream.
pub async fn byte_stream_dropped_without_shutdown_reads_as_an_error<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    for shutdown in [false, true] {
        let (mut local, remote) = ByteStream::pair();
        tx.send(remote).await.expect("send a byte stream");
        let writer = tokio::spawn(async move {
            let data: Vec<u8> = (0..UPLOAD).map(pattern).collect();
            local.write_all(&data).await.expect("write the upload");
            if shutdown {
                local.shutdown().await.expect("shutdown");
            }
            // Dropped here, with or without shutdown.
        });
        let mut stream = within("recv the stream", rx.recv())
            .await
            .expect("recv")
            .expect("a stream");
        let mut got = Vec::new();
        let read = within("read to the end", stream.read_to_end(&mut got)).await;
        within("the writer", writer).await.expect("writer task");
        assert!(got.len() <= UPLOAD, "never more than was written");
        assert!(
            got.iter().enumerate().all(|(i, b)| *b == pattern(i)),
            "the bytes that arrived are the ones written"
        );
        if shutdown {
            read.expect("a stream ended with shutdown reads to a clean end");
            assert_eq!(got.len(), UPLOAD, "all of it");
        } else {
            let err = read.expect_err("a writer dropped without shutdown is not a clean end");
            assert_ne!(
                err.kind(),
                io::ErrorKind::Other,
                "the error says what happened: {err}"
            );
        }
    }
}

/// A source that fails mid-stream.
struct FailingSource {
    left: usize,
}

impl AsyncRead for FailingSource {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::other("disk on fire")));
        }
        let n = self.left.min(buf.remaining()).min(4096);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FailingSource {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A byte stream whose source fails mid-way reaches the reader as an error
/// carrying the source's reason, never as end-of-stream.
pub async fn failing_byte_stream_source_reads_as_an_error<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    tx.send(ByteStream::new(FailingSource { left: 100_000 }))
        .await
        .expect("send a byte stream");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut stream = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("a stream");
    let mut got = Vec::new();
    let err = within("read to the failure", stream.read_to_end(&mut got))
        .await
        .expect_err("a failing source is not a clean end");
    assert!(got.len() <= 100_000);
    assert!(
        err.to_string().contains("disk on fire"),
        "the reader learns the source's failure, got {err}"
    );
}
