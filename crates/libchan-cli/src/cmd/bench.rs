//! `libchan bench`: throughput and latency per transport and payload size,
//! each beside a baseline measured in the same run, and the ratio.
//!
//! Baselines: tokio `mpsc` (and a oneshot for the reply) in memory; a raw
//! length-prefixed unix socket for unix; a raw length-prefixed TCP socket
//! on loopback for every other transport, so the tls, ws and h2 ratios
//! include what encryption and framing cost.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use libchan::{BoxError, Request, Session, SessionExt};
use libchan_cli::transport::{loopback_pair, TransportKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::{CodecName, Failure};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run (0.2 s per figure instead of 1 s): a smoke test, not a
    /// measurement.
    #[arg(long)]
    quick: bool,
    /// Transports to measure (comma-separated; default all).
    #[arg(short, long, value_enum, value_delimiter = ',')]
    transport: Vec<TransportKind>,
    /// Payload sizes in bytes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16,1024,65536")]
    sizes: Vec<usize>,
    /// Codec for the network transports.
    #[arg(long, value_enum, default_value_t = CodecName::Msgpack)]
    codec: CodecName,
}

/// One measured pair: libchan and its baseline.
struct Row {
    kind: TransportKind,
    size: usize,
    libchan: Figure,
    baseline: Figure,
}

enum Figure {
    /// Messages per second.
    Rate(f64),
    /// Round-trip times, sorted.
    Latency(Vec<Duration>),
}

impl Figure {
    fn rate(&self) -> f64 {
        match self {
            Figure::Rate(r) => *r,
            Figure::Latency(_) => 0.0,
        }
    }

    fn percentile(&self, p: f64) -> Duration {
        match self {
            Figure::Latency(v) if !v.is_empty() => {
                let i = ((v.len() - 1) as f64 * p).round() as usize;
                v[i.min(v.len() - 1)]
            }
            _ => Duration::ZERO,
        }
    }
}

pub async fn run(args: BenchArgs) -> Result<u8, Failure> {
    let kinds = if args.transport.is_empty() {
        TransportKind::ALL.to_vec()
    } else {
        args.transport.clone()
    };
    if args.sizes.iter().any(|&s| s == 0 || s > 1 << 20) {
        return Err(Failure::Usage(
            "--sizes: each payload size must be between 1 and 1048576 bytes".into(),
        ));
    }
    let per_figure = if args.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let total = (kinds.len() * args.sizes.len() * 4) as u64;
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| Failure::Failed(e.to_string()))?
            .progress_chars("=> "),
    );
    progress.enable_steady_tick(Duration::from_millis(100));

    let mut throughput = Vec::new();
    let mut latency = Vec::new();
    for &kind in &kinds {
        progress.set_message(format!("{kind}: connecting"));
        let config = args.codec.client_config();
        let (client, server, _) = loopback_pair(kind, config.clone(), config).await?;
        for &size in &args.sizes {
            let payload = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
            let label = |what: &str| format!("{kind} {}: {what}", human_size(size));

            progress.set_message(label("throughput, libchan"));
            let lib = libchan_throughput(&*client, &*server, &payload, per_figure).await?;
            progress.inc(1);
            progress.set_message(label("throughput, baseline"));
            let base = baseline_throughput(kind, &payload, per_figure).await?;
            progress.inc(1);
            throughput.push(Row {
                kind,
                size,
                libchan: Figure::Rate(lib),
                baseline: Figure::Rate(base),
            });

            progress.set_message(label("round trip, libchan"));
            let lib = libchan_latency(&*client, &*server, &payload, per_figure).await?;
            progress.inc(1);
            progress.set_message(label("round trip, baseline"));
            let base = baseline_latency(kind, &payload, per_figure).await?;
            progress.inc(1);
            latency.push(Row {
                kind,
                size,
                libchan: Figure::Latency(lib),
                baseline: Figure::Latency(base),
            });
        }
        let _ = client.close().await;
    }
    progress.finish_and_clear();

    println!(
        "libchan bench: {:.1} s per figure, codec {} over the network transports{}",
        per_figure.as_secs_f64(),
        match args.codec {
            CodecName::Json => "json",
            CodecName::Msgpack => "msgpack",
        },
        if cfg!(debug_assertions) {
            "; an unoptimized build (use --release for real figures)"
        } else {
            ""
        }
    );
    println!(
        "baseline: tokio mpsc in memory; a raw length-prefixed unix socket for unix; a raw length-prefixed TCP socket on loopback otherwise\n"
    );
    println!("one-way throughput");
    println!(
        "{:<6} {:>8} {:>14} {:>10} {:>14} {:>10} {:>7}",
        "", "payload", "libchan msg/s", "MB/s", "baseline msg/s", "MB/s", "ratio"
    );
    for r in &throughput {
        let (l, b) = (r.libchan.rate(), r.baseline.rate());
        println!(
            "{:<6} {:>8} {:>14} {:>10.1} {:>14} {:>10.1} {:>6.2}x",
            r.kind.name(),
            human_size(r.size),
            human_rate(l),
            l * r.size as f64 / 1e6,
            human_rate(b),
            b * r.size as f64 / 1e6,
            if b > 0.0 { l / b } else { 0.0 }
        );
    }
    println!("\nrequest/response round trip (a fresh reply channel per request)");
    println!(
        "{:<6} {:>8} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "", "payload", "libchan p50", "p99", "baseline p50", "p99", "p50 ratio"
    );
    for r in &latency {
        let (l50, b50) = (r.libchan.percentile(0.5), r.baseline.percentile(0.5));
        println!(
            "{:<6} {:>8} {:>12} {:>12} {:>12} {:>12} {:>8.2}x",
            r.kind.name(),
            human_size(r.size),
            fmt_duration(l50),
            fmt_duration(r.libchan.percentile(0.99)),
            fmt_duration(b50),
            fmt_duration(r.baseline.percentile(0.99)),
            if b50 > Duration::ZERO {
                l50.as_secs_f64() / b50.as_secs_f64()
            } else {
                0.0
            }
        );
    }
    Ok(0)
}

