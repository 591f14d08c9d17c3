//! The services `libchan serve` offers, and their wire types.
//!
//! A client opens top-level channels toward the server and sends requests
//! on them; every request is one object (JSON with the json codec) naming
//! its `service`. `docs/SERVICES.md` is the contract for other languages;
//! this module is its implementation:
//!
//! | service | request fields | what comes back |
//! |---|---|---|
//! | `echo` | `body`, `reply` (sender) | `body`, once, then the reply channel ends |
//! | `count` | `n`, `reply` (sender) | `1`, `2`, … `n` on `reply`, then a clean end |
//! | `feed` | `n`, `reply` (sender) | one `{"items": <receiver>}`; `1` … `n` arrive on `items` |
//! | `sum` | `numbers` (receiver), `reply` (sender) | after `numbers` ends: `{"sum","count","error"}` |
//! | `byte_echo` | `stream` (byte stream) | every byte back on `stream`, then end-of-stream |
//! | `exec` | `cmd`, `args`, `stdin`/`stdout`/`stderr` (byte streams), `status` (sender), `signals` (receiver) | the output on the streams, then `{"code","signal","error"}` on `status` |
//!
//! A request for an unknown service, or one missing a field, still decodes
//! (as [`Call::Rejected`]) and is answered with `{"error": …}` on its
//! `reply` (or `status`) channel, instead of breaking the channel it came on.

mod exec;

use std::collections::BTreeMap;
use std::sync::Arc;

use libchan::{BoxError, ByteStream, ChannelError, Receiver, Sender, Session, SessionExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use exec::{kill_all as kill_running_commands, run as run_exec, ExecPolicy};

/// The services, by wire name.
pub const SERVICES: [&str; 6] = ["echo", "count", "feed", "sum", "byte_echo", "exec"];

/// Most numbers one `count` or `feed` request may ask for, so a typo does
/// not keep a server busy for hours (the stream is paced by the reader
/// either way).
pub const MAX_COUNT: u64 = 10_000_000;

/// A request to one of the services; the `service` field names the variant.
///
/// Decoding is lenient: a request naming an unknown service, or missing a
/// field its service needs, becomes [`Call::Rejected`] (the server answers
/// it with an error) rather than a decoding error that would break the
/// channel. Over a connection every codec goes through this; in memory the
/// values move as they are.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "service", rename_all = "snake_case", try_from = "Value")]
pub enum Call {
    /// Sends `body` back on `reply`.
    Echo(Echo),
    /// Streams `1` … `n` on `reply`.
    Count(Count),
    /// Answers with a channel on which `1` … `n` arrive.
    Feed(Feed),
    /// Adds up `numbers` until that channel ends.
    Sum(Sum),
    /// Echoes every byte of `stream` back on it.
    ByteEcho(ByteEcho),
    /// Runs a command.
    Exec(ExecCall),
    /// A request the server cannot serve (only ever received).
    #[serde(skip)]
    Rejected(Rejected),
}

/// `echo`: `{"service":"echo","body":…,"reply":<sender>}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Echo {
    /// Any value.
    #[serde(default)]
    pub body: Value,
    /// Gets `body`, then ends.
    pub reply: Sender<Value>,
}

/// `count`: `{"service":"count","n":3,"reply":<sender>}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Count {
    /// How many numbers.
    pub n: u64,
    /// Gets `1` … `n`, then ends.
    pub reply: Sender<u64>,
}

/// `feed`: `{"service":"feed","n":3,"reply":<sender>}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Feed {
    /// How many numbers.
    pub n: u64,
    /// Gets one [`FeedReply`].
    pub reply: Sender<FeedReply>,
}

/// `feed`'s answer: a channel the server opened toward the client.
#[derive(Debug, Serialize, Deserialize)]
pub struct FeedReply {
    /// Receives `1` … `n`, then ends.
    pub items: Receiver<u64>,
}

/// `sum`: `{"service":"sum","numbers":<receiver>,"reply":<sender>}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Sum {
    /// The numbers; drop the sender to finish, abort it to see a broken end.
    pub numbers: Receiver<i64>,
    /// Gets one [`SumReply`].
    pub reply: Sender<SumReply>,
}

