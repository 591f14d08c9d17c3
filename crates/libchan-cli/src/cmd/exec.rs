//! `libchan exec ADDR -- CMD [ARGS]`: a command on a `libchan serve`
//! server, its standard streams piped through byte streams.

use std::collections::BTreeMap;

use clap::Args;
use libchan::{ByteStream, SessionExt};
use libchan_cli::services::{Call, ExecCall, ExitStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::signal::unix::{signal, SignalKind};

use super::{exit_code, Failure, NetArgs};

/// Copy buffer: the mux's largest DATA chunk.
const COPY_BUFFER: usize = 64 * 1024;

/// Ctrl-C presses forwarded before the client gives up and leaves (the
/// server then kills the command).
const FORWARDED_INTERRUPTS: u32 = 2;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The server (`libchan serve`): HOST:PORT, or a ws:// URL.
    #[arg(value_name = "ADDR")]
    addr: String,
    /// The command and its arguments, after `--`.
    #[arg(value_name = "CMD", required = true, last = true, num_args = 1..)]
    command: Vec<String>,
    /// Environment variable for the command (repeatable).
    #[arg(short, long, value_name = "NAME=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Working directory on the server.
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    #[command(flatten)]
    net: NetArgs,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))
}

pub async fn run(args: ExecArgs) -> Result<u8, Failure> {
    let session = args.net.dialer(&args.addr)?.connect().await?;
    let requests = session.open::<Call>()?;
    let (stdin_here, stdin_there) = ByteStream::pair();
    let (stdout_here, stdout_there) = ByteStream::pair();
    let (stderr_here, stderr_there) = ByteStream::pair();
    let (status_tx, mut status) = libchan::pipe_with_capacity::<ExitStatus>(1);
    let (signals, signals_rx) = libchan::pipe::<String>();
    let mut command = args.command.into_iter();
    let cmd = command.next().expect("clap requires a command");
    requests
        .send(Call::Exec(ExecCall {
            cmd,
            args: command.collect(),
            env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
            cwd: args.cwd,
            stdin: stdin_there,
            stdout: stdout_there,
            stderr: stderr_there,
            status: status_tx,
            signals: Some(signals_rx),
        }))
        .await?;
    drop(requests);

    let input = tokio::spawn(feed(tokio::io::stdin(), stdin_here));
    let output = tokio::spawn(drain(stdout_here, tokio::io::stdout()));
    let errors = tokio::spawn(drain(stderr_here, tokio::io::stderr()));

    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut interrupts = 0u32;
    let ended = loop {
        tokio::select! {
            s = status.recv() => break s,
            _ = interrupt.recv() => {
                interrupts += 1;
                if interrupts > FORWARDED_INTERRUPTS {
                    eprintln!("libchan: leaving; the server kills the command");
                    session.abort("the client was interrupted");
                    return Ok(130);
                }
                let _ = signals.send("INT".into()).await;
            }
            _ = terminate.recv() => { let _ = signals.send("TERM".into()).await; }
            _ = hangup.recv() => { let _ = signals.send("HUP".into()).await; }
        }
    };
    input.abort();
    let status = match ended {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Err(Failure::Failed(
                "the server dropped the command without an exit status".into(),
            ))
        }
        Err(e) => {
            return Err(Failure::Failed(format!(
                "the connection to {} broke before the command finished: {e}",
                args.addr
            )))
        }
    };
    // The output streams end after the command's last byte, or break if
    // the session does; either way these finish.
    let out = output.await.unwrap_or(Ok(()));
    let err = errors.await.unwrap_or(Ok(()));
    if let Some(e) = out.err().or(err.err()) {
        return Err(Failure::Failed(format!("the command's output broke: {e}")));
    }
    drop(signals);
    let _ = session.close().await;
    if let Some(why) = &status.error {
        eprintln!("libchan: remote: {why}");
        if status.code.is_none() && status.signal.is_none() {
            return Ok(1);
        }
    }
    Ok(exit_code(status.shell_code()))
}

/// Copies local input into the command's stdin stream, then ends it
/// cleanly; stops quietly if the command stops reading.
async fn feed(from: impl AsyncRead + Unpin, mut to: ByteStream) {
    let mut from = BufReader::with_capacity(COPY_BUFFER, from);
    if tokio::io::copy_buf(&mut from, &mut to).await.is_ok() {
        let _ = to.shutdown().await;
    }
}

/// Copies one of the command's output streams to a local one. A local
/// output that closes (`| head -1`) just stops the copy: the command then
/// sees its output cancelled, as it would see a closed pipe; only the
/// remote stream breaking is an error.
async fn drain(mut from: ByteStream, mut to: impl AsyncWrite + Unpin) -> std::io::Result<()> {
    // This side never writes on an output stream.
    from.shutdown().await?;
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            let _ = to.flush().await;
            return Ok(());
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return Ok(());
        }
    }
}
