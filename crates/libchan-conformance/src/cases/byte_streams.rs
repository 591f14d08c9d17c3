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

/// Bytes of the large transfer: enough that every window and buffer on
/// the way fills and drains many times over.
const LARGE: usize = 256 << 20;

/// A checksum of a large transfer, position-sensitive (a reordering or
/// a lost chunk changes it), word by word so that it stays cheap in debug
/// builds. Chunks may end anywhere: `carry` keeps the partial word.
#[derive(Default)]
struct Checksum {
    hash: u64,
    carry: Vec<u8>,
}

impl Checksum {
    fn update(&mut self, mut bytes: &[u8]) {
        if !self.carry.is_empty() {
            let take = (8 - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.carry.len() == 8 {
                let word = std::mem::take(&mut self.carry);
                self.word(&word);
            }
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(w);
        }
        self.carry.extend_from_slice(words.remainder());
    }

    fn word(&mut self, w: &[u8]) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        self.hash = (self.hash ^ u64::from_le_bytes(a))
            .rotate_left(23)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(mut self) -> u64 {
        let carry = std::mem::take(&mut self.carry);
        for b in carry {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.hash
    }
}

/// The `i`th megabyte block of the large transfer.
fn fill_block(i: usize, block: &mut [u8]) {
    let seed = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for (j, w) in block.chunks_exact_mut(8).enumerate() {
        w.copy_from_slice(&(seed.wrapping_mul(j as u64 + 1)).to_le_bytes());
    }
}

/// 256 MiB through a byte stream arrive whole and in order (checksummed),
/// then end cleanly.
pub async fn byte_stream_carries_256_mib_intact<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    let (mut local, remote) = ByteStream::pair();
    tx.send(remote).await.expect("send the stream");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut far = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    let writer = tokio::spawn(async move {
        let mut sum = Checksum::default();
        let mut block = vec![0u8; 1 << 20];
        for i in 0..LARGE / block.len() {
            fill_block(i, &mut block);
            sum.update(&block);
            local.write_all(&block).await.expect("write");
        }
        local.shutdown().await.expect("shutdown");
        sum.finish()
    });
    let reader = async {
        let mut sum = Checksum::default();
        let mut total = 0usize;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = far.read(&mut buf).await.expect("read");
            if n == 0 {
                return (total, sum.finish());
            }
            sum.update(&buf[..n]);
            total += n;
        }
    };
    let (total, got) = within("256 MiB to arrive", reader).await;
    let sent = within("the writer", writer).await.expect("writer task");
    assert_eq!(total, LARGE, "every byte, no more");
    assert_eq!(got, sent, "the bytes are the ones written, in order");
}

/// Half-close works each way: after one side's `shutdown` the other still
/// writes, and each side reads the other's bytes to a clean end.
pub async fn byte_stream_half_closes_each_way<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    for dialer_first in [true, false] {
        let (mut near, remote) = ByteStream::pair();
        tx.send(remote).await.expect("send the stream");
        let mut far = within("recv", rx.recv())
            .await
            .expect("recv")
            .expect("stream");
        let (first, second) = if dialer_first {
            (&mut near, &mut far)
        } else {
            (&mut far, &mut near)
        };
        first.write_all(b"first, then done").await.expect("write");
        first.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        within("read the first side's bytes", second.read_to_end(&mut got))
            .await
            .expect("read to a clean end");
        assert_eq!(got, b"first, then done");
        // The half that is still open keeps working.
        second
            .write_all(b"the other way still open")
            .await
            .expect("write");
        second.shutdown().await.expect("shutdown");
        let mut back = Vec::new();
        within("read the second side's bytes", first.read_to_end(&mut back))
            .await
            .expect("read to a clean end");
        assert_eq!(back, b"the other way still open");
    }
}

/// A reader that goes away mid-stream stops the writer: its writes fail
/// (within a bounded time, whatever buffers sit between), never block
/// forever and never pretend to succeed indefinitely.
pub async fn byte_stream_reader_gone_mid_stream_fails_the_writer<H: Harness>(h: &H) {
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    let (mut local, remote) = ByteStream::pair();
    tx.send(remote).await.expect("send the stream");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut far = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    local.write_all(&[1u8; 64 << 10]).await.expect("write");
    let mut some = vec![0u8; 1024];
    far.read_exact(&mut some).await.expect("read a little");
    // The reader goes away without reading the rest.
    drop(far);
    let err = within("a write to fail once the reader is gone", async {
        let chunk = vec![2u8; 64 << 10];
        loop {
            if let Err(e) = local.write_all(&chunk).await {
                return e;
            }
        }
    })
    .await;
    assert_ne!(
        err.kind(),
        io::ErrorKind::Other,
        "the error says what happened: {err}"
    );
}

/// A hundred byte streams at once, each echoing its own bytes back.
pub async fn hundred_byte_streams_at_once<H: Harness>(h: &H) {
    const STREAMS: usize = 100;
    let (dialer, acceptor) = h.pair().await;
    let tx = dialer.open::<ByteStream>().expect("open");
    let mut rx = within("accept", acceptor.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let echoes = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..STREAMS {
            let mut stream = within("a stream", rx.recv())
                .await
                .expect("recv")
                .expect("stream");
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.expect("read");
                stream.write_all(&got).await.expect("echo");
                stream.shutdown().await.expect("shutdown");
            }));
        }
        for t in tasks {
            t.await.expect("echo task");
        }
    });
    let mut clients = Vec::new();
    for i in 0..STREAMS {
        let (mut local, remote) = ByteStream::pair();
        tx.send(remote).await.expect("send a stream");
        clients.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..64 << 10).map(|j| ((i * 13 + j) % 256) as u8).collect();
            local.write_all(&data).await.expect("write");
            local.shutdown().await.expect("shutdown");
            let mut back = Vec::new();
            local.read_to_end(&mut back).await.expect("read the echo");
            assert_eq!(back, data, "stream {i} echoed its own bytes");
        }));
    }
    within("every stream to echo", async {
        for c in clients {
            c.await.expect("client task");
        }
        echoes.await.expect("echo tasks");
    })
    .await;
}
