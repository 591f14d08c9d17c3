//! The `libchan` binary driven as a user would: spawned processes, real
//! loopback sockets, exit codes and output. Waits are bounded; nothing is
//! timed.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;

use support::{eventually, libchan, process_exists, run, serve, Running};

#[test]
fn demo_walks_through_every_step_over_every_transport() {
    for transport in ["tcp", "inmem", "unix", "tls", "ws", "h2"] {
        let mut cmd = libchan();
        cmd.args(["demo", "--transport", transport]);
        let out = run(cmd, b"");
        let text = out.stdout_text();
        assert_eq!(
            out.code(),
            0,
            "demo over {transport}: {text}\n{}",
            out.stderr
        );
        for step in [
            "request/response",
            "streamed response",
            "nested channel, to server",
            "nested channel, to client",
            "byte stream",
            "broken end, one channel",
            "clean end, the session",
            "broken end, the session",
        ] {
            assert!(
                text.contains(step),
                "demo over {transport} lacks {step:?}:\n{text}"
            );
        }
        assert!(text.contains("sum 5050 of 100"), "{text}");
        assert!(text.contains("the producer failed halfway"), "{text}");
    }
}

#[test]
fn the_default_demo_is_over_tcp() {
    let out = run(
        {
            let mut c = libchan();
            c.arg("demo");
            c
        },
        b"",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout_text().contains("over tcp"));
}

#[test]
fn help_and_usage_errors_exit_0_and_2() {
    for args in [
        &["--help"][..],
        &["exec", "--help"],
        &["bench", "--help"],
        &["gateway", "--help"],
    ] {
        let mut c = libchan();
        c.args(args);
        let out = run(c, b"");
        assert_eq!(out.code(), 0, "{args:?}");
        assert!(out.stdout_text().contains("Usage"), "{args:?}");
    }
    for args in [
        &["exec", "127.0.0.1:1"][..],
        &["no-such-command"],
        &["exec", "--transport", "inmem", "127.0.0.1:1", "--", "true"],
        &[
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "nonsense",
        ],
        &["cat"],
    ] {
        let mut c = libchan();
        c.args(args);
        let out = run(c, b"");
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn a_failure_is_one_line_and_exit_code_1() {
    let port = support::free_port();
    let mut c = libchan();
    c.args(["exec", &format!("127.0.0.1:{port}"), "--", "true"]);
    let out = run(c, b"");
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {:?}", out.stderr);
    assert!(
        lines[0].starts_with("libchan: error: cannot connect to"),
        "{}",
        lines[0]
    );
    assert!(!out.stderr.contains("backtrace") && !out.stderr.contains("panicked"));
}

fn exec(addr: &str, argv: &[&str], input: &[u8]) -> support::Output {
    let mut c = libchan();
    c.args(["exec", addr, "--"]).args(argv);
    run(c, input)
}

#[test]
fn exec_exits_with_the_remote_code_and_carries_each_stream() {
    let (_server, addr) = serve();
    let out = exec(&addr, &["sh", "-c", "exit 3"], b"");
    assert_eq!(out.code(), 3, "{}", out.stderr);

    let out = exec(&addr, &["sh", "-c", "echo out; echo err >&2; exit 7"], b"");
    assert_eq!(out.code(), 7);
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr, "err\n");

    let out = exec(&addr, &["tr", "a-z", "A-Z"], b"piped through\n");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout_text(), "PIPED THROUGH\n");

    let out = exec(&addr, &["no-such-program-here"], b"");
    assert_eq!(out.code(), 127);
    assert!(
        out.stderr.contains("cannot run no-such-program-here"),
        "{}",
        out.stderr
    );

    let out = exec(&addr, &["sh", "-c", "kill -TERM $$"], b"");
    assert_eq!(out.code(), 128 + 15, "a signal death is 128 + the signal");
}

#[test]
fn exec_passes_env_and_cwd() {
    let (_server, addr) = serve();
    let mut c = libchan();
    c.args([
        "exec",
        &addr,
        "-e",
        "GREETING=hi there",
        "--cwd",
        "/tmp",
        "--",
    ])
    .args(["sh", "-c", "echo \"$GREETING\"; pwd"]);
    let out = run(c, b"");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout_text(), "hi there\n/tmp\n");
}

