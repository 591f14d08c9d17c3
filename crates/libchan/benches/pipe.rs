//! In-memory pipes beside `tokio::sync::mpsc`, measured in the same run.
//!
//! * one-way throughput, 16 B and 64 KiB messages (a `Bytes` handle: the
//!   payload is moved, not copied, on both sides), at capacity 32 (the
//!   default) and 1024 on both sides;
//! * ping-pong round trip over two fixed channels;
//! * request/response with a fresh reply channel per request (libchan's
//!   `call`; the baseline makes a fresh tokio oneshot-like mpsc per request).
//!
//! Each on a multi-thread and a current-thread runtime.
//! `cargo xtask bench` runs it; `--quick` for a short run.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::{interleaved, iters, print, Row};

const CAPACITY: usize = 32;

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }
}

fn libchan_throughput(
    rt: &tokio::runtime::Runtime,
    capacity: usize,
    n: u64,
    payload: Bytes,
) -> Duration {
    rt.block_on(async move {
        let (tx, mut rx) = libchan::pipe_with_capacity::<Bytes>(capacity);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for _ in 0..n {
                tx.send(payload.clone()).await.expect("send");
            }
        });
        let mut got = 0u64;
        while let Some(m) = rx.recv().await.expect("recv") {
            got += m.len() as u64 / m.len().max(1) as u64;
        }
        producer.await.expect("producer");
        assert_eq!(got, n);
        start.elapsed()
    })
}

fn tokio_throughput(
    rt: &tokio::runtime::Runtime,
    capacity: usize,
    n: u64,
    payload: Bytes,
) -> Duration {
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(capacity);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for _ in 0..n {
                tx.send(payload.clone()).await.expect("send");
            }
        });
        let mut got = 0u64;
        while let Some(m) = rx.recv().await {
            got += m.len() as u64 / m.len().max(1) as u64;
        }
        producer.await.expect("producer");
        assert_eq!(got, n);
        start.elapsed()
    })
}

fn libchan_ping_pong(rt: &tokio::runtime::Runtime, n: u64, payload: Bytes) -> Duration {
    rt.block_on(async move {
        let (ping_tx, mut ping_rx) = libchan::pipe_with_capacity::<Bytes>(CAPACITY);
        let (pong_tx, mut pong_rx) = libchan::pipe_with_capacity::<Bytes>(CAPACITY);
        let echo = tokio::spawn(async move {
            while let Some(m) = ping_rx.recv().await.expect("recv") {
                pong_tx.send(m).await.expect("send");
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            ping_tx.send(payload.clone()).await.expect("send");
            pong_rx.recv().await.expect("recv").expect("pong");
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.await.expect("echo");
        elapsed
    })
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime, n: u64, payload: Bytes) -> Duration {
    rt.block_on(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<Bytes>(CAPACITY);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<Bytes>(CAPACITY);
        let echo = tokio::spawn(async move {
            while let Some(m) = ping_rx.recv().await {
                pong_tx.send(m).await.expect("send");
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            ping_tx.send(payload.clone()).await.expect("send");
            pong_rx.recv().await.expect("pong");
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.await.expect("echo");
        elapsed
    })
}

fn libchan_call(rt: &tokio::runtime::Runtime, n: u64, payload: Bytes) -> Duration {
    rt.block_on(async move {
        let (tx, mut rx) = libchan::pipe_with_capacity::<libchan::Request<Bytes, Bytes>>(CAPACITY);
        let server = tokio::spawn(async move {
            while let Some(req) = rx.recv().await.expect("recv") {
                let body = req.body.clone();
                req.respond(body).await.expect("respond");
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            tx.call(payload.clone()).await.expect("call");
        }
        let elapsed = start.elapsed();
        drop(tx);
        server.await.expect("server");
        elapsed
    })
}

fn tokio_call(rt: &tokio::runtime::Runtime, n: u64, payload: Bytes) -> Duration {
    type Req = (Bytes, tokio::sync::mpsc::Sender<Bytes>);
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Req>(CAPACITY);
        let server = tokio::spawn(async move {
            while let Some((body, reply)) = rx.recv().await {
                reply.send(body).await.expect("respond");
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            let (reply_tx, mut reply_rx) = tokio::sync::mpsc::channel(16);
            tx.send((payload.clone(), reply_tx)).await.expect("send");
            reply_rx.recv().await.expect("reply");
        }
        let elapsed = start.elapsed();
        drop(tx);
        server.await.expect("server");
        elapsed
    })
}

fn main() {
    // `cargo bench` passes flags such as `--bench`; nothing to parse.
    let small = Bytes::from(vec![0xAB; 16]);
    let large = Bytes::from(vec![0xCD; 64 * 1024]);
    for (label, multi) in [
        ("multi-thread runtime", true),
        ("current-thread runtime", false),
    ] {
        let rt = runtime(multi);
        let mut rows = Vec::new();
        for capacity in [CAPACITY, 1024] {
            for (size, payload) in [("16 B", &small), ("64 KiB", &large)] {
                let n = iters(1_000_000);
                let [l, t] = interleaved([
                    &mut || libchan_throughput(&rt, capacity, n, payload.clone()) / n as u32,
                    &mut || tokio_throughput(&rt, capacity, n, payload.clone()) / n as u32,
                ]);
                rows.push(Row {
                    what: format!("pipe throughput, {size}, capacity {capacity}"),
                    libchan: 1e-6 / l.as_secs_f64(),
                    baseline: 1e-6 / t.as_secs_f64(),
                    unit: "M/s",
                    higher_is_better: true,
                    target: if size == "16 B" { ">= 1.00x" } else { "" },
                });
            }
        }
        for (size, payload) in [("16 B", &small), ("64 KiB", &large)] {
            let n = iters(100_000);
            let [l, t] = interleaved([
                &mut || libchan_ping_pong(&rt, n, payload.clone()) / n as u32,
                &mut || tokio_ping_pong(&rt, n, payload.clone()) / n as u32,
            ]);
            rows.push(Row {
                what: format!("ping-pong round trip, {size}"),
                libchan: l.as_secs_f64() * 1e6,
                baseline: t.as_secs_f64() * 1e6,
                unit: "us",
                higher_is_better: false,
                target: "",
            });
        }
        let n = iters(100_000);
        let [l, t] = interleaved([
            &mut || libchan_call(&rt, n, small.clone()) / n as u32,
            &mut || tokio_call(&rt, n, small.clone()) / n as u32,
        ]);
        rows.push(Row {
            what: "request/response, fresh reply channel, 16 B".into(),
            libchan: l.as_secs_f64() * 1e6,
            baseline: t.as_secs_f64() * 1e6,
            unit: "us",
            higher_is_better: false,
            target: "",
        });
        print(
            &format!("libchan pipes vs tokio::sync::mpsc ({label})"),
            "tokio mpsc",
            &rows,
        );
    }
}
