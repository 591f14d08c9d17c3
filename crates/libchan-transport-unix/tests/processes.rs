//! Real processes: this test binary runs itself as a child that inherits
//! one end of a socketpair (`Handoff`, `from_env`) and does what the
//! parent's messages ask with the descriptors they carry.

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use libchan_codec_json::Json;
use libchan_core::{ByteStream, ChannelError, Sender, Session, SessionExt};
use libchan_mux::Role;
use libchan_transport_unix::{from_env, from_std, Config, Handoff, UnixSession};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(30);
const CHILD: &str = "LIBCHAN_TEST_UNIX_CHILD";
const FD_VAR: &str = "LIBCHAN_TEST_FD";

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// What the parent asks the child to do.
#[derive(Debug, Serialize, Deserialize)]
struct Task {
    /// "read": read `stream` to its end and report it; "talk": write
    /// "ping" into `stream`, then report the answer; "drain": read
    /// `stream` forever.
    kind: String,
    stream: ByteStream,
    reply: Sender<Report>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    /// Whether the stream arrived as a descriptor (not proxied).
    was_fd: bool,
    pid: u32,
    text: String,
}

/// What this process's descriptors refer to, for those that are sockets
/// or pipes (other tests' runtimes add epoll and eventfd descriptors).
fn sockets_and_pipes() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd").map_or_else(
        |_| Default::default(),
        |dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.display().to_string())
                .filter(|t| t.starts_with("socket:") || t.starts_with("pipe:"))
                .collect()
        },
    )
}

/// Runs only as the child of the tests below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let session = from_env(FD_VAR, Role::Acceptor, Config::new(Json)).expect("inherited session");
    let mut tasks = session
        .accept::<Task>()
        .await
        .expect("accept")
        .expect("the parent's channel");
    while let Ok(Some(task)) = tasks.recv().await {
        let was_fd = task.stream.is_fd();
        let mut stream = task.stream;
        let text = match task.kind.as_str() {
            "read" => {
                let mut s = String::new();
                stream.read_to_string(&mut s).await.expect("read");
                s
            }
            "talk" => {
                stream.write_all(b"ping").await.expect("write");
                let mut buf = [0u8; 4];
                stream.read_exact(&mut buf).await.expect("read");
                String::from_utf8_lossy(&buf).into_owned()
            }
            _ => {
                // Read slowly until killed.
                let mut buf = [0u8; 1024];
                loop {
                    if stream.read(&mut buf).await.unwrap_or(0) == 0 {
                        break String::new();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let _ = task
            .reply
            .send(Report {
                was_fd,
                pid: std::process::id(),
                text,
            })
            .await;
    }
    // Say goodbye before the process exits, so nothing in flight is lost.
    let _ = session.close().await;
}

struct Child {
    process: std::process::Child,
    session: UnixSession,
}

fn spawn_child() -> Child {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child_worker", "--nocapture"])
        .env(CHILD, "1");
    let handoff = Handoff::new(&mut cmd, FD_VAR).expect("handoff");
    let process = cmd.spawn().expect("spawn the child");
    let session = from_std(handoff.spawned(), Role::Dialer, Config::new(Json)).expect("session");
    Child { process, session }
}

async fn ask(tasks: &Sender<Task>, kind: &str, stream: ByteStream) -> Report {
    let mut reply = tasks
        .request_with(|reply| Task {
            kind: kind.into(),
            stream,
            reply,
        })
        .await
        .expect("send the task");
    within("the child's report", reply.recv())
        .await
        .expect("recv")
        .expect("a report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_reads_a_file_and_talks_through_a_socket_passed_to_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut child = spawn_child();
    within("handshake", child.session.handshake())
        .await
        .expect("handshake");
    let tasks = child.session.open::<Task>().expect("open");

    // A file's descriptor, read by the other process.
    let path = std::env::temp_dir().join(format!("libchan-child-file-{}", std::process::id()));
    std::fs::write(&path, "the file's contents").expect("write");
    let report = ask(
        &tasks,
        "read",
        ByteStream::from_fd(File::open(&path).expect("open")),
    )
    .await;
    assert!(report.was_fd, "the file travelled as its descriptor");
    assert_ne!(report.pid, std::process::id(), "read in another process");
    assert_eq!(report.text, "the file's contents");
    let _ = std::fs::remove_file(&path);

    // A connected TCP socket: the child talks through it after this
    // process has closed its copy.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let echo = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 4];
        std::io::Read::read_exact(&mut conn, &mut buf).expect("read");
        assert_eq!(&buf, b"ping");
        conn.write_all(b"pong").expect("write");
    });
    let socket = std::net::TcpStream::connect(addr).expect("connect");
    let report = ask(&tasks, "talk", ByteStream::from_fd(socket)).await;
    assert!(report.was_fd, "the socket travelled as its descriptor");
    assert_eq!(report.text, "pong");
    echo.join().expect("echo server");

    drop(tasks);
    within("close", child.session.close()).await.expect("close");
    let status = child.process.wait().expect("the child exits");
    assert!(status.success(), "the child finished cleanly: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_killed_mid_transfer_breaks_the_parents_handles_and_leaks_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let baseline = sockets_and_pipes();
    {
        let mut child = spawn_child();
        within("handshake", child.session.handshake())
            .await
            .expect("handshake");
        let tasks = child.session.open::<Task>().expect("open");
        // A proxied stream the child drains slowly, and this side floods.
        let (mut local, remote) = ByteStream::pair();
        let mut reply = tasks
            .request_with(|reply| Task {
                kind: "drain".into(),
                stream: remote,
                reply,
            })
            .await
            .expect("send");
        let writer = tokio::spawn(async move {
            let chunk = vec![7u8; 64 << 10];
            loop {
                if let Err(e) = local.write_all(&chunk).await {
                    return e;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        child.process.kill().expect("SIGKILL the child");
        let _ = child.process.wait();
        let err = within("the writer to fail", writer)
            .await
            .expect("writer task");
        assert_ne!(
            err.kind(),
            std::io::ErrorKind::Other,
            "a typed failure: {err}"
        );
        let got = within("the reply channel", reply.recv()).await;
        assert!(
            matches!(got, Err(ChannelError::SessionLost(_))),
            "a killed child is a lost session, not a clean end: {got:?}"
        );
        let sent = tasks.send(Task {
            kind: "read".into(),
            stream: ByteStream::pair().0,
            reply: libchan_core::pipe().0,
        });
        assert!(within("a send after the kill", sent).await.is_err());
    }
    let settled = tokio::time::timeout(PATIENCE, async {
        while !sockets_and_pipes().is_subset(&baseline) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "sockets or pipes still open: {:?}",
        sockets_and_pipes()
            .difference(&baseline)
            .collect::<Vec<_>>()
    );
}
