//! `libchan cat`: JSON lines in, JSON lines out.
//!
//! Each line of stdin is one JSON value, sent on a channel this side opens;
//! every message on the channels the peer opens is printed as one line.
//! cat exits once its input has ended and so has the peer's: the channels
//! the peer opened have ended (another cat ends its one channel when its
//! own input ends), or the peer closed the session.
//! With `--request`, each line is a request object instead: a fresh reply
//! channel is added to it (as the field `reply`), and the replies are
//! printed until that channel ends, which is how a shell script calls a
//! service (`echo '{"service":"echo","body":1}' | libchan cat -r ADDR`).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use libchan::{Sender, Session, SessionExt};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::{Failure, NetArgs};

/// How long cat keeps printing after its own input ended, while the peer
/// still sends: as long as a person would wait (a graceful close otherwise
/// gives up after 10 s).
const PEER_LINGER: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The peer to connect to: HOST:PORT, or a ws:// URL.
    #[arg(value_name = "ADDR", required_unless_present = "listen")]
    addr: Option<String>,
    /// Listen on ADDR instead, and talk to the first peer that connects.
    #[arg(short, long, value_name = "ADDR", conflicts_with = "addr")]
    listen: Option<String>,
    /// Treat each line as a request object: add a fresh reply channel to
    /// it, and print the replies until that channel ends.
    #[arg(short, long)]
    request: bool,
    /// The field the reply channel goes in, with --request.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "reply",
        requires = "request"
    )]
    reply_field: String,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn run(args: CatArgs) -> Result<u8, Failure> {
    let session: Arc<dyn Session> = match (&args.addr, &args.listen) {
        (Some(addr), _) => {
            let mut dialer = args.net.dialer(addr)?;
            dialer.config.limits.linger = PEER_LINGER;
            dialer.connect().await?
        }
        (None, Some(addr)) => {
            let mut config = super::CodecName::server_config();
            config.limits.linger = PEER_LINGER;
            let listener = args.net.listen_with(addr, config).await?;
            super::announce(args.net.transport, listener.as_ref(), "cat");
            let (session, peer) = listener.accept().await?;
            tracing::info!(%peer, "connected");
            session
        }
        (None, None) => unreachable!("clap requires ADDR or --listen"),
    };
    let (lines_tx, lines_rx) = mpsc::channel::<Value>(64);
    let printer = tokio::spawn(print_lines(lines_rx));
    let bad_lines = if args.request {
        requests(&*session, &args.reply_field, lines_tx).await?
    } else {
        messages(session.clone(), lines_tx).await?
    };
    let closed = session.close().await;
    let _ = printer.await;
    if let Err(e) = closed {
        return Err(Failure::Failed(format!(
            "the session did not end cleanly: {e}"
        )));
    }
    Ok(if bad_lines > 0 { 1 } else { 0 })
}

/// Writes each value as one line, flushing as it goes (a pipe to another
/// program sees every message as it arrives).
async fn print_lines(mut lines: mpsc::Receiver<Value>) {
    let mut out = tokio::io::stdout();
    while let Some(v) = lines.recv().await {
        let mut line = v.to_string();
        line.push('\n');
        if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
            break;
        }
    }
}

/// Reads stdin lines as JSON; reports bad ones on stderr and skips them.
struct Input {
    lines: tokio::io::Lines<BufReader<tokio::io::Stdin>>,
    number: usize,
    bad: usize,
}

impl Input {
    fn new() -> Self {
        Input {
            lines: BufReader::new(tokio::io::stdin()).lines(),
            number: 0,
            bad: 0,
        }
    }

    async fn next(&mut self) -> Result<Option<Value>, Failure> {
        while let Some(line) = self.lines.next_line().await? {
            self.number += 1;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(v) => return Ok(Some(v)),
                Err(e) => {
                    self.bad += 1;
                    eprintln!("libchan: line {} is not JSON ({e}); skipped", self.number);
                }
            }
        }
        Ok(None)
    }
}

/// Plain mode: our lines on one channel, the peer's channels printed.
///
/// Returns once our input has ended and so has the peer's side: every
/// channel it opened ended (a peer `cat` ends its one channel when its
/// input ends), or it closed the session. Only then may the caller close:
/// closing earlier could refuse a channel the peer opened meanwhile.
async fn messages(session: Arc<dyn Session>, lines: mpsc::Sender<Value>) -> Result<usize, Failure> {
    // Opened before anything is read, so the peer can accept it at once.
    let out = session.open::<Value>()?;
    let peer_done = tokio::spawn(async move {
        let mut printers = tokio::task::JoinSet::new();
        let mut accepted = 0u64;
        loop {
            tokio::select! {
                next = session.accept::<Value>() => match next {
                    Ok(Some(rx)) => {
                        accepted += 1;
                        printers.spawn(print_channel(rx, lines.clone()));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("libchan: the session broke: {e}");
                        break;
                    }
                },
                Some(_) = printers.join_next(), if !printers.is_empty() => {
                    if printers.is_empty() && accepted > 0 {
                        break;
                    }
                }
            }
        }
        while printers.join_next().await.is_some() {}
    });
    let mut input = Input::new();
    while let Some(v) = input.next().await? {
        if let Err(e) = out.send(v).await {
            peer_done.abort();
            return Err(Failure::Failed(format!("the peer stopped receiving: {e}")));
        }
    }
    // Our channel ends cleanly; then wait for the peer's side to end.
    drop(out);
    let _ = peer_done.await;
    Ok(input.bad)
}

/// Prints every message of one channel from the peer.
async fn print_channel(mut rx: libchan::Receiver<Value>, lines: mpsc::Sender<Value>) {
    loop {
        match rx.recv().await {
            Ok(Some(v)) => {
                if lines.send(v).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("libchan: a channel from the peer broke: {e}");
                break;
            }
        }
    }
}

/// `--request` mode: each line a request with a fresh reply channel.
async fn requests(
    session: &dyn Session,
    field: &str,
    lines: mpsc::Sender<Value>,
) -> Result<usize, Failure> {
    let requests = session.open::<WithReply>()?;
    let mut input = Input::new();
    let mut failed = 0;
    while let Some(v) = input.next().await? {
        let Value::Object(fields) = v else {
            eprintln!(
                "libchan: line {} is not a JSON object; skipped (--request adds a field to it)",
                input.number
            );
            failed += 1;
            continue;
        };
        let (reply, mut replies) = libchan::pipe::<Value>();
        requests
            .send(WithReply {
                fields,
                field: field.to_string(),
                reply,
            })
            .await?;
        loop {
            match replies.recv().await {
                Ok(Some(v)) => {
                    if lines.send(v).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!(
                        "libchan: line {}: the reply channel broke: {e}",
                        input.number
                    );
                    failed += 1;
                    break;
                }
            }
        }
    }
    Ok(input.bad + failed)
}

/// A JSON object with a live reply channel added as one more field.
struct WithReply {
    fields: Map<String, Value>,
    field: String,
    reply: Sender<Value>,
}

impl Serialize for WithReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.fields.iter().filter(|(k, _)| **k != self.field) {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry(&self.field, &self.reply)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for WithReply {
    /// Only ever sent: a reply field's name is known to the sender alone.
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(D::Error::custom(
            "cat's requests are only sent, never received",
        ))
    }
}
