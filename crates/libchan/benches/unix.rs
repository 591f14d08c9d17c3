//! libchan over unix sockets beside, in the same run: a raw length-prefixed
//! unix socket, a raw bulk copy, and Servo's `ipc-channel` (the crate Rust
//! programs pick for IPC today) doing the same work.
//!
//! * one-way throughput, 16 B and 64 KiB messages (msgpack `Bytes`);
//! * a byte stream proxied over the session vs a raw socket bulk copy;
//! * a socket passed as a descriptor, then used directly, vs the raw socket;
//! * request/response with a fresh reply channel per request, p50/p99.
//!
//! ipc-channel is blocking: it runs on its own threads, in this process
//! (its sockets are the same kind of unix socketpair).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use libchan::codec::Msgpack;
use libchan::unix::{pair, Config, UnixSession};
use libchan::{ByteStream, Request, SessionExt};
use support::{iters, print, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::UnixStream;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn sessions() -> (UnixSession, UnixSession) {
    pair(Config::new(Msgpack)).expect("pair")
}

async fn raw_one_way(n: u64, size: usize) -> Duration {
    let (client, server) = UnixStream::pair().expect("pair");
    let payload = vec![b'a'; size];
    let reader = tokio::spawn(async move {
        let mut rd = BufReader::with_capacity(64 * 1024, server);
        let mut buf = vec![0u8; size];
        for _ in 0..n {
            let len = rd.read_u32().await.expect("len") as usize;
            rd.read_exact(&mut buf[..len]).await.expect("payload");
        }
    });
    let start = Instant::now();
    let mut wr = BufWriter::with_capacity(64 * 1024, client);
    for _ in 0..n {
        support::write_frame(&mut wr, &payload)
            .await
            .expect("frame");
    }
    wr.flush().await.expect("flush");
    reader.await.expect("reader");
    start.elapsed()
}

async fn libchan_one_way(n: u64, size: usize) -> Duration {
    let (client, server) = sessions();
    client.handshake().await.expect("handshake");
    let payload = Bytes::from(vec![b'a'; size]);
    let reader = tokio::spawn(async move {
        let mut rx = server
            .accept::<Bytes>()
            .await
            .expect("accept")
            .expect("channel");
        let mut got = 0u64;
        while rx.recv().await.expect("recv").is_some() {
            got += 1;
        }
        assert_eq!(got, n);
        server
    });
    let start = Instant::now();
    let tx = client.open::<Bytes>().expect("open");
    for _ in 0..n {
        tx.send(payload.clone()).await.expect("send");
    }
    drop(tx);
    let _server = reader.await.expect("reader");
    start.elapsed()
}

fn ipc_one_way(n: u64, size: usize) -> Duration {
    let (tx, rx) = ipc_channel::ipc::bytes_channel().expect("ipc channel");
    let payload = vec![b'a'; size];
    let reader = std::thread::spawn(move || {
        for _ in 0..n {
            let got = rx.recv().expect("recv");
            assert_eq!(got.len(), size);
        }
    });
    let start = Instant::now();
    for _ in 0..n {
        tx.send(&payload).expect("send");
    }
    reader.join().expect("reader");
    start.elapsed()
}

const BULK: usize = 256 << 20;

async fn copy_through(
    mut wr: impl tokio::io::AsyncWrite + Unpin,
    mut rd: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> Duration {
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0;
        loop {
            let n = rd.read(&mut buf).await.expect("read");
            if n == 0 {
                return total;
            }
            total += n;
        }
    });
    let block = vec![7u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..bulk_blocks() {
        wr.write_all(&block).await.expect("write");
    }
    wr.shutdown().await.expect("shutdown");
    let total = reader.await.expect("reader");
    assert_eq!(total, bulk_blocks() << 20);
    start.elapsed()
}

fn bulk_blocks() -> usize {
    if support::quick() {
        (BULK >> 20) / 8
    } else {
        BULK >> 20
    }
}

async fn raw_bulk() -> Duration {
    let (a, b) = UnixStream::pair().expect("pair");
    copy_through(a, b).await
}

/// A byte stream that is not a descriptor: carried by the session.
async fn mux_bulk() -> Duration {
    let (client, server) = sessions();
    client.handshake().await.expect("handshake");
    let tx = client.open::<ByteStream>().expect("open");
    let (local, remote) = ByteStream::pair();
    tx.send(remote).await.expect("send");
    let mut rx = server
        .accept::<ByteStream>()
        .await
        .expect("accept")
        .expect("channel");
    let far = rx.recv().await.expect("recv").expect("stream");
    copy_through(local, far).await
}

/// A socket passed as its descriptor, then written and read directly.
async fn passed_fd_bulk() -> Duration {
    let (client, server) = sessions();
    client.handshake().await.expect("handshake");
    let (near, passed) = std::os::unix::net::UnixStream::pair().expect("pair");
    let tx = client.open::<ByteStream>().expect("open");
    tx.send(ByteStream::from_fd(passed)).await.expect("send");
    let mut rx = server
        .accept::<ByteStream>()
        .await
        .expect("accept")
        .expect("channel");
    let received = rx.recv().await.expect("recv").expect("stream");
    assert!(received.is_fd());
    let far = std::os::unix::net::UnixStream::from(received.into_fd().expect("fd"));
    far.set_nonblocking(true).expect("nonblocking");
    near.set_nonblocking(true).expect("nonblocking");
    copy_through(
        UnixStream::from_std(near).expect("tokio"),
        UnixStream::from_std(far).expect("tokio"),
    )
    .await
}

async fn libchan_round_trips(n: u64) -> Vec<Duration> {
    let (client, server) = sessions();
    client.handshake().await.expect("handshake");
    let responder = tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<Bytes, Bytes>>()
            .await
            .expect("accept")
            .expect("channel");
        while let Some(req) = requests.recv().await.expect("recv") {
            let body = req.body.clone();
            req.respond(body).await.expect("respond");
        }
        server
    });
    let service = client.open::<Request<Bytes, Bytes>>().expect("open");
    let payload = Bytes::from(vec![b'a'; 16]);
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        service.call(payload.clone()).await.expect("call");
        samples.push(start.elapsed());
    }
    drop(service);
    let _server = responder.await.expect("responder");
    samples
}

