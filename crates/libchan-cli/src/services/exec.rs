//! The `exec` service: runs a command with its standard streams carried as
//! byte streams, and reports how it ended.
//!
//! The command runs in a process group of its own. Signals the client sends
//! go to the whole group (as a terminal's Ctrl-C does); if the client goes
//! away (it drops the status receiver, or its session is lost) before the
//! command ends, the group is killed. Nothing is left running.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};

use libchan::{BoxError, ByteStream, Receiver, Sender};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::{ExecCall, ExitStatus};

/// Process groups of the commands running now, so a server that stops can
/// take them with it.
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Kills every command this process is running for a client (a server
/// that stops calls it: its clients are gone with it).
pub fn kill_all() {
    let groups = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Registers a running group; unregisters it when dropped.
struct Registered(Option<Pid>);

impl Registered {
    fn new(pgid: Option<Pid>) -> Self {
        if let Some(p) = pgid {
            RUNNING
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(p.as_raw());
        }
        Registered(pgid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            RUNNING
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&p.as_raw());
        }
    }
}

/// Whether a server runs commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecPolicy {
    /// `exec` requests run.
    Allow,
    /// `exec` requests are answered with an error status.
    Deny,
}

/// Serves one `exec` request.
pub(super) async fn serve(call: ExecCall, policy: ExecPolicy) -> Result<(), BoxError> {
    let ExecCall {
        cmd,
        args,
        env,
        cwd,
        stdin,
        stdout,
        stderr,
        status,
        signals,
    } = call;
    tracing::info!(cmd, ?args, "exec");
    if policy == ExecPolicy::Deny {
        finish_unused(stdout, stderr).await;
        return refuse(
            status,
            "exec is disabled on this server (start it with --allow-exec)",
        )
        .await;
    }
    let mut command = Command::new(&cmd);
    command.args(args).envs(env);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let signals = signals.unwrap_or_else(|| libchan::pipe().1);
    let code = run(command, stdin, stdout, stderr, &status, signals).await;
    status.send(code).await?;
    Ok(())
}

async fn refuse(status: Sender<ExitStatus>, why: &str) -> Result<(), BoxError> {
    status
        .send(ExitStatus {
            code: None,
            signal: None,
            error: Some(why.to_string()),
        })
        .await?;
    Ok(())
}

/// Maps a signal's wire name to the signal.
fn signal_named(name: &str) -> Option<Signal> {
    let name = name.trim_start_matches("SIG");
    Some(match name {
        "INT" => Signal::SIGINT,
        "TERM" => Signal::SIGTERM,
        "HUP" => Signal::SIGHUP,
        "QUIT" => Signal::SIGQUIT,
        "KILL" => Signal::SIGKILL,
        "USR1" => Signal::SIGUSR1,
        "USR2" => Signal::SIGUSR2,
        "WINCH" => Signal::SIGWINCH,
        _ => return None,
    })
}

/// Runs `command` with its standard streams connected to the three byte
/// streams, delivering `signals` to its process group, and returns how it
/// ended. If `status`'s receiver goes away first, the group is killed.
///
/// Used by the `exec` service and by the `rexec` example's server.
pub async fn run(
    mut command: Command,
    mut stdin: ByteStream,
    stdout: ByteStream,
    stderr: ByteStream,
    status: &Sender<ExitStatus>,
    mut signals: Receiver<String>,
) -> ExitStatus {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // The direction of each stream that this side does not use is finished
    // at once, so the stream ends as soon as the used direction does.
    let _ = stdin.shutdown().await;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let program = command
                .as_std()
                .get_program()
                .to_string_lossy()
                .into_owned();
            finish_unused(stdout, stderr).await;
            return ExitStatus {
                code: Some(code),
                signal: None,
                error: Some(format!("cannot run {program}: {e}")),
            };
        }
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let _registered = Registered::new(pgid);
    tracing::info!(pid = ?pgid, "started {:?}", command.as_std().get_program());

    let child_in = child.stdin.take().expect("stdin was piped");
    let child_out = child.stdout.take().expect("stdout was piped");
    let child_err = child.stderr.take().expect("stderr was piped");
    let feed_stdin = tokio::spawn(async move {
        let mut child_in = child_in;
        let mut input = BufReader::with_capacity(COPY_BUFFER, &mut stdin);
        // Stops when the client ends its input, or the program closes its
        // input (the client's writes then fail: the stream is cancelled).
        let _ = tokio::io::copy_buf(&mut input, &mut child_in).await;
        drop(input);
        let _ = child_in.shutdown().await;
        drop(child_in);
        drop(stdin);
    });
    let out = tokio::spawn(pump(child_out, stdout));
    let err = tokio::spawn(pump(child_err, stderr));

    let mut signals_open = true;
    let exit = loop {
        tokio::select! {
            exit = child.wait() => break exit,
            sig = signals.recv(), if signals_open => match sig {
                Ok(Some(name)) => match (signal_named(&name), pgid) {
                    (Some(sig), Some(pgid)) => {
                        tracing::info!(?sig, "forwarding a signal");
                        let _ = killpg(pgid, sig);
                    }
                    _ => tracing::warn!("ignoring unknown signal {name:?}"),
                },
                Ok(None) => signals_open = false,
                Err(e) => {
                    tracing::info!("the client's signal channel broke ({e}); killing the command");
                    kill(pgid);
                    signals_open = false;
                }
            },
            () = status.closed() => {
                tracing::info!("the client went away; killing the command");
                kill(pgid);
                let _ = child.wait().await;
                feed_stdin.abort();
                out.abort();
                err.abort();
                return ExitStatus {
                    code: None,
                    signal: Some(Signal::SIGKILL as i32),
                    error: Some("the client went away".into()),
                };
            }
        }
    };
    // The program is gone; whatever it left in the group goes too, so a
    // background child holding the output open cannot keep us waiting.
    kill(pgid);
    feed_stdin.abort();
    let _ = out.await;
    let _ = err.await;
    match exit {
        Ok(exit) => {
            use std::os::unix::process::ExitStatusExt;
            ExitStatus {
                code: exit.code(),
                signal: exit.signal(),
                error: None,
            }
        }
        Err(e) => ExitStatus {
            code: None,
            signal: None,
            error: Some(format!("waiting for the command failed: {e}")),
        },
    }
}

fn kill(pgid: Option<Pid>) {
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

/// Copy buffer: one DATA frame's worth at the mux's largest chunk.
const COPY_BUFFER: usize = 64 * 1024;

/// Copies a program's output into its byte stream; a clean end after the
/// program's end-of-file, a broken one (dropped without shutdown) if
/// reading its pipe failed. The stream's other direction is the client's,
/// and unused: whatever it does with it, our end-of-stream came first.
async fn pump(from: impl AsyncRead + Unpin, mut to: ByteStream) {
    let mut from = BufReader::with_capacity(COPY_BUFFER, from);
    match tokio::io::copy_buf(&mut from, &mut to).await {
        Ok(_) => {
            let _ = to.shutdown().await;
        }
        Err(e) => tracing::debug!("output stream ended early: {e}"),
    }
}

async fn finish_unused(mut stdout: ByteStream, mut stderr: ByteStream) {
    let _ = stdout.shutdown().await;
    let _ = stderr.shutdown().await;
}
