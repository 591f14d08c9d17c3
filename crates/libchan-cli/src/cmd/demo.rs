//! `libchan demo`: a server and a client in one process, and a walk
//! through what libchan does, each step timed.

use std::fmt::Display;
use std::time::{Duration, Instant};

use clap::Args;
use libchan::{BoxError, ByteStream, Session, SessionExt};
use libchan_cli::services::{
    self, ByteEcho, Call, Count, Echo, ExecPolicy, Feed, FeedReply, ServeOptions, Sum, SumReply,
};
use libchan_cli::transport::{loopback_pair, TransportKind};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CodecName, Failure};

/// Bytes the byte-stream step sends through the server and back.
const STREAM_BYTES: usize = 1 << 20;

/// Bound on the whole walk: a demo that hangs is a bug, not a wait.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Transport between the two ends (tls and ws use a certificate made
    /// for the run; ws is then wss).
    #[arg(short, long, value_enum, default_value_t = TransportKind::Tcp)]
    transport: TransportKind,
    /// Codec the client prefers.
    #[arg(long, value_enum, default_value_t = CodecName::Json)]
    codec: CodecName,
}

struct Steps {
    n: usize,
    start: Instant,
}

impl Steps {
    fn new() -> Self {
        Steps {
            n: 0,
            start: Instant::now(),
        }
    }

    /// Prints one finished step: what it showed, and how long it took.
    fn done(&mut self, since: Instant, title: &str, detail: impl Display) {
        self.n += 1;
        let ms = since.elapsed().as_secs_f64() * 1e3;
        println!("{:>3}. {title:<28} {detail}  [{ms:.1} ms]", self.n);
    }
}

pub async fn run(args: DemoArgs) -> Result<u8, Failure> {
    match tokio::time::timeout(PATIENCE, walk(args)).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(Failure::Failed(format!(
            "the demo did not finish within {PATIENCE:?}"
        ))),
    }
}