fn human_size(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn human_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

/// Sends until `budget` is spent, then ends the channel; returns messages
/// per second as the receiver saw them arrive.
async fn libchan_throughput(
    client: &dyn Session,
    server: &dyn Session,
    payload: &Bytes,
    budget: Duration,
) -> Result<f64, BoxError> {
    let tx = client.open::<Bytes>()?;
    let mut rx = server.accept::<Bytes>().await?.ok_or("the session ended")?;
    let start = Instant::now();
    let p = payload.clone();
    let sender = tokio::spawn(async move {
        let mut sent = 0u64;
        while sent % 64 != 0 || start.elapsed() < budget {
            tx.send(p.clone()).await?;
            sent += 1;
        }
        Ok::<_, libchan::ChannelError>(sent)
    });
    let mut received = 0u64;
    while rx.recv().await?.is_some() {
        received += 1;
    }
    let elapsed = start.elapsed();
    let sent = sender.await??;
    if sent != received {
        return Err(format!("sent {sent} messages, {received} arrived").into());
    }
    Ok(received as f64 / elapsed.as_secs_f64())
}

/// The same over the baseline: tokio mpsc in memory, a raw
/// length-prefixed socket otherwise.
async fn baseline_throughput(
    kind: TransportKind,
    payload: &Bytes,
    budget: Duration,
) -> Result<f64, BoxError> {
    let p = payload.clone();
    let start = Instant::now();
    if kind == TransportKind::Inmem {
        let (tx, mut rx) = mpsc::channel::<Bytes>(libchan::DEFAULT_CAPACITY);
        let sender = tokio::spawn(async move {
            let mut sent = 0u64;
            while sent % 64 != 0 || start.elapsed() < budget {
                if tx.send(p.clone()).await.is_err() {
                    break;
                }
                sent += 1;
            }
            sent
        });
        let mut received = 0u64;
        while rx.recv().await.is_some() {
            received += 1;
        }
        let elapsed = start.elapsed();
        sender.await?;
        return Ok(received as f64 / elapsed.as_secs_f64());
    }
    let (a, b) = raw_pair(kind).await?;
    let sender = tokio::spawn(async move {
        let mut w = BufWriter::with_capacity(64 * 1024, a);
        let mut sent = 0u64;
        while sent % 64 != 0 || start.elapsed() < budget {
            w.write_u32(p.len() as u32).await?;
            w.write_all(&p).await?;
            sent += 1;
        }
        w.flush().await?;
        w.shutdown().await?;
        Ok::<_, std::io::Error>(sent)
    });
    let mut r = BufReader::with_capacity(64 * 1024, b);
    let mut buf = vec![0u8; payload.len()];
    let mut received = 0u64;
    loop {
        let len = match r.read_u32().await {
            Ok(n) => n as usize,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        };
        buf.resize(len, 0);
        r.read_exact(&mut buf).await?;
        received += 1;
    }
    let elapsed = start.elapsed();
    sender.await??;
    Ok(received as f64 / elapsed.as_secs_f64())
}

/// Request/response round trips (a fresh reply channel each) until
/// `budget` is spent; the times, sorted.
async fn libchan_latency(
    client: &dyn Session,
    server: &dyn Session,
    payload: &Bytes,
    budget: Duration,
) -> Result<Vec<Duration>, BoxError> {
    let service = client.open::<Request<Bytes, Bytes>>()?;
    let mut requests = server
        .accept::<Request<Bytes, Bytes>>()
        .await?
        .ok_or("the session ended")?;
    let responder = tokio::spawn(async move {
        while let Ok(Some(req)) = requests.recv().await {
            let body = req.body.clone();
            if req.respond(body).await.is_err() {
                break;
            }
        }
    });
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        service.call(payload.clone()).await?;
        times.push(t.elapsed());
    }
    drop(service);
    let _ = responder.await;
    times.sort();
    Ok(times)
}

