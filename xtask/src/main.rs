//! Project automation, run as `cargo xtask <command>`.
//!
//! * `ci` — exactly what `.ci/run` runs (fmt, clippy, the test suite, rustdoc).
//! * `bench [--quick]` — the benchmarks, each beside its in-run baseline
//!   (the gateway's redis benchmark needs redis-server installed).
//! * `fuzz [--seconds N] [TARGET...]` — every cargo-fuzz target for N seconds
//!   (needs the nightly toolchain and cargo-fuzz, installed on demand).
//! * `docs` — rustdoc for the workspace with warnings denied.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => run(Command::new("bash").arg(root.join(".ci/run"))),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("docs") => run(Command::new("cargo")
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings")),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | bench [--quick] | fuzz [--seconds N] [TARGET...] | docs>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new("cargo");
    cmd.args(["bench", "--workspace", "--all-features", "--bench", "*"]);
    if args.iter().any(|a| a == "--quick") {
        cmd.env("LIBCHAN_BENCH_QUICK", "1");
    }
    run(&mut cmd)
}

fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--seconds" {
            seconds = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("--seconds needs a number")?;
        } else {
            targets.push(a.clone());
        }
    }
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir.join("Cargo.toml").exists() {
        return Err("no fuzz/ crate in this workspace".into());
    }
    let have_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_fuzz {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    if targets.is_empty() {
        let out = Command::new("cargo")
            .args(["+nightly", "fuzz", "list"])
            .current_dir(root)
            .output()
            .map_err(|e| format!("cargo fuzz list: {e}"))?;
        targets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
    }
    for target in &targets {
        println!("== fuzzing {target} for {seconds}s");
        run(Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .current_dir(root))?;
    }
    Ok(())
}