/// The input: 1 GiB of a pattern that differs block by block, so a lost,
/// duplicated or reordered block changes the checksum.
fn block(i: u64, buf: &mut [u8]) {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// A position-dependent checksum over 8-byte words (cheap even unoptimized).
#[derive(Default, PartialEq, Eq, Debug, Clone, Copy)]
struct Sum {
    a: u64,
    b: u64,
    bytes: u64,
}

impl Sum {
    fn add(&mut self, data: &[u8]) {
        assert_eq!(data.len() % 8, 0, "the test reads whole words");
        for w in data.chunks_exact(8) {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            self.a = self.a.wrapping_add(v);
            self.b = self.b.wrapping_add(self.a);
        }
        self.bytes += data.len() as u64;
    }
}

#[test]
fn exec_pipes_a_gibibyte_through_cat_intact() {
    const BLOCK: usize = 1 << 20;
    const BLOCKS: u64 = 1024;
    let (_server, addr) = serve();
    let mut child = libchan()
        .args(["exec", &addr, "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start exec");
    // Generous: a gibibyte through two processes on a loaded machine.
    let _watchdog = support::Watchdog::new(child.id(), support::PATIENCE * 5);
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let writer = thread::spawn(move || {
        let mut sum = Sum::default();
        let mut buf = vec![0u8; BLOCK];
        for i in 0..BLOCKS {
            block(i, &mut buf);
            sum.add(&buf);
            stdin.write_all(&buf).expect("write to exec");
        }
        sum
    });
    let reader = thread::spawn(move || {
        let mut sum = Sum::default();
        let mut buf = vec![0u8; BLOCK];
        let mut filled = 0;
        loop {
            let n = stdout.read(&mut buf[filled..]).expect("read from exec");
            if n == 0 {
                break;
            }
            filled += n;
            let whole = filled / 8 * 8;
            sum.add(&buf[..whole]);
            buf.copy_within(whole..filled, 0);
            filled -= whole;
        }
        assert_eq!(filled, 0, "a partial word at the end");
        sum
    });
    let sent = writer.join().expect("writer");
    let got = reader.join().expect("reader");
    let status = support::wait_bounded(&mut child, "exec cat");
    assert!(status.success(), "{status:?}");
    assert_eq!(got.bytes, BLOCK as u64 * BLOCKS);
    assert_eq!(got, sent, "the checksum of what came back");
}

/// Starts `exec` on a command that prints its own pid first; returns the
/// client and the remote pid.
fn exec_reporting_pid(addr: &str, script: &str) -> (std::process::Child, u32, support::Watchdog) {
    let mut child = libchan()
        .args(["exec", addr, "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start exec");
    let watchdog = support::Watchdog::new(child.id(), support::PATIENCE);
    let mut out = child.stdout.take().expect("piped");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).expect("read the pid") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let pid = String::from_utf8(line)
        .expect("utf-8")
        .trim()
        .parse()
        .expect("the remote command's pid");
    // Keep stdout drained in the background.
    thread::spawn(move || {
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    (child, pid, watchdog)
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn ctrl_c_is_forwarded_to_the_remote_command() {
    let (_server, addr) = serve();
    let (mut client, pid, _watchdog) = exec_reporting_pid(&addr, "echo $$; exec sleep 300");
    assert!(process_exists(pid));
    signal(client.id(), "INT");
    let status = support::wait_bounded(&mut client, "exec");
    assert_eq!(
        status.code(),
        Some(130),
        "128 + SIGINT, from the remote side"
    );
    assert!(
        eventually(|| !process_exists(pid)),
        "the remote sleep is gone"
    );
}

#[test]
fn a_client_that_dies_takes_its_remote_command_with_it() {
    let (_server, addr) = serve();
    // A background grandchild too: the whole process group goes.
    let (mut client, pid, _watchdog) = exec_reporting_pid(&addr, "sleep 301 & echo $!; wait");
    assert!(process_exists(pid));
    signal(client.id(), "KILL");
    let _ = support::wait_bounded(&mut client, "exec");
    assert!(
        eventually(|| !process_exists(pid)),
        "the remote command outlived its client"
    );
}

#[test]
fn cat_round_trips_json_lines_both_ways() {
    let mut listen = libchan();
    listen
        .args(["cat", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut a = Running::start("cat --listen", listen);
    let addr = a.listening_addr();
    let mut a_in = a.child.stdin.take().expect("piped");
    let mut a_out = a.child.stdout.take().expect("piped");
    let a_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = a_out.read_to_string(&mut s);
        s
    });
    a_in.write_all(b"{\"from\":\"a\",\"n\":1}\n[1,2,3]\n")
        .expect("write to a");
    drop(a_in);

    let mut c = libchan();
    c.args(["cat", &addr]);
    let b = run(c, b"{\"from\":\"b\"}\n\"text\"\nnot json\n42\n");
    let a_status = a.wait();
    let a_got = a_reader.join().expect("reader");

    assert_eq!(a_got, "{\"from\":\"b\"}\n\"text\"\n42\n");
    assert_eq!(b.stdout_text(), "{\"from\":\"a\",\"n\":1}\n[1,2,3]\n");
    assert!(b.stderr.contains("line 3 is not JSON"), "{}", b.stderr);
    assert_eq!(b.code(), 1, "a skipped line makes the exit code 1");
    assert!(a_status.success(), "{a_status:?}");
}

#[test]
fn cat_requests_call_the_reference_services() {
    let (_server, addr) = serve();
    let mut c = libchan();
    c.args(["cat", "--request", &addr]);
    let input = concat!(
        "{\"service\":\"echo\",\"body\":{\"a\":[1,2]}}\n",
        "{\"service\":\"count\",\"n\":3}\n",
        "{\"service\":\"no_such_service\"}\n",
        "{\"service\":\"count\"}\n",
    );
    let out = run(c, input.as_bytes());
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let lines: Vec<String> = out.stdout_text().lines().map(String::from).collect();
    assert_eq!(lines[0], "{\"a\":[1,2]}");
    assert_eq!(lines[1..4], ["1", "2", "3"]);
    assert!(lines[4].contains("unknown service"), "{}", lines[4]);
    assert!(lines[5].contains("needs `n`"), "{}", lines[5]);
    assert_eq!(lines.len(), 6);
}

#[test]
fn bench_quick_prints_both_tables_with_ratios() {
    let mut c = libchan();
    c.args(["bench", "--quick", "--sizes", "16"]);
    let out = run(c, b"");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let text = out.stdout_text();
    assert!(text.contains("one-way throughput"), "{text}");
    assert!(text.contains("round trip"), "{text}");
    for t in ["inmem", "tcp", "unix", "tls", "ws", "h2"] {
        assert!(
            text.lines().filter(|l| l.starts_with(t)).count() == 2,
            "a throughput and a latency row for {t}:\n{text}"
        );
    }
}

#[test]
fn serve_refuses_exec_when_told_to() {
    let mut cmd = libchan();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--no-exec"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let server = Running::start("serve --no-exec", cmd);
    let addr = server.listening_addr();
    let out = exec(&addr, &["true"], b"");
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("exec is disabled"), "{}", out.stderr);
}

/// A directory of our own under the system's temporary directory.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("libchan-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

#[test]
fn exec_works_over_unix_tls_websocket_and_http2() {
    let certs = libchan_cli::transport::GeneratedTls::new().expect("a certificate");
    let dir = scratch_dir("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certs.server.cert.expect("cert")).expect("write cert");
    std::fs::write(&key, certs.server.key.expect("key")).expect("write key");
    let cert = cert.to_str().expect("utf-8 path").to_string();
    let key = key.to_str().expect("utf-8 path").to_string();

    let socket = dir.join("serve.sock");
    let socket = socket.to_str().expect("utf-8 path").to_string();
    for (transport, server_tls, client_tls) in [
        ("unix", false, false),
        ("tls", true, true),
        ("ws", false, false),
        ("ws", true, true),
        ("h2", false, false),
        ("h2", true, true),
    ] {
        let listen = if transport == "unix" {
            socket.as_str()
        } else {
            "127.0.0.1:0"
        };
        let mut cmd = libchan();
        cmd.args(["serve", "--listen", listen, "--transport", transport]);
        if server_tls {
            cmd.args(["--cert", &cert, "--key", &key]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let server = Running::start(&format!("serve over {transport}"), cmd);
        let addr = server.listening_addr();
        let mut c = libchan();
        c.args(["exec", &addr, "--transport", transport]);
        if client_tls {
            c.args(["--ca", &cert, "--server-name", "localhost"]);
        }
        c.args(["--", "sh", "-c", "cat; exit 5"]);
        let out = run(c, b"over the wire\n");
        assert_eq!(
            out.code(),
            5,
            "{transport} (tls: {client_tls}): {}",
            out.stderr
        );
        assert_eq!(out.stdout_text(), "over the wire\n");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exec_stops_quietly_when_its_output_is_closed() {
    let (_server, addr) = serve();
    // `| head -c 5`: the local reader goes away; the remote producer is
    // stopped by the closed output instead of running forever.
    let mut child = libchan()
        .args(["exec", &addr, "--", "yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start exec");
    let _watchdog = support::Watchdog::new(child.id(), support::PATIENCE);
    let mut out = child.stdout.take().expect("piped");
    let mut first = [0u8; 4];
    out.read_exact(&mut first).expect("some output");
    drop(out);
    let status = support::wait_bounded(&mut child, "exec");
    let mut err = String::new();
    let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
    assert!(!err.contains("error"), "{err}");
    assert_ne!(
        status.code(),
        Some(0),
        "the producer died of its closed output"
    );
}
