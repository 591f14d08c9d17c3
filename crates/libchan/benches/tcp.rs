//! libchan over TCP loopback beside a raw length-prefixed socket, measured
//! in the same run.
//!
//! * one-way throughput, 16 B, 1 KiB and 64 KiB messages. Baseline: 4-byte
//!   length-prefixed frames through a 64 KiB `BufWriter`, flushed at the end,
//!   read with a `BufReader`.
//! * request/response where every request carries a fresh reply channel
//!   (`Request::call`), p50 and p99. Baseline: 16 B ping-pong, flush per
//!   message.
//!
//! * scaling, 16 B msgpack on the multi-thread runtime: 100 channels on one
//!   session, and 4 sessions at once, each beside one channel on one
//!   session measured in the same run (the total should grow, or at least
//!   not shrink).
//!
//! Each on a multi-thread and a current-thread runtime. One-way throughput
//! runs per codec: json with `String` messages (JSON writes bytes as arrays
//! of numbers), msgpack with `Bytes` messages (written as `bin`), xml with
//! `String` messages, protobuf with a one-field `bytes` message.

mod support;

use std::time::{Duration, Instant};

use std::sync::Arc;

use bytes::Bytes;
use libchan::codec::{Json, Msgpack, Proto, Protobuf, Xml};
use libchan::tcp::{connect, Config, Listener};
use libchan::{Codec, Payload};
use libchan::{Request, SessionExt};
use support::{iters, print, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// A schema-first message for the protobuf codec.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoBlob {
    #[prost(bytes = "bytes", tag = "1")]
    bytes: Bytes,
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut b = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().expect("runtime")
}

async fn raw_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.expect("connect");
    let server = server.expect("accept").0;
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server)
}

