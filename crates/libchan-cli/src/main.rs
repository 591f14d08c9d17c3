//! `libchan`: try libchan, serve and call its reference services, run
//! commands remotely, talk JSON lines to any libchan peer, forward TCP
//! through a gateway, and measure.
//!
//! Exit codes: 0 success, 1 a remote or command failure, 2 a usage error;
//! `libchan exec` exits with the remote command's code.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

use cmd::{Cli, Failure};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and --version print to stdout and exit 0; a usage error
        // prints clap's message and exits 2.
        Err(e) => e.exit(),
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("libchan: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(cmd::run(cli.command));
    // A blocked read of the terminal (stdin) must not keep the process
    // alive once the command is done.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(msg)) => {
            eprintln!("libchan: {msg}");
            eprintln!("Try 'libchan --help' for more information.");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("libchan: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` (tracing's filter
/// syntax) overrides. Logs go to stderr.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .init();
}
