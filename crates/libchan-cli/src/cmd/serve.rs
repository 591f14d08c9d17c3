//! `libchan serve`: the reference services on a listening address.

use std::time::Duration;

use clap::Args;
use libchan_cli::services::{self, ExecPolicy, ServeOptions};
use libchan_cli::transport::{Endpoint, Listen};
use tokio::signal::unix::{signal, SignalKind};

use super::{announce, Failure, NetArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is
    /// printed on stderr).
    #[arg(short, long, value_name = "ADDR", default_value = "127.0.0.1:7070")]
    listen: String,
    /// Run `exec` requests even when listening beyond loopback. Anyone who
    /// can connect can then run commands as this user: use TLS with client
    /// certificates (--ca).
    #[arg(long, conflicts_with = "no_exec")]
    allow_exec: bool,
    /// Refuse `exec` requests, even on loopback.
    #[arg(long)]
    no_exec: bool,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn run(args: ServeArgs) -> Result<u8, Failure> {
    let listener = args.net.listen(&args.listen).await?;
    let local = listener.local_addr();
    let exec = exec_policy(&args, &local);
    announce(args.net.transport, listener.as_ref(), "serve");
    if exec == ExecPolicy::Deny && !args.no_exec {
        tracing::warn!(
            "exec is refused: {local} is not a loopback address (pass --allow-exec to run commands)"
        );
    }
    let options = ServeOptions { exec };
    // Caught, not ignored: a command run by `exec` gets the default
    // handling of these signals (a caught signal is reset by exec(2), an
    // ignored one would be inherited), and a stopping server takes its
    // commands with it.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut quit = signal(SignalKind::quit())?;
    let stop = async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = quit.recv() => {}
        }
    };
    tokio::select! {
        r = accept_loop(listener.as_ref(), options) => r,
        () = stop => {
            tracing::info!("stopping");
            services::kill_running_commands();
            Ok(0)
        }
    }
}

async fn accept_loop(listener: &dyn Listen, options: ServeOptions) -> Result<u8, Failure> {
    let mut failures = 0u32;
    loop {
        match listener.accept().await {
            Ok((session, peer)) => {
                failures = 0;
                tracing::info!(%peer, "session");
                tokio::spawn(services::serve_session(session, options));
            }
            Err(e) => {
                failures += 1;
                tracing::warn!("a connection failed before its session started: {e}");
                if failures > 100 {
                    return Err(Failure::Failed(format!("the listener keeps failing: {e}")));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// `exec` runs on loopback by default; elsewhere only with --allow-exec.
fn exec_policy(args: &ServeArgs, local: &Endpoint) -> ExecPolicy {
    if args.no_exec {
        ExecPolicy::Deny
    } else if args.allow_exec || local.is_local() {
        ExecPolicy::Allow
    } else {
        ExecPolicy::Deny
    }
}