async fn libchan_pair(
    codec: Arc<dyn Codec>,
) -> (libchan::tcp::TcpSession, libchan::tcp::TcpSession) {
    let config = Config::with_codecs(vec![codec]);
    let listener = Listener::bind("127.0.0.1:0", config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(connect(addr, config), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

async fn raw_one_way(n: u64, size: usize) -> Duration {
    let (client, server) = raw_pair().await;
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

async fn libchan_one_way<P: Payload + Clone>(
    codec: Arc<dyn Codec>,
    n: u64,
    payload: P,
) -> Duration {
    let (client, server) = libchan_pair(codec).await;
    let reader = tokio::spawn(async move {
        let mut rx = server
            .accept::<P>()
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
    let tx = client.open::<P>().expect("open");
    for _ in 0..n {
        tx.send(payload.clone()).await.expect("send");
    }
    drop(tx);
    let _server = reader.await.expect("reader");
    start.elapsed()
}

async fn raw_round_trips(n: u64) -> Vec<Duration> {
    let (mut client, server) = raw_pair().await;
    let echo = tokio::spawn(async move {
        let mut server = server;
        let mut buf = [0u8; 16];
        loop {
            let Ok(len) = server.read_u32().await else {
                return;
            };
            server
                .read_exact(&mut buf[..len as usize])
                .await
                .expect("payload");
            server.write_u32(len).await.expect("len");
            server
                .write_all(&buf[..len as usize])
                .await
                .expect("payload");
            server.flush().await.expect("flush");
        }
    });
    let payload = [b'a'; 16];
    let mut buf = [0u8; 16];
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        client.write_u32(16).await.expect("len");
        client.write_all(&payload).await.expect("payload");
        client.flush().await.expect("flush");
        let len = client.read_u32().await.expect("len");
        client
            .read_exact(&mut buf[..len as usize])
            .await
            .expect("payload");
        samples.push(start.elapsed());
    }
    drop(client);
    echo.await.expect("echo");
    samples
}

async fn libchan_round_trips(n: u64) -> Vec<Duration> {
    let (client, server) = libchan_pair(Arc::new(Json)).await;
    let responder = tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<String, String>>()
            .await
            .expect("accept")
            .expect("channel");
        while let Some(req) = requests.recv().await.expect("recv") {
            let body = req.body.clone();
            req.respond(body).await.expect("respond");
        }
        server
    });
    let service = client.open::<Request<String, String>>().expect("open");
    let payload = "a".repeat(16);
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

/// 16 B msgpack messages, `n` in all, spread evenly over `channels`
/// channels on each of `sessions` sessions, every channel with its own
/// sending and receiving task. The time until the last one arrived.
async fn libchan_spread(sessions: usize, channels: usize, n: u64) -> Duration {
    let per_channel = n / (sessions * channels) as u64;
    let mut pairs = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        pairs.push(libchan_pair(Arc::new(Msgpack)).await);
    }
    let payload = Bytes::from(vec![b'a'; 16]);
    let start = Instant::now();
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (client, server) in pairs {
        receivers.push(tokio::spawn(async move {
            let mut readers = Vec::with_capacity(channels);
            for _ in 0..channels {
                let mut rx = server
                    .accept::<Bytes>()
                    .await
                    .expect("accept")
                    .expect("channel");
                readers.push(tokio::spawn(async move {
                    let mut got = 0u64;
                    while rx.recv().await.expect("recv").is_some() {
                        got += 1;
                    }
                    assert_eq!(got, per_channel);
                }));
            }
            for r in readers {
                r.await.expect("reader");
            }
            server
        }));
        let mut channel_senders = Vec::with_capacity(channels);
        for _ in 0..channels {
            let tx = client.open::<Bytes>().expect("open");
            let payload = payload.clone();
            channel_senders.push(tokio::spawn(async move {
                for _ in 0..per_channel {
                    tx.send(payload.clone()).await.expect("send");
                }
            }));
        }
        senders.push(tokio::spawn(async move {
            // Keeps the client session open until its channels are done:
            // dropping the last handle starts a graceful close, which a
            // run slower than the linger time would turn into an abort.
            for s in channel_senders {
                s.await.expect("sender");
            }
            drop(client);
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    for r in receivers {
        let _server = r.await.expect("receiver");
    }
    start.elapsed()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

/// The scaling rows: totals beside one channel on one session.
fn scaling() {
    if !support::selected("scaling") {
        return;
    }
    let rt = runtime(true);
    let n = iters(400_000);
    let per_sec = |d: Duration| n as f64 / d.as_secs_f64() * 1e-3;
    let [one, hundred, four] = support::interleaved([
        &mut || rt.block_on(libchan_spread(1, 1, n)),
        &mut || rt.block_on(libchan_spread(1, 100, n)),
        &mut || rt.block_on(libchan_spread(4, 1, n)),
    ]);
    let rows = [
        Row {
            what: "one-way 16 B, 100 channels on one session".into(),
            libchan: per_sec(hundred),
            baseline: per_sec(one),
            unit: "k/s",
            higher_is_better: true,
            target: ">= 1.00x",
        },
        Row {
            what: "one-way 16 B, 4 sessions at once".into(),
            libchan: per_sec(four),
            baseline: per_sec(one),
            unit: "k/s",
            higher_is_better: true,
            target: ">= 1.50x",
        },
    ];
    print(
        "libchan scaling over TCP loopback, msgpack, total messages (multi-thread runtime, 2 workers)",
        "1 channel",
        &rows,
    );
}

fn main() {
    scaling();
    for (label, multi) in [
        ("multi-thread runtime", true),
        ("current-thread runtime", false),
    ] {
        let rt = runtime(multi);
        let mut rows = Vec::new();
        for (name, size, full) in [
            ("16 B", 16usize, 400_000u64),
            ("1 KiB", 1024, 100_000),
            ("64 KiB", 64 * 1024, 4_000),
        ] {
            if !support::selected(&format!("one-way {name} {label}")) {
                continue;
            }
            let n = iters(full);
            let [raw, json, msgpack, xml, protobuf] = support::interleaved([
                &mut || rt.block_on(raw_one_way(n, size)),
                &mut || rt.block_on(libchan_one_way(Arc::new(Json), n, "a".repeat(size))),
                &mut || {
                    rt.block_on(libchan_one_way(
                        Arc::new(Msgpack),
                        n,
                        Bytes::from(vec![b'a'; size]),
                    ))
                },
                &mut || rt.block_on(libchan_one_way(Arc::new(Xml), n, "a".repeat(size))),
                &mut || {
                    rt.block_on(libchan_one_way(
                        Arc::new(Protobuf),
                        n,
                        Proto(ProtoBlob {
                            bytes: Bytes::from(vec![b'a'; size]),
                        }),
                    ))
                },
            ]);
            let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
            let (unit, scale) = if size >= 1024 {
                ("MB/s", size as f64 / 1e6)
            } else {
                ("k/s", 1e-3)
            };
            for (codec, lib) in [
                ("json String", json),
                ("msgpack Bytes", msgpack),
                ("xml String", xml),
                ("protobuf bytes", protobuf),
            ] {
                rows.push(Row {
                    what: format!("one-way, {name}, {codec}"),
                    libchan: per_sec(lib) * scale,
                    baseline: per_sec(raw) * scale,
                    unit,
                    higher_is_better: true,
                    target: match (name, codec) {
                        ("16 B", _) => ">= 0.25x",
                        ("1 KiB", _) => ">= 0.50x",
                        ("64 KiB", "protobuf bytes") => ">= 0.90x",
                        ("64 KiB", _) => ">= 0.80x",
                        _ => "",
                    },
                });
            }
        }
        if !support::selected(&format!("request/response {label}")) {
            print(
                &format!("libchan over TCP loopback vs a raw length-prefixed socket ({label})"),
                "raw socket",
                &rows,
            );
            continue;
        }
        let n = iters(20_000);
        let mut raw = rt.block_on(raw_round_trips(n));
        let mut lib = rt.block_on(libchan_round_trips(n));
        for (p, target) in [(0.5, "p50 <= 1.3x raw"), (0.99, "")] {
            rows.push(Row {
                what: format!(
                    "request/response, fresh reply channel, p{}",
                    (p * 100.0) as u32
                ),
                libchan: percentile(&mut lib, p).as_secs_f64() * 1e6,
                baseline: percentile(&mut raw, p).as_secs_f64() * 1e6,
                unit: "us",
                higher_is_better: false,
                target,
            });
        }
        print(
            &format!("libchan over TCP loopback vs a raw length-prefixed socket ({label})"),
            "raw socket",
            &rows,
        );
    }
}
