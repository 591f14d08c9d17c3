//! The command line: arguments, and the dispatch to each command.

mod bench;
mod cat;
mod demo;
mod exec;
mod forward;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use libchan::{BoxError, Codec};
use libchan_cli::gateway::Backends;
use libchan_cli::transport::{Config, Dialer, Listen, TlsOptions, TransportKind, INMEM_ONLY};

/// Typed Go-like channels over the network: try them, serve and call the
/// reference services, run commands remotely, talk JSON lines to any peer,
/// forward TCP through a gateway, measure.
#[derive(Debug, Parser)]
#[command(name = "libchan", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr: -v info, -vv debug, -vvv trace
    /// (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a server and a client in this process and walks through what
    /// libchan does, step by step: request/response, nested channels both
    /// ways, a byte stream, clean and broken ends.
    Demo(demo::DemoArgs),
    /// Serves the reference services (echo, count, feed, sum, byte_echo,
    /// exec) that any client, in any language, can exercise
    /// (docs/SERVICES.md).
    Serve(serve::ServeArgs),
    /// Runs a command on a `libchan serve` server: stdin, stdout and stderr
    /// are byte streams, and this exits with the command's exit code.
    Exec(exec::ExecArgs),
    /// Sends JSON lines from stdin on a channel and prints the messages
    /// received as JSON lines, connecting or listening.
    Cat(cat::CatArgs),
    /// Exposes named TCP backends to `libchan forward` clients.
    Gateway(forward::GatewayArgs),
    /// Accepts local TCP connections and carries each to a backend of a
    /// `libchan gateway`, over one session (like `ssh -L`).
    Forward(forward::ForwardArgs),
    /// Measures throughput and latency per transport and payload size,
    /// each beside a baseline measured in the same run.
    Bench(bench::BenchArgs),
}

/// Why a command failed: a usage error (exit 2) or anything else (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The arguments make no sense together.
    Usage(String),
    /// The command ran and failed.
    Failed(String),
}

impl<T> From<libchan::SendError<T>> for Failure {
    fn from(e: libchan::SendError<T>) -> Self {
        Failure::Failed(e.to_string())
    }
}

impl From<BoxError> for Failure {
    fn from(e: BoxError) -> Self {
        Failure::Failed(e.to_string())
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::Failed(e.to_string())
            }
        }
    )*};
}
failure_from!(
    std::io::Error,
    libchan::SessionError,
    libchan::ChannelError,
    serde_json::Error
);

/// Runs one command; `Ok` is the process's exit code.
pub async fn run(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Demo(a) => demo::run(a).await,
        Command::Serve(a) => serve::run(a).await,
        Command::Exec(a) => exec::run(a).await,
        Command::Cat(a) => cat::run(a).await,
        Command::Gateway(a) => forward::gateway(a).await,
        Command::Forward(a) => forward::forward(a).await,
        Command::Bench(a) => bench::run(a).await,
    }
}

/// A codec, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecName {
    /// JSON: readable, and what other languages speak most easily.
    Json,
    /// MessagePack: compact, binary payloads as `bin`.
    Msgpack,
}

impl CodecName {
    fn codec(self) -> Arc<dyn Codec> {
        match self {
            CodecName::Json => Arc::new(libchan::codec::Json),
            CodecName::Msgpack => Arc::new(libchan::codec::Msgpack),
        }
    }

    /// A dialer's configuration: this codec first, the other as fallback.
    pub fn client_config(self) -> Config {
        let other = match self {
            CodecName::Json => CodecName::Msgpack,
            CodecName::Msgpack => CodecName::Json,
        };
        Config::with_codecs(vec![self.codec(), other.codec()])
    }

    /// A server's configuration: it speaks both and lets the dialer choose.
    pub fn server_config() -> Config {
        Config::with_codecs(vec![CodecName::Json.codec(), CodecName::Msgpack.codec()])
    }
}

/// How to reach a peer, or how to listen for them: the options every
/// networked command shares.
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// Transport.
    #[arg(short, long, value_enum, default_value_t = TransportKind::Tcp)]
    pub transport: TransportKind,
    /// Codec the dialer prefers (servers speak both).
    #[arg(long, value_enum, default_value_t = CodecName::Json)]
    pub codec: CodecName,
    /// This side's certificate chain, PEM (tls; ws becomes wss, h2 h2 over
    /// TLS).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// This side's private key, PEM.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificate the peer must be signed by, PEM: a client checks the
    /// server with it; a server then requires client certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Name the server's certificate must carry (default: the host dialled).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

impl NetArgs {
    fn tls(&self) -> Result<TlsOptions, Failure> {
        Ok(TlsOptions::from_files(
            self.cert.as_deref(),
            self.key.as_deref(),
            self.ca.as_deref(),
            self.server_name.clone(),
        )?)
    }

    fn network(&self) -> Result<TransportKind, Failure> {
        if self.transport == TransportKind::Inmem {
            return Err(Failure::Usage(format!("--transport inmem: {INMEM_ONLY}")));
        }
        Ok(self.transport)
    }

    /// The dialer for `addr`.
    pub fn dialer(&self, addr: &str) -> Result<Dialer, Failure> {
        Ok(Dialer {
            kind: self.network()?,
            addr: addr.to_string(),
            tls: self.tls()?,
            config: self.codec.client_config(),
        })
    }

    /// Binds `addr` as a server.
    pub async fn listen(&self, addr: &str) -> Result<Box<dyn Listen>, Failure> {
        self.listen_with(addr, CodecName::server_config()).await
    }

    /// Binds `addr` as a server whose sessions use `config`.
    pub async fn listen_with(
        &self,
        addr: &str,
        config: Config,
    ) -> Result<Box<dyn Listen>, Failure> {
        let kind = self.network()?;
        let tls = self.tls()?;
        Ok(kind.get().bind(addr, &tls, config).await?)
    }
}

/// Parses `--backend NAME=HOST:PORT` (several with commas, or the option
/// repeated).
pub fn parse_backends(s: &str) -> Result<Backends, String> {
    s.parse()
}

/// Prints what a server listens on, to stderr (stdout is for data), in a
/// form scripts can read: `listening on tcp 127.0.0.1:7070`.
pub fn announce(kind: TransportKind, listener: &dyn Listen, what: &str) {
    eprintln!(
        "libchan: {what} listening on {kind} {}",
        listener.local_addr()
    );
}

/// Converts a remote exit code to this process's (0..=255).
pub fn exit_code(code: i32) -> u8 {
    u8::try_from(code & 0xff).unwrap_or(1)
}
