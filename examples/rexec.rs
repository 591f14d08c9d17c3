//! Remote execution, as in the Go libchan's rexec example: the client sends
//! a command with three byte streams (stdin, stdout, stderr) and a channel
//! for the exit status; the server runs it and streams the output back.
//!
//! ```text
//! cargo run -p libchan --example rexec -- sh -c 'echo hello; echo oops >&2; exit 3'
//! echo piped | cargo run -p libchan --example rexec -- tr a-z A-Z
//! ```
//!
//! Server and client run in this process over TCP on loopback; the program
//! exits with the remote command's code. `libchan serve` / `libchan exec`
//! are the full version (signals, killing the command when the client goes).

use std::process::Stdio;

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::{BoxError, ByteStream, Sender, SessionExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::process::Command;

/// What the client sends: the Go example's `RemoteCommand`.
#[derive(Debug, Serialize, Deserialize)]
struct RemoteCommand {
    cmd: String,
    args: Vec<String>,
    stdin: ByteStream,
    stdout: ByteStream,
    stderr: ByteStream,
    status: Sender<CommandResponse>,
}

/// How the command ended.
#[derive(Debug, Serialize, Deserialize)]
struct CommandResponse {
    status: i32,
}

/// Accepts sessions and runs every command they send.
async fn server(listener: Listener) {
    while let Ok((session, _peer)) = listener.accept().await {
        tokio::spawn(async move {
            while let Ok(Some(mut commands)) = session.accept::<RemoteCommand>().await {
                tokio::spawn(async move {
                    while let Ok(Some(command)) = commands.recv().await {
                        tokio::spawn(async move {
                            if let Err(e) = run_command(command).await {
                                eprintln!("rexec server: {e}");
                            }
                        });
                    }
                });
            }
        });
    }
}

async fn run_command(c: RemoteCommand) -> Result<(), BoxError> {
    let RemoteCommand {
        cmd,
        args,
        mut stdin,
        mut stdout,
        mut stderr,
        status,
    } = c;
    // Each stream is used one way; finish the other way at once.
    stdin.shutdown().await?;
    let mut child = match Command::new(&cmd)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            stderr
                .write_all(format!("rexec: cannot run {cmd}: {e}\n").as_bytes())
                .await?;
            stdout.shutdown().await?;
            stderr.shutdown().await?;
            status.send(CommandResponse { status: 127 }).await?;
            return Ok(());
        }
    };
    let mut child_in = child.stdin.take().expect("piped");
    let mut child_out = child.stdout.take().expect("piped");
    let mut child_err = child.stderr.take().expect("piped");
    let input = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut stdin, &mut child_in).await;
    });
    let out = async {
        tokio::io::copy(&mut child_out, &mut stdout).await?;
        stdout.shutdown().await
    };
    let err = async {
        tokio::io::copy(&mut child_err, &mut stderr).await?;
        stderr.shutdown().await
    };
    let (out, err, exit) = tokio::join!(out, err, child.wait());
    input.abort();
    out?;
    err?;
    let code = exit?.code().unwrap_or(1);
    status.send(CommandResponse { status: code }).await?;
    Ok(())
}

/// Runs `cmd args` on the server at `addr`, piping `input` to it and its
/// output to `output` and `errors`; returns its exit code.
async fn rexec(
    addr: std::net::SocketAddr,
    cmd: &str,
    args: &[String],
    input: impl AsyncRead + Unpin + Send + 'static,
    mut output: impl AsyncWrite + Unpin,
    mut errors: impl AsyncWrite + Unpin,
) -> Result<i32, BoxError> {
    let session = connect(addr, Config::new(Json)).await?;
    let commands = session.open::<RemoteCommand>()?;
    let (mut stdin, stdin_remote) = ByteStream::pair();
    let (mut stdout, stdout_remote) = ByteStream::pair();
    let (mut stderr, stderr_remote) = ByteStream::pair();
    let (status, mut status_rx) = libchan::pipe();
    commands
        .send(RemoteCommand {
            cmd: cmd.to_string(),
            args: args.to_vec(),
            stdin: stdin_remote,
            stdout: stdout_remote,
            stderr: stderr_remote,
            status,
        })
        .await?;
    let feed = tokio::spawn(async move {
        let mut input = input;
        if tokio::io::copy(&mut input, &mut stdin).await.is_ok() {
            let _ = stdin.shutdown().await;
        }
    });
    stdout.shutdown().await?;
    stderr.shutdown().await?;
    let (o, e) = tokio::join!(
        tokio::io::copy(&mut stdout, &mut output),
        tokio::io::copy(&mut stderr, &mut errors)
    );
    o?;
    e?;
    output.flush().await?;
    errors.flush().await?;
    let code = status_rx
        .recv()
        .await?
        .ok_or("the server sent no status")?
        .status;
    feed.abort();
    Ok(code)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        argv = [
            "sh",
            "-c",
            "echo hello from $(hostname); echo oops >&2; exit 3",
        ]
        .map(String::from)
        .to_vec();
    }
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(server(listener));
    let code = rexec(
        addr,
        &argv[0],
        &argv[1..],
        tokio::io::stdin(),
        tokio::io::stdout(),
        tokio::io::stderr(),
    )
    .await?;
    eprintln!("rexec: remote exit status {code}");
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_and_exit_status_come_back() {
        let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(server(listener));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = ["-c", "tr a-z A-Z; echo oops >&2; exit 3"].map(String::from);
        let code = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            rexec(addr, "sh", &args, &b"piped input\n"[..], &mut out, &mut err),
        )
        .await
        .expect("rexec finishes")
        .expect("rexec works");
        assert_eq!(code, 3);
        assert_eq!(out, b"PIPED INPUT\n");
        assert_eq!(err, b"oops\n");
    }
}
