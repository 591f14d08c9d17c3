//! Shared by the CLI tests (and the redis benchmark): the built `libchan`
//! binary run as a user would, with every wait bounded.

#![allow(dead_code)]

pub mod resp;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound on any wait: it separates "slow" from "never".
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn libchan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_libchan"));
    c.env_remove("RUST_LOG");
    c
}

/// A process that is killed (and reaped) when the guard goes, so a failing
/// test leaves nothing running.
pub struct Running {
    pub child: Child,
    /// Lines the process wrote on stderr, as they come.
    pub stderr: mpsc::Receiver<String>,
    pub name: String,
}

impl Running {
    /// Starts `cmd` with stderr captured line by line (stdin and stdout as
    /// `cmd` has them set, else null).
    pub fn start(name: &str, mut cmd: Command) -> Running {
        cmd.stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let who = name.to_string();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{who}] {line}");
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so the
                    // process never blocks on a full pipe.
                }
            }
        });
        Running {
            child,
            stderr: rx,
            name: name.to_string(),
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("{} never printed a line with {needle:?}", self.name),
            }
        }
    }

    /// The address at the end of the "... listening on KIND ADDR" line.
    pub fn listening_addr(&self) -> String {
        let line = self.line_with("listening on");
        line.split_whitespace()
            .last()
            .expect("an address ends the line")
            .to_string()
    }

    /// Waits for the process to exit, bounded.
    pub fn wait(&mut self) -> ExitStatus {
        wait_bounded(&mut self.child, &self.name)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, killing it and failing after [`PATIENCE`].
pub fn wait_bounded(child: &mut Child, name: &str) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not exit within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `cmd` to the end with `input` on its stdin, bounded by [`PATIENCE`].
pub fn run(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the command");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_bounded(&mut child, &format!("{cmd:?}"));
    let _ = writer.join();
    Output {
        status,
        stdout: reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// `libchan serve` on a free loopback port, and its address.
pub fn serve() -> (Running, String) {
    let mut cmd = libchan();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let server = Running::start("serve", cmd);
    let addr = server.listening_addr();
    (server, addr)
}

/// A free loopback port (for programs that cannot be told to pick one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// True while a process with this pid exists (zombies included).
pub fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

/// Waits until `f` holds, bounded; false if it never did.
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Kills process `pid` if it is still running after `limit`, so that a
/// test blocked reading its pipes fails instead of hanging. Disarmed when
/// dropped.
pub struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    pub fn new(pid: u32, limit: Duration) -> Watchdog {
        use std::sync::atomic::{AtomicBool, Ordering};
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let d = done.clone();
        thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if d.load(Ordering::Relaxed) {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            if !d.load(Ordering::Relaxed) {
                eprintln!("watchdog: killing {pid} after {limit:?}");
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