#[derive(serde::Serialize, serde::Deserialize)]
struct IpcRequest {
    body: Vec<u8>,
    reply: ipc_channel::ipc::IpcSender<Vec<u8>>,
}

fn ipc_round_trips(n: u64) -> Vec<Duration> {
    let (tx, rx) = ipc_channel::ipc::channel::<IpcRequest>().expect("ipc channel");
    let server = std::thread::spawn(move || {
        while let Ok(req) = rx.recv() {
            let _ = req.reply.send(req.body);
        }
    });
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        let (reply_tx, reply_rx) = ipc_channel::ipc::channel().expect("reply channel");
        tx.send(IpcRequest {
            body: vec![b'a'; 16],
            reply: reply_tx,
        })
        .expect("send");
        let got = reply_rx.recv().expect("reply");
        assert_eq!(got.len(), 16);
        samples.push(start.elapsed());
    }
    drop(tx);
    server.join().expect("server");
    samples
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn main() {
    let rt = runtime();
    let mut raw_rows = Vec::new();
    let mut ipc_rows = Vec::new();
    for (name, size, full, target) in [
        ("16 B", 16usize, 400_000u64, ">= 0.25x"),
        ("64 KiB", 64 << 10, 4_000, ">= 0.80x"),
    ] {
        if !support::selected(&format!("unix one-way {name}")) {
            continue;
        }
        let n = iters(full);
        let (unit, scale) = if size >= 1024 {
            ("MB/s", size as f64 / 1e6)
        } else {
            ("k/s", 1e-3)
        };
        let per_sec = |d: Duration| n as f64 / d.as_secs_f64() * scale;
        let [raw, lib, ipc] = support::interleaved([
            &mut || rt.block_on(raw_one_way(n, size)),
            &mut || rt.block_on(libchan_one_way(n, size)),
            &mut || ipc_one_way(n, size),
        ]);
        raw_rows.push(Row {
            what: format!("one-way, {name}, msgpack Bytes"),
            libchan: per_sec(lib),
            baseline: per_sec(raw),
            unit,
            higher_is_better: true,
            target,
        });
        ipc_rows.push(Row {
            what: format!("one-way, {name}"),
            libchan: per_sec(lib),
            baseline: per_sec(ipc),
            unit,
            higher_is_better: true,
            target: "",
        });
    }
    if support::selected("unix bulk") {
        let mb = |d: Duration| (bulk_blocks() << 20) as f64 / d.as_secs_f64() / 1e6;
        let [raw, mux, fd] = support::interleaved([
            &mut || rt.block_on(raw_bulk()),
            &mut || rt.block_on(mux_bulk()),
            &mut || rt.block_on(passed_fd_bulk()),
        ]);
        raw_rows.push(Row {
            what: "byte stream over the session, bulk".into(),
            libchan: mb(mux),
            baseline: mb(raw),
            unit: "MB/s",
            higher_is_better: true,
            target: ">= 0.80x",
        });
        raw_rows.push(Row {
            what: "socket passed as a descriptor, bulk".into(),
            libchan: mb(fd),
            baseline: mb(raw),
            unit: "MB/s",
            higher_is_better: true,
            target: "~1.0x",
        });
    }
    if support::selected("unix request/response") {
        let n = iters(20_000);
        let mut lib = rt.block_on(libchan_round_trips(n));
        let mut ipc = ipc_round_trips(n);
        for p in [0.5, 0.99] {
            ipc_rows.push(Row {
                what: format!("request + fresh reply channel, p{}", (p * 100.0) as u32),
                libchan: percentile(&mut lib, p).as_secs_f64() * 1e6,
                baseline: percentile(&mut ipc, p).as_secs_f64() * 1e6,
                unit: "us",
                higher_is_better: false,
                target: "",
            });
        }
    }
    print(
        "libchan over a unix socketpair vs a raw length-prefixed unix socket (multi-thread runtime)",
        "raw socket",
        &raw_rows,
    );
    print(
        "libchan over a unix socketpair vs ipc-channel (same process, its own threads)",
        "ipc-channel",
        &ipc_rows,
    );
}