/// `sum`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SumReply {
    /// The total, when the numbers channel ended cleanly.
    pub sum: Option<i64>,
    /// How many numbers arrived.
    pub count: u64,
    /// Why there is no total: the numbers channel broke (its sender
    /// aborted, its session was lost).
    pub error: Option<String>,
}

/// `byte_echo`: `{"service":"byte_echo","stream":<stream>}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ByteEcho {
    /// The stream; everything written to it comes back.
    pub stream: ByteStream,
}

/// `exec`: a command, its three standard streams, its status channel and
/// a channel for signals.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecCall {
    /// The program (looked up in the server's `PATH`).
    pub cmd: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (the server's own if `None`).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Its standard input: the server reads what the client writes.
    pub stdin: ByteStream,
    /// Its standard output: the client reads.
    pub stdout: ByteStream,
    /// Its standard error: the client reads.
    pub stderr: ByteStream,
    /// Gets one [`ExitStatus`].
    pub status: Sender<ExitStatus>,
    /// Signal names to deliver to the command's process group (`"INT"`,
    /// `"TERM"`, `"HUP"`, `"QUIT"`, `"KILL"`, `"USR1"`, `"USR2"`, `"WINCH"`).
    #[serde(default)]
    pub signals: Option<Receiver<String>>,
}

/// How a command run by `exec` ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Its exit code, if it exited (127 if it could not be found, 126 if it
    /// could not be run).
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Why it could not run, or was killed by the server.
    pub error: Option<String>,
}

impl ExitStatus {
    /// The exit code a shell would report: the code, or 128 + the signal.
    pub fn shell_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }
}

/// A request that named an unknown service or lacked a field; whatever
/// reply channel it carried gets the error.
#[derive(Debug)]
pub struct Rejected {
    /// The `service` it named.
    pub service: String,
    /// What was wrong with it.
    pub error: String,
    /// Its `reply` field, if that was a sender.
    pub reply: Option<Sender<Value>>,
    /// Its `status` field, if that was a sender.
    pub status: Option<Sender<ExitStatus>>,
}

/// The fields each service needs, checked before any end is imported, so
/// a rejected request never claims half its ends.
fn required(service: &str) -> Option<&'static [&'static str]> {
    Some(match service {
        "echo" => &["reply"],
        "count" | "feed" => &["n", "reply"],
        "sum" => &["numbers", "reply"],
        "byte_echo" => &["stream"],
        "exec" => &["cmd", "stdin", "stdout", "stderr", "status"],
        _ => return None,
    })
}

impl TryFrom<Value> for Call {
    type Error = String;

    /// Runs inside the session's decode, so the ends named in `v` are
    /// imported as its fields are deserialized.
    fn try_from(v: Value) -> Result<Call, String> {
        let service = v
            .get("service")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let problem = match required(&service) {
            None if service.is_empty() => Some("a request needs a `service` field".to_string()),
            None => Some(format!(
                "unknown service {service:?}; this server offers {}",
                SERVICES.join(", ")
            )),
            Some(fields) => fields
                .iter()
                .find(|f| v.get(**f).is_none_or(Value::is_null))
                .map(|f| format!("a {service} request needs `{f}`")),
        };
        if let Some(error) = problem {
            let field = |name: &str| v.get(name).cloned().unwrap_or(Value::Null);
            return Ok(Call::Rejected(Rejected {
                service,
                error,
                reply: Option::<Sender<Value>>::deserialize(field("reply")).unwrap_or(None),
                status: Option::<Sender<ExitStatus>>::deserialize(field("status")).unwrap_or(None),
            }));
        }
        let e = |e: serde_json::Error| format!("a bad {service} request: {e}");
        Ok(match service.as_str() {
            "echo" => Call::Echo(Echo::deserialize(v).map_err(e)?),
            "count" => Call::Count(Count::deserialize(v).map_err(e)?),
            "feed" => Call::Feed(Feed::deserialize(v).map_err(e)?),
            "sum" => Call::Sum(Sum::deserialize(v).map_err(e)?),
            "byte_echo" => Call::ByteEcho(ByteEcho::deserialize(v).map_err(e)?),
            "exec" => Call::Exec(ExecCall::deserialize(v).map_err(e)?),
            _ => unreachable!("required() knows every service"),
        })
    }
}