async fn walk(args: DemoArgs) -> Result<u8, BoxError> {
    let kind = args.transport;
    println!("libchan demo: a server and a client in this process, over {kind}");
    println!("(the server runs the services of `libchan serve`, docs/SERVICES.md)\n");
    let mut steps = Steps::new();
    let options = ServeOptions {
        exec: ExecPolicy::Deny,
    };

    let t = Instant::now();
    let (client, server, what) =
        loopback_pair(kind, args.codec.client_config(), CodecName::server_config()).await?;
    tokio::spawn(services::serve_session(server.clone(), options));
    steps.done(t, "session up", what);

    let t = Instant::now();
    let calls = client.open::<Call>()?;
    let (reply, mut answer) = libchan::pipe();
    calls
        .send(Call::Echo(Echo {
            body: json!({"hello": "world"}),
            reply,
        }))
        .await?;
    let got = answer.recv().await?.ok_or("echo sent no answer")?;
    steps.done(
        t,
        "request/response",
        format!(
            "sent {{\"hello\":\"world\"}} with a reply channel, the answer came back on it: {got}"
        ),
    );

    let t = Instant::now();
    let (reply, mut numbers) = libchan::pipe();
    calls.send(Call::Count(Count { n: 5, reply })).await?;
    let mut seen = Vec::new();
    while let Some(i) = numbers.recv().await? {
        seen.push(i.to_string());
    }
    steps.done(
        t,
        "streamed response",
        format!(
            "count 5: {} on the reply channel, then a clean end (Ok(None))",
            seen.join(" ")
        ),
    );

    let t = Instant::now();
    let (numbers_tx, numbers_rx) = libchan::pipe::<i64>();
    let (reply, mut sum) = libchan::pipe::<SumReply>();
    calls
        .send(Call::Sum(Sum {
            numbers: numbers_rx,
            reply,
        }))
        .await?;
    for i in 1..=100 {
        numbers_tx.send(i).await?;
    }
    drop(numbers_tx);
    let total = sum.recv().await?.ok_or("sum sent no answer")?;
    steps.done(
        t,
        "nested channel, to server",
        format!(
            "sent a Receiver inside a request, then 1..=100 on it; the server read to the clean end: sum {} of {}",
            total.sum.map_or("?".into(), |s| s.to_string()),
            total.count
        ),
    );

    let t = Instant::now();
    let (reply, mut feed) = libchan::pipe::<FeedReply>();
    calls.send(Call::Feed(Feed { n: 3, reply })).await?;
    let FeedReply { mut items } = feed.recv().await?.ok_or("feed sent no answer")?;
    let mut seen = Vec::new();
    while let Some(i) = items.recv().await? {
        seen.push(i.to_string());
    }
    steps.done(
        t,
        "nested channel, to client",
        format!(
            "the server answered with a Receiver of its own; read {} from it",
            seen.join(" ")
        ),
    );

    let t = Instant::now();
    let (mut here, there) = ByteStream::pair();
    calls
        .send(Call::ByteEcho(ByteEcho { stream: there }))
        .await?;
    let data: Vec<u8> = (0..STREAM_BYTES).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = tokio::io::split(&mut here);
    let write = async {
        wr.write_all(&data).await?;
        wr.shutdown().await
    };
    let mut back = Vec::with_capacity(STREAM_BYTES);
    let read = rd.read_to_end(&mut back);
    let (w, r) = tokio::join!(write, read);
    w?;
    r?;
    if back != data {
        return Err("the byte stream came back altered".into());
    }
    steps.done(
        t,
        "byte stream",
        format!(
            "{} KiB through the server and back, intact, then end-of-stream",
            STREAM_BYTES / 1024
        ),
    );

    let t = Instant::now();
    let (numbers_tx, numbers_rx) = libchan::pipe::<i64>();
    let (reply, mut sum) = libchan::pipe::<SumReply>();
    calls
        .send(Call::Sum(Sum {
            numbers: numbers_rx,
            reply,
        }))
        .await?;
    numbers_tx.send(1).await?;
    numbers_tx.send(2).await?;
    numbers_tx.abort("the producer failed halfway");
    let broken = sum.recv().await?.ok_or("sum sent no answer")?;
    steps.done(
        t,
        "broken end, one channel",
        format!(
            "aborted a channel after 2 numbers; the server got them, then an error, not an end: {}",
            broken.error.as_deref().unwrap_or("(none?)")
        ),
    );

    let t = Instant::now();
    drop(calls);
    client.close().await?;
    steps.done(
        t,
        "clean end, the session",
        "close(): everything sent was delivered, both sides said goodbye",
    );

    let t = Instant::now();
    let (client, server, _) =
        loopback_pair(kind, args.codec.client_config(), CodecName::server_config()).await?;
    tokio::spawn(services::serve_session(server.clone(), options));
    let calls = client.open::<Call>()?;
    let (reply, mut answer) = libchan::pipe();
    calls
        .send(Call::Echo(Echo {
            body: json!(1),
            reply,
        }))
        .await?;
    answer.recv().await?;
    lose(&*server);
    calls.closed().await;
    let err = calls
        .send(Call::Echo(Echo {
            body: json!(2),
            reply: libchan::pipe().0,
        }))
        .await
        .err()
        .ok_or("a send on a lost session succeeded")?;
    steps.done(
        t,
        "broken end, the session",
        format!("the server's session was aborted; the client's channel reports it: {err}"),
    );

    let total = steps.start.elapsed().as_secs_f64() * 1e3;
    println!("\ndone: {} steps in {total:.1} ms", steps.n);
    println!("next: `libchan serve` and `libchan cat --request`, or `libchan bench --quick`");
    Ok(0)
}

/// What a crash would do, with a reason the peer can read.
fn lose(server: &dyn Session) {
    server.abort("the demo server went away");
}
