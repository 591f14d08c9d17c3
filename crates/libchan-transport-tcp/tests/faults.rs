//! Faults on real loopback sockets: a peer that dies mid-frame, a peer
//! process killed, garbage instead of a handshake, an oversize length after
//! a valid handshake. Every affected handle must report a typed error, the
//! session's tasks must end, and nothing may panic. Waits are bounded by
//! timeouts; nothing here asserts on timing.

use std::time::{Duration, Instant};

use libchan_codec_json::Json;
use libchan_conformance::first_send_error;
use libchan_core::{ChannelError, Session, SessionError, SessionExt};
use libchan_mux::{Connection as Proto, Limits, Role, StreamKind};
use libchan_transport_tcp::{connect, Config, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous bound on any wait: it separates "slow" from "never".
const PATIENCE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// Waits until the runtime's live task count drops back to `baseline`.
async fn tasks_settle_to(baseline: usize) {
    within("the session's tasks to end", async {
        loop {
            let alive = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            if alive <= baseline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A libchan listener and a dialer connected to it: `(dialer, acceptor)`.
async fn connected_pair(
    acceptor: Config,
    dialer: Config,
) -> (
    libchan_transport_tcp::TcpSession,
    libchan_transport_tcp::TcpSession,
) {
    let listener = Listener::bind("127.0.0.1:0", acceptor).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(connect(addr, dialer), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

/// A hand-driven acceptor: the sans-IO protocol writing to a raw socket.
fn scripted_acceptor() -> Proto {
    Proto::new(Role::Acceptor, Limits::new(["json"]), Instant::now()).expect("config")
}

async fn read_preface(sock: &mut TcpStream) {
    let mut magic = [0u8; 8];
    sock.read_exact(&mut magic)
        .await
        .expect("the dialer's magic");
    assert_eq!(&magic, b"libchan\0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_dropped_mid_frame_breaks_every_channel() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    let peer = tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        read_preface(&mut sock).await;
        let mut proto = scripted_acceptor();
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"\"first\"").expect("send");
        let whole = proto.poll_transmit().expect("preface, HELLO, OPEN, DATA");
        sock.write_all(&whole).await.expect("write");
        proto
            .send_data(id, b"\"second, never finished\"")
            .expect("send");
        let frame = proto.poll_transmit().expect("a DATA frame");
        // Half a frame, then the connection dies.
        sock.write_all(&frame[..frame.len() / 2])
            .await
            .expect("write half");
        sock.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(sock);
    });

    let session = connect(addr, Config::new(Json)).await.expect("connect");
    let outbound = session.open::<String>().expect("open toward the peer");
    let mut rx = within("accept", session.accept::<String>())
        .await
        .expect("accept")
        .expect("the peer's channel");
    assert_eq!(
        within("first", rx.recv()).await.expect("recv"),
        Some("first".to_string())
    );
    let err = within("the break", rx.recv())
        .await
        .expect_err("a half frame then EOF is not a clean close");
    assert!(
        matches!(
            err,
            ChannelError::SessionLost(SessionError::ConnectionLost(_) | SessionError::Io(_))
        ),
        "expected a lost connection, got {err:?}"
    );
    // Senders learn it too, at the latest once the break reaches their channel.
    let send = first_send_error("a send to fail after the break", &outbound, |_| {
        "x".to_string()
    })
    .await;
    assert!(
        matches!(send, ChannelError::SessionLost(_)),
        "senders on a lost session fail with SessionLost, got {send:?}"
    );
    let accept = within("accept after the break", session.accept::<String>()).await;
    assert!(
        matches!(
            accept,
            Err(SessionError::ConnectionLost(_) | SessionError::Io(_))
        ),
        "accept on a lost session fails, got {accept:?}"
    );
    peer.await.expect("peer task");
    drop((session, outbound, rx));
    tasks_settle_to(baseline).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_handshake_is_a_handshake_error_on_both_ends() {
    // A libchan server receiving an HTTP request.
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = sock.read_to_end(&mut answer).await;
        answer
    });
    let (session, _) = listener.accept().await.expect("accept");
    let err = within("handshake", session.handshake())
        .await
        .expect_err("an HTTP request is not a libchan handshake");
    assert!(
        matches!(
            &err,
            SessionError::Handshake(libchan_core::HandshakeError::BadMagic)
        ),
        "expected a bad-magic handshake error, got {err:?}"
    );
    let answer = within("the server to hang up", client)
        .await
        .expect("client");
    assert!(
        answer.starts_with(b"libchan\0"),
        "the server still introduced itself before hanging up"
    );

    // A libchan client talking to something that answers garbage.
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        let _ = sock.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink).await;
    });
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    // Opening races the banner: it either fails at once or its first send does.
    let opened = session.open::<u32>();
    let err = within("handshake", session.handshake())
        .await
        .expect_err("an SSH banner is not a libchan handshake");
    assert!(matches!(err, SessionError::Handshake(_)), "got {err:?}");
    match opened {
        Err(e) => assert!(matches!(e, SessionError::Handshake(_)), "got {e:?}"),
        Ok(tx) => {
            let send = first_send_error("a send to fail", &tx, |_| 1u32).await;
            assert!(
                matches!(send, ChannelError::SessionLost(SessionError::Handshake(_))),
                "a channel opened before a failed handshake reports it, got {send:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_length_after_a_valid_handshake_ends_the_session() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let peer = tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        read_preface(&mut sock).await;
        let mut proto = scripted_acceptor();
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"1").expect("send");
        let whole = proto.poll_transmit().expect("preface, HELLO, OPEN, DATA");
        sock.write_all(&whole).await.expect("write");
        // A DATA head claiming 4 GiB: must be refused before any allocation.
        let mut head = Vec::new();
        head.extend_from_slice(&u32::MAX.to_be_bytes());
        head.push(0x02);
        head.push(0);
        head.extend_from_slice(&id.0.to_be_bytes());
        sock.write_all(&head).await.expect("write head");
        // The libchan side answers with a GOAWAY and hangs up.
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest).await;
        rest
    });
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    let mut rx = within("accept", session.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    let err = within("the break", rx.recv()).await.expect_err("broken");
    match err {
        ChannelError::SessionLost(SessionError::Protocol { code, .. }) => {
            assert_eq!(code, libchan_mux::ErrorCode::FRAME_SIZE_ERROR.0)
        }
        other => panic!("expected a frame-size protocol error, got {other:?}"),
    }
    let rest = within("the peer", peer).await.expect("peer");
    // The last frame the libchan side wrote is a GOAWAY (type 0x07).
    assert!(
        rest.windows(2).any(|w| w == [0x07, 0x00]),
        "the session said goodbye with a GOAWAY before closing"
    );
    let closed = within("close after the failure", session.close()).await;
    assert!(
        matches!(closed, Err(SessionError::Protocol { code: 4, .. })),
        "close after a failure reports the failure, got {closed:?}"
    );
}

/// Runs as the child process of `killed_peer_process_breaks_its_channels`.
#[tokio::test]
async fn child_peer_process() {
    let Ok(addr) = std::env::var("LIBCHAN_TEST_CHILD_ADDR") else {
        return; // Only meaningful as the child of the test below.
    };
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    let tx = session.open::<String>().expect("open");
    tx.send("alive".into()).await.expect("send");
    // Keep the session and the channel open until killed.
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_peer_process_breaks_its_channels() {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_peer_process", "--nocapture"])
        .env("LIBCHAN_TEST_CHILD_ADDR", addr.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the peer process");
    let (session, _) = within("the child to connect", listener.accept())
        .await
        .expect("accept");
    let mut rx = within("accept", session.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("alive".to_string())
    );
    child.kill().await.expect("SIGKILL the peer");
    let err = within("the break", rx.recv())
        .await
        .expect_err("a killed peer is not a clean close");
    assert!(
        matches!(err, ChannelError::SessionLost(_)),
        "expected a lost session, got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_above_the_assumed_frame_limit_waits_for_the_handshake() {
    let (client, server) = connected_pair(Config::new(Json), Config::new(Json)).await;
    let tx = client.open::<String>().expect("open");
    let big = "a".repeat(4096);
    for _ in 0..3 {
        tx.send(big.clone()).await.expect("send");
    }
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    for _ in 0..3 {
        assert_eq!(
            within("recv", rx.recv()).await.expect("recv"),
            Some(big.clone())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_sender_dropping_with_messages_queued_loses_none() {
    let (client, server) = connected_pair(Config::new(Json), Config::new(Json)).await;
    let n = 10_000;
    let reader = tokio::spawn(async move {
        let mut rx = server
            .accept::<String>()
            .await
            .expect("accept")
            .expect("channel");
        let mut got = 0;
        while let Some(m) = rx.recv().await.expect("recv") {
            assert_eq!(m.len(), 1024);
            got += 1;
        }
        got
    });
    let tx = client.open::<String>().expect("open");
    let msg = "a".repeat(1024);
    within("sending", async {
        for _ in 0..n {
            tx.send(msg.clone()).await.expect("send");
        }
    })
    .await;
    drop(tx);
    assert_eq!(within("the reader", reader).await.expect("reader"), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_peers_size_limit_is_refused_and_the_channel_lives_on() {
    let mut small = Config::new(Json);
    small.limits.max_frame_size = 4096;
    let (client, server) = connected_pair(small, Config::new(Json)).await;
    within("handshake", client.handshake())
        .await
        .expect("handshake");
    let tx = client.open::<String>().expect("open");
    let err = within("the oversize send", tx.send("x".repeat(10_000)))
        .await
        .expect_err("10 kB is over the peer's 4 KiB limit");
    match err.into_error() {
        ChannelError::Limit(limit) => {
            assert_eq!(limit.limit, 4096);
            assert!(
                limit.actual > 10_000,
                "the actual size is reported: {limit}"
            );
        }
        other => panic!("expected a limit error, got {other:?}"),
    }
    tx.send("small".into())
        .await
        .expect("the channel still works after a refused message");
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("small".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_floods_without_reading_is_cut_off_not_buffered_forever() {
    let mut limits = Config::new(Json);
    limits.limits.max_streams = 4;
    let listener = Listener::bind("127.0.0.1:0", limits).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The attacker: a valid handshake, then OPENs beyond the limit (each
    // answered with a RESET), and it never reads a byte.
    let attacker = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        let mut proto =
            Proto::new(Role::Dialer, Limits::new(["json"]), Instant::now()).expect("config");
        let preface = proto.poll_transmit().expect("magic and HELLO");
        sock.write_all(&preface).await.expect("preface");
        let mut batch = Vec::with_capacity(15 * 4096);
        let mut sent = 0usize;
        let mut id = 1u64;
        while sent < 256 << 20 {
            batch.clear();
            for _ in 0..4096 {
                batch.extend_from_slice(&1u32.to_be_bytes()); // length
                batch.push(0x01); // OPEN
                batch.push(0x01); // TOP_LEVEL
                batch.extend_from_slice(&id.to_be_bytes());
                batch.push(0); // kind: the opener sends
                id += 2;
            }
            if sock.write_all(&batch).await.is_err() {
                return sent; // cut off
            }
            sent += batch.len();
        }
        sent
    });
    let (session, _) = within("accept", listener.accept()).await.expect("accept");
    let err = within("the session to give up on the flood", async {
        loop {
            if let Err(e) = session.handshake().await {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        matches!(&err, SessionError::Limit(l) if l.what.contains("reply backlog")),
        "a peer that does not read its replies ends the session with a limit error, got {err:?}"
    );
    let sent = within("the attacker to be cut off", attacker)
        .await
        .expect("attacker");
    assert!(
        sent < 256 << 20,
        "the connection was closed before 256 MiB of flood ({sent} bytes sent)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reference_resets_the_stream_with_unknown_reference() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    // The peer opens a channel and sends a message naming stream 100,
    // which it never opened; it reports the code of the RESET it gets.
    let peer = tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        let mut proto = scripted_acceptor();
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto
            .send_data(id, br#"{"kind":"sender","id":100}"#)
            .expect("send");
        let out = proto.poll_transmit().expect("frames");
        sock.write_all(&out).await.expect("write");
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.read(&mut buf).await.expect("read");
            assert!(n > 0, "the connection closed before a RESET");
            proto
                .handle_input(Instant::now(), &buf[..n])
                .expect("valid input");
            while let Some(event) = proto.poll_event() {
                if let libchan_mux::Event::Reset { id: got, code, .. } = event {
                    assert_eq!(got, id);
                    return code;
                }
            }
        }
    });
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    let mut rx = within("accept", session.accept::<libchan_core::Sender<u32>>())
        .await
        .expect("accept")
        .expect("the peer's channel");
    let got = within("recv", rx.recv()).await;
    assert!(
        matches!(got, Err(ChannelError::Decode(_))),
        "a message naming an unknown stream does not decode, got {got:?}"
    );
    let code = within("the peer", peer).await.expect("peer");
    assert_eq!(code, libchan_mux::ErrorCode::UNKNOWN_REFERENCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_after_a_message_that_fails_to_decode_reaches_the_receiver() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let (attached_tx, attached_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    // The peer sends one good message; once the receiver has it, one write
    // carries a message that is not a `u32` and a good one behind it.
    let peer = tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        let mut proto = scripted_acceptor();
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"1").expect("send");
        let out = proto.poll_transmit().expect("frames");
        sock.write_all(&out).await.expect("write");
        attached_rx
            .await
            .expect("the receiver got the first message");
        proto.send_data(id, b"\"not a number\"").expect("send");
        proto.send_data(id, b"3").expect("send");
        let out = proto.poll_transmit().expect("frames");
        sock.write_all(&out).await.expect("write");
        // Held open until the receiver has seen the failure.
        let _ = done_rx.await;
        drop(sock);
    });
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    let mut rx = within("accept", session.accept::<u32>())
        .await
        .expect("accept")
        .expect("the peer's channel");
    let first = within("the first message", rx.recv()).await;
    assert!(matches!(first, Ok(Some(1))), "got {first:?}");
    attached_tx.send(()).expect("peer waiting");
    let next = within("the failed message", rx.recv()).await;
    assert!(
        matches!(next, Err(ChannelError::Decode(_))),
        "the message after a decode failure must not be delivered ahead of it, got {next:?}"
    );
    let after = within("after the failure", rx.recv()).await;
    assert!(
        matches!(after, Err(ChannelError::Decode(_))),
        "the failure is sticky, got {after:?}"
    );
    done_tx.send(()).expect("peer waiting");
    within("the peer", peer).await.expect("peer");
}