async fn baseline_latency(
    kind: TransportKind,
    payload: &Bytes,
    budget: Duration,
) -> Result<Vec<Duration>, BoxError> {
    let mut times = Vec::new();
    let start = Instant::now();
    if kind == TransportKind::Inmem {
        let (tx, mut rx) =
            mpsc::channel::<(Bytes, oneshot::Sender<Bytes>)>(libchan::DEFAULT_CAPACITY);
        let responder = tokio::spawn(async move {
            while let Some((body, reply)) = rx.recv().await {
                let _ = reply.send(body);
            }
        });
        while start.elapsed() < budget {
            let t = Instant::now();
            let (reply, answer) = oneshot::channel();
            tx.send((payload.clone(), reply)).await?;
            answer.await?;
            times.push(t.elapsed());
        }
        drop(tx);
        let _ = responder.await;
    } else {
        let (mut a, b) = raw_pair(kind).await?;
        let responder = tokio::spawn(async move {
            let mut b = b;
            let mut buf = Vec::new();
            while let Ok(len) = b.read_u32().await {
                buf.resize(len as usize, 0);
                if b.read_exact(&mut buf).await.is_err() {
                    break;
                }
                let mut frame = Vec::with_capacity(4 + buf.len());
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(&buf);
                if b.write_all(&frame).await.is_err() {
                    break;
                }
            }
        });
        let mut frame = Vec::with_capacity(4 + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        let mut back = vec![0u8; payload.len()];
        while start.elapsed() < budget {
            let t = Instant::now();
            a.write_all(&frame).await?;
            let len = a.read_u32().await? as usize;
            back.resize(len, 0);
            a.read_exact(&mut back).await?;
            times.push(t.elapsed());
        }
        drop(a);
        let _ = responder.await;
    }
    times.sort();
    Ok(times)
}

/// One end of a baseline's raw socket.
trait RawSocket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> RawSocket for T {}

/// The baseline's connected pair of raw sockets for `kind`: a unix
/// socketpair for unix, loopback TCP (Nagle off, as libchan's) otherwise.
async fn raw_pair(
    kind: TransportKind,
) -> Result<(Box<dyn RawSocket>, Box<dyn RawSocket>), BoxError> {
    if kind == TransportKind::Unix {
        let (a, b) = UnixStream::pair()?;
        return Ok((Box::new(a), Box::new(b)));
    }
    let (a, b) = tcp_pair().await?;
    Ok((Box::new(a), Box::new(b)))
}

/// A connected pair of loopback TCP sockets, Nagle off (as libchan's).
async fn tcp_pair() -> Result<(TcpStream, TcpStream), BoxError> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let (a, b) = tokio::join!(TcpStream::connect(addr), l.accept());
    let (a, (b, _)) = (a?, b?);
    a.set_nodelay(true)?;
    b.set_nodelay(true)?;
    Ok((a, b))
}