/// What a server allows.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Whether `exec` runs commands.
    pub exec: ExecPolicy,
}

/// Serves every channel the peer opens on `session` until the session ends.
pub async fn serve_session(session: Arc<dyn Session>, options: ServeOptions) {
    loop {
        match session.accept::<Call>().await {
            Ok(Some(requests)) => {
                tokio::spawn(serve_channel(requests, options));
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!("session ended: {e}");
                break;
            }
        }
    }
}

/// Serves the requests of one channel, each in its own task.
pub async fn serve_channel(mut requests: Receiver<Call>, options: ServeOptions) {
    loop {
        match requests.recv().await {
            Ok(Some(req)) => {
                tokio::spawn(async move {
                    if let Err(e) = handle(req, options).await {
                        tracing::debug!("a request ended early: {e}");
                    }
                });
            }
            Ok(None) => break,
            // The client went away: nothing unusual for a server.
            Err(e @ ChannelError::SessionLost(_)) => {
                tracing::info!("a request channel ended with its session: {e}");
                break;
            }
            Err(e) => {
                tracing::warn!("a request channel broke: {e}");
                break;
            }
        }
    }
}

async fn handle(req: Call, options: ServeOptions) -> Result<(), BoxError> {
    match req {
        Call::Echo(Echo { body, reply }) => {
            tracing::info!("echo");
            reply.send(body).await?;
        }
        Call::Count(Count { n, reply }) => {
            tracing::info!(n, "count");
            if n > MAX_COUNT {
                return Err(format!("count: n = {n} is above the limit of {MAX_COUNT}").into());
            }
            for i in 1..=n {
                reply.send(i).await?;
            }
        }
        Call::Feed(Feed { n, reply }) => {
            tracing::info!(n, "feed");
            if n > MAX_COUNT {
                return Err(format!("feed: n = {n} is above the limit of {MAX_COUNT}").into());
            }
            let (items_tx, items) = libchan::pipe::<u64>();
            reply.send(FeedReply { items }).await?;
            drop(reply);
            for i in 1..=n {
                items_tx.send(i).await?;
            }
        }
        Call::Sum(Sum { mut numbers, reply }) => {
            tracing::info!("sum");
            let (mut sum, mut count) = (0i64, 0u64);
            let answer = loop {
                match numbers.recv().await {
                    Ok(Some(x)) => {
                        sum = sum.wrapping_add(x);
                        count += 1;
                    }
                    Ok(None) => {
                        break SumReply {
                            sum: Some(sum),
                            count,
                            error: None,
                        }
                    }
                    Err(e) => {
                        break SumReply {
                            sum: None,
                            count,
                            error: Some(e.to_string()),
                        }
                    }
                }
            };
            reply.send(answer).await?;
        }
        Call::ByteEcho(ByteEcho { stream }) => {
            tracing::info!("byte_echo");
            let n = byte_echo(stream).await?;
            tracing::debug!(bytes = n, "byte_echo finished");
        }
        Call::Exec(call) => exec::serve(call, options.exec).await?,
        Call::Rejected(r) => {
            tracing::warn!(service = r.service, "rejected a request: {}", r.error);
            if let Some(reply) = r.reply {
                reply.send(json!({ "error": r.error })).await?;
            } else if let Some(status) = r.status {
                status
                    .send(ExitStatus {
                        error: Some(r.error),
                        ..ExitStatus::default()
                    })
                    .await?;
            }
        }
    }
    Ok(())
}

/// Copies everything read from `stream` back to it; shuts its writing half
/// down after the peer's end-of-stream. A read error (the peer aborted) is
/// returned, and the stream is then dropped without shutdown, so the peer
/// sees a broken end too.
async fn byte_echo(mut stream: ByteStream) -> Result<u64, BoxError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.shutdown().await?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}
