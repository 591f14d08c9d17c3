//! File descriptors across a unix session: passed as themselves, proxied
//! where they cannot pass, and never leaked — every test counts this
//! process's open descriptors before and after.

use std::fs::File;
use std::io::{ErrorKind, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use libchan_codec_json::Json;
use libchan_core::{ByteStream, ChannelError, SessionError, SessionExt};
use libchan_mux::{Connection as Proto, Limits, Role};
use libchan_transport_unix::{
    from_std, from_std_with_fds_per_read, pair, Config, UnixError, UnixSession,
};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// The tests count the process's descriptors: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A file only one test opens: its open descriptors can be counted
/// exactly, whatever else the process has open.
struct Marker {
    path: std::path::PathBuf,
}

impl Marker {
    fn new(test: &str) -> Marker {
        let path = std::env::temp_dir().join(format!("libchan-fd-{test}-{}", std::process::id()));
        std::fs::write(&path, b"marker").expect("create the marker file");
        Marker { path }
    }

    fn open(&self) -> File {
        File::open(&self.path).expect("open the marker")
    }

    /// How many descriptors of this process refer to the marker.
    fn open_count(&self) -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |dir| {
            dir.filter_map(Result::ok)
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == self.path))
                .count()
        })
    }

    /// Waits until at most `n` descriptors refer to the marker.
    async fn settle_to(&self, n: usize) {
        let settled = tokio::time::timeout(PATIENCE, async {
            while self.open_count() > n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(
            settled.is_ok(),
            "{} descriptors of the marker still open, expected at most {n}",
            self.open_count()
        );
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn identity(fd: impl AsFd) -> (u64, u64) {
    let st = rustix::fs::fstat(fd).expect("fstat");
    (st.st_dev as u64, st.st_ino as u64)
}

async fn ready_pair(config: Config) -> (UnixSession, UnixSession) {
    let (a, b) = pair(config).expect("pair");
    within("handshake", a.handshake()).await.expect("handshake");
    within("handshake", b.handshake()).await.expect("handshake");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_crosses_as_itself_and_converts_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (client, server) = ready_pair(Config::new(Json)).await;
    let (local, remote) = StdUnixStream::pair().expect("socketpair");
    let sent_identity = identity(&remote);
    let tx = client.open::<ByteStream>().expect("open");
    tx.send(ByteStream::from_fd(remote)).await.expect("send");
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let stream = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    assert!(
        stream.is_fd(),
        "a descriptor-backed stream arrives as a descriptor"
    );
    let fd = stream.into_fd().expect("the descriptor");
    assert_eq!(identity(&fd), sent_identity, "the very same socket");
    // And it works: what one end writes the other reads, libchan aside.
    let mut far = StdUnixStream::from(fd);
    std::io::Write::write_all(&mut far, b"out of the data path").expect("write");
    drop(far);
    let mut got = String::new();
    std::io::Read::read_to_string(&mut &local, &mut got).expect("read");
    assert_eq!(got, "out of the data path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toward_a_peer_that_takes_no_descriptors_the_stream_is_proxied() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (a, b) = StdUnixStream::pair().expect("socketpair");
    let mut refuses = Config::new(Json);
    refuses.limits.max_pending_fds = 0;
    let client = from_std(a, Role::Dialer, Config::new(Json)).expect("client");
    let server = from_std(b, Role::Acceptor, refuses).expect("server");
    within("handshake", client.handshake())
        .await
        .expect("handshake");
    let (mut local, remote) = StdUnixStream::pair().expect("socketpair");
    let tx = client.open::<ByteStream>().expect("open");
    tx.send(ByteStream::from_fd(remote)).await.expect("send");
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut stream = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    assert!(!stream.is_fd(), "the peer accepts no descriptors: proxied");
    std::io::Write::write_all(&mut local, b"proxied").expect("write");
    local
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut got = String::new();
    within("read", stream.read_to_string(&mut got))
        .await
        .expect("read to a clean end");
    assert_eq!(got, "proxied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_of_messages_dropped_unread_are_closed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let marker = Marker::new("dropped-unread");
    let (client, server) = ready_pair(Config::new(Json)).await;
    let tx = client.open::<Vec<ByteStream>>().expect("open");
    let rx = within("accept", server.accept::<Vec<ByteStream>>())
        .await
        .expect("accept")
        .expect("channel");
    // Nobody reads: 30 descriptors pile up on the receiving side.
    for _ in 0..10 {
        let files = (0..3).map(|_| ByteStream::from_fd(marker.open())).collect();
        tx.send(files).await.expect("send");
    }
    // Frames are ordered: once this arrives, so have they.
    let sync = client.open::<u8>().expect("open");
    sync.send(1).await.expect("send");
    let mut sync_rx = within("accept", server.accept::<u8>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("sync", sync_rx.recv()).await.expect("recv"), Some(1));
    assert_eq!(
        marker.open_count(),
        30,
        "the descriptors arrived (the sender's are closed)"
    );
    // The receiver goes: everything it held is released at once.
    drop(rx);
    within("the sender to see it", tx.closed()).await;
    marker.settle_to(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_beyond_the_pending_limit_are_refused_and_closed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let marker = Marker::new("pending-limit");
    let mut small = Config::new(Json);
    small.limits.max_pending_fds = 4;
    let (a, b) = StdUnixStream::pair().expect("socketpair");
    let client = from_std(a, Role::Dialer, Config::new(Json)).expect("client");
    let server = from_std(b, Role::Acceptor, small).expect("server");
    within("handshake", client.handshake())
        .await
        .expect("handshake");
    within("handshake", server.handshake())
        .await
        .expect("handshake");
    // A channel to tell when everything sent before has arrived.
    let sync = client.open::<u8>().expect("open");
    let mut sync_rx = within("accept", server.accept::<u8>())
        .await
        .expect("accept")
        .expect("channel");
    let tx = client.open::<ByteStream>().expect("open");
    for _ in 0..10 {
        tx.send(ByteStream::from_fd(marker.open()))
            .await
            .expect("send");
    }
    drop(tx);
    // Frames are ordered: once this arrives, all ten have, unaccepted.
    sync.send(1).await.expect("send");
    assert_eq!(within("sync", sync_rx.recv()).await.expect("recv"), Some(1));
    assert_eq!(
        marker.open_count(),
        4,
        "four held; the six refused were closed"
    );
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut received = Vec::new();
    let end = loop {
        match within("recv", rx.recv()).await {
            Ok(Some(stream)) => {
                assert!(stream.is_fd());
                received.push(stream);
            }
            other => break other,
        }
    };
    assert_eq!(
        received.len(),
        4,
        "four fit the limit of unclaimed descriptors"
    );
    assert!(
        matches!(end, Err(ChannelError::Decode(_))),
        "a message naming a refused descriptor does not decode, got {end:?}"
    );
    drop(received);
    marker.settle_to(0).await;
}

/// A raw peer: writes a valid dialer preface on `sock`, then `frames`
/// with `fds` beside them, `per_send` descriptors per sendmsg. The tests
/// that use it make the session fail on what it reads, so the session may
/// close its end before the peer is done: a broken pipe or a reset after
/// the preface is that, not a failure of the peer.
fn raw_peer_sends(sock: &StdUnixStream, frames: &[u8], fds: &[OwnedFd], per_send: usize) {
    match send_raw(sock, frames, fds, per_send) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
        Err(e) => panic!("the raw peer failed: {e}"),
    }
}

fn send_raw(
    sock: &StdUnixStream,
    frames: &[u8],
    fds: &[OwnedFd],
    per_send: usize,
) -> std::io::Result<()> {
    let mut proto =
        Proto::new(Role::Dialer, Limits::new(["json"]), Instant::now()).expect("config");
    let preface = proto.poll_transmit().expect("preface");
    std::io::Write::write_all(&mut &*sock, &preface).expect("preface");
    let mut rest = frames;
    for chunk in fds.chunks(per_send.max(1)) {
        let borrowed: Vec<_> = chunk.iter().map(AsFd::as_fd).collect();
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(borrowed.len()))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&borrowed)));
        let (now, later) = rest.split_at(rest.len().min(15));
        let payload: &[u8] = if now.is_empty() { &[0u8; 0] } else { now };
        assert!(!payload.is_empty(), "each sendmsg carries at least a byte");
        rustix::net::sendmsg(
            sock,
            &[IoSlice::new(payload)],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        rest = later;
    }
    std::io::Write::write_all(&mut &*sock, rest)
}

/// PING frames, 22 bytes each: bytes for descriptors to ride on.
fn pings(n: usize) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for i in 0..n {
        libchan_mux::Frame::from(libchan_mux::frame::Ping {
            ack: false,
            payload: (i as u64).to_be_bytes(),
        })
        .encode(&mut out);
    }
    out.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_descriptors_at_once_than_room_is_a_typed_error_and_all_are_closed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let marker = Marker::new("ctrunc");
    let (ours, theirs) = StdUnixStream::pair().expect("socketpair");
    let session =
        from_std_with_fds_per_read(ours, Role::Acceptor, Config::new(Json), 1).expect("session");
    {
        // Room for one (the buffer's alignment may fit a few more): send 16.
        let file = marker.open();
        let fds: Vec<OwnedFd> = (0..16)
            .map(|_| file.as_fd().try_clone_to_owned().expect("dup"))
            .collect();
        raw_peer_sends(&theirs, &pings(4), &fds, 16);
    }
    let err = within("the session to fail", async {
        loop {
            if let Err(e) = session.handshake().await {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let truncated = match &err {
        SessionError::Io(io) => matches!(
            io.get_ref().and_then(|e| e.downcast_ref::<UnixError>()),
            Some(UnixError::AncillaryTruncated)
        ),
        _ => false,
    };
    assert!(truncated, "MSG_CTRUNC is a typed error, got {err:?}");
    marker.settle_to(0).await;
    drop((theirs, session));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_that_no_open_claims_end_the_session_and_are_closed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let marker = Marker::new("unclaimed");
    let (ours, theirs) = StdUnixStream::pair().expect("socketpair");
    let session = from_std(ours, Role::Acceptor, Config::new(Json)).expect("session");
    // 3 × 253 descriptors riding on PINGs, none claimed by an OPEN: more
    // than the 256 unclaimed plus one read's worth allowed.
    let file = marker.open();
    let fds: Vec<OwnedFd> = (0..3 * 253)
        .map(|_| file.as_fd().try_clone_to_owned().expect("dup"))
        .collect();
    drop(file);
    let writer = std::thread::spawn(move || {
        raw_peer_sends(&theirs, &pings(10), &fds, 253);
        drop(fds);
        theirs
    });
    let err = within("the session to fail", async {
        loop {
            if let Err(e) = session.handshake().await {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        matches!(&err, SessionError::Limit(l) if l.what.contains("max_pending_fds")),
        "descriptors no OPEN claims are a limit error, got {err:?}"
    );
    let theirs = writer.join().expect("writer");
    drop(theirs);
    marker.settle_to(0).await;
    drop(session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_listener_and_an_abstract_name_connect_and_show_the_peer() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = std::env::temp_dir().join(format!("libchan-unix-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("listener.sock");
    let _ = std::fs::remove_file(&path);
    let listener = libchan_transport_unix::Listener::bind(&path, Config::new(Json)).expect("bind");
    let (client, server) = tokio::join!(
        libchan_transport_unix::connect(&path, Config::new(Json)),
        listener.accept()
    );
    let (client, server) = (client.expect("connect"), server.expect("accept"));
    let creds = server.peer_credentials().expect("SO_PEERCRED");
    assert_eq!(creds.pid, Some(std::process::id() as i32));
    let own_uid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("proc"));
    assert_eq!(creds.uid, own_uid);
    let tx = client.open::<u32>().expect("open");
    tx.send(7).await.expect("send");
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(7));
    drop(listener);
    assert!(!path.exists(), "the listener removes its socket file");

    let name = format!("libchan-test-{}", std::process::id());
    let listener =
        libchan_transport_unix::Listener::bind_abstract(&name, Config::new(Json)).expect("bind");
    let (client, server) = tokio::join!(
        libchan_transport_unix::connect_abstract(&name, Config::new(Json)),
        listener.accept()
    );
    let (client, server) = (client.expect("connect"), server.expect("accept"));
    let tx = client.open::<u32>().expect("open");
    tx.send(8).await.expect("send");
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(8));
    let missing = libchan_transport_unix::connect(dir.join("nobody.sock"), Config::new(Json)).await;
    assert!(
        matches!(&missing, Err(UnixError::Connect { address, .. }) if address.contains("nobody.sock")),
        "a missing socket is a connect error naming it, got {missing:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_stream_over_a_passed_pipe_reads_to_its_end() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (client, server) = ready_pair(Config::new(Json)).await;
    let (mut write_end, read_end) = tokio::net::unix::pipe::pipe().expect("pipe");
    let tx = client.open::<ByteStream>().expect("open");
    tx.send(ByteStream::from_fd(
        read_end.into_blocking_fd().expect("fd"),
    ))
    .await
    .expect("send");
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut stream = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        write_end.write_all(&data).await.expect("write");
    });
    let mut got = Vec::new();
    within("read", stream.read_to_end(&mut got))
        .await
        .expect("read");
    writer.await.expect("writer");
    assert_eq!(got, expected);
}
