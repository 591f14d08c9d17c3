//! Faults on real loopback sockets: slow and silent handshakes, connections
//! cut with and without TLS's close_notify, a cut in the middle of a TLS
//! record. A clean end is the libchan goodbye; anything else is a lost
//! session. Waits are bounded; nothing asserts on timing.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libchan_codec_json::Json;
use libchan_conformance::fault::Proxy;
use libchan_core::{ChannelError, SessionExt};
use libchan_mux::{Connection as Proto, Event, Limits, Role, StreamKind};
use libchan_transport_tls::{connect, Config, Listener, TlsError, ALPN};
use support::{within, Pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn with_handshake_timeout(timeout: Duration) -> Config {
    let mut config = Config::new(Json);
    config.limits.handshake_timeout = timeout;
    config
}

/// A client that opens a TCP connection, sends the first bytes of a TLS
/// record header and then nothing.
async fn slowloris(addr: SocketAddr) -> TcpStream {
    let mut sock = TcpStream::connect(addr).await.expect("connect");
    sock.write_all(&[0x16, 0x03, 0x01]).await.expect("write");
    sock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_does_not_hold_up_other_clients() {
    let pki = Pki::new(false);
    // Long enough that a listener blocked on the stalled client would
    // outlast the test's patience.
    let config = with_handshake_timeout(Duration::from_secs(120));
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stalled: Vec<TcpStream> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(slowloris(addr).await);
        }
        v
    };
    let (client, server) = within("an honest client behind stalled ones", async {
        tokio::join!(
            connect(addr, "localhost", &pki.client, config.clone()),
            listener.accept()
        )
    })
    .await;
    let client = client.expect("connect");
    let (server, _) = server.expect("accept");
    let tx = client.open::<String>().expect("open");
    tx.send("through".into()).await.expect("send");
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("through".to_string())
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let pki = Pki::new(false);
    let timeout = Duration::from_millis(300);
    let listener = Listener::bind("127.0.0.1:0", pki.server, with_handshake_timeout(timeout))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut sock = slowloris(addr).await;
    let local = sock.local_addr().expect("local addr");
    match within("the timeout", listener.accept()).await {
        Err(TlsError::HandshakeTimeout { remote, timeout: t }) => {
            assert_eq!(remote.addr, Some(local), "the error names the client");
            assert_eq!(t, timeout);
        }
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
    // And the connection is gone: the client reads the end (or a reset).
    let mut buf = [0u8; 64];
    let read = within("the server to hang up", sock.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server closed the connection, read {read:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_the_client_out() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let (sock, _) = raw.accept().await.expect("accept");
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(sock);
    });
    let pki = Pki::new(false);
    let timeout = Duration::from_millis(300);
    let err = within(
        "connect",
        connect(
            addr,
            "localhost",
            &pki.client,
            with_handshake_timeout(timeout),
        ),
    )
    .await
    .expect_err("no TLS answer");
    match &err {
        TlsError::HandshakeTimeout { remote, timeout: t } => {
            assert_eq!(remote.addr, Some(addr));
            assert_eq!(*t, timeout);
        }
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    holder.abort();
}

/// A TLS server that completes the TLS handshake (with libchan's ALPN) and
/// then runs `script` on the stream instead of a libchan session.
async fn tls_peer<F, Fut>(pki: &Pki, script: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: FnOnce(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server.config().clone());
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (sock, _) = raw.accept().await.expect("accept");
        let stream = acceptor.accept(sock).await.expect("TLS handshake");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(ALPN));
        script(stream).await;
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_covers_the_libchan_handshake_after_tls() {
    let pki = Pki::new(false);
    // TLS completes, then the peer never says HELLO.
    let (addr, peer) = tls_peer(&pki, |stream| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await;
    let err = within(
        "connect",
        connect(
            addr,
            "localhost",
            &pki.client,
            with_handshake_timeout(Duration::from_millis(300)),
        ),
    )
    .await
    .expect_err("no libchan HELLO");
    assert!(
        matches!(err, TlsError::HandshakeTimeout { .. }),
        "expected a handshake timeout, got {err:?}"
    );
    peer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_is_a_lost_session_not_a_clean_end() {
    let pki = Pki::new(true);
    let config = Config::new(Json);
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let proxy = Proxy::start(listener.local_addr().expect("addr"))
        .await
        .expect("proxy");
    let (client, server) = within("pair", async {
        tokio::join!(
            connect(proxy.addr(), "localhost", &pki.client, config),
            listener.accept()
        )
    })
    .await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    let tx = client.open::<String>().expect("open");
    tx.send("before".into()).await.expect("send");
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    let back = server.open::<String>().expect("open");
    back.send("hello".into()).await.expect("send");
    let mut back_rx = within("accept", client.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("before".to_string())
    );
    assert_eq!(
        within("recv", back_rx.recv()).await.expect("recv"),
        Some("hello".to_string())
    );
    // Both TCP connections close with no close_notify and no GOAWAY.
    proxy.sever();
    for (side, rx) in [("server", &mut rx), ("client", &mut back_rx)] {
        let got = within("the break", rx.recv()).await;
        match got {
            Err(ref e @ ChannelError::SessionLost(ref cause)) => {
                assert!(e.is_broken(), "{side}: {e:?}");
                // Typically rustls's "peer closed connection without
                // sending TLS close_notify".
                let _ = cause;
            }
            other => panic!("{side}: a cut connection must be a lost session, got {other:?}"),
        }
    }
    let accept = within("accept after the cut", server.accept::<String>()).await;
    assert!(accept.is_err(), "accept on a cut session fails: {accept:?}");
}

/// Forwards server → client, and once `cut` is set, forwards only the
/// first half of the next chunk and then closes both connections: a cut in
/// the middle of a TLS record.
async fn cutting_relay(target: SocketAddr, cut: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (inbound, _) = listener.accept().await.expect("accept");
        let outbound = TcpStream::connect(target).await.expect("connect");
        let (mut in_rd, mut in_wr) = inbound.into_split();
        let (mut out_rd, mut out_wr) = outbound.into_split();
        let upstream = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut in_rd, &mut out_wr).await;
        });
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match out_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if cut.load(Ordering::Acquire) && n > 1 {
                let _ = in_wr.write_all(&buf[..n / 2]).await;
                break;
            }
            if in_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        upstream.abort();
        // Dropping every half closes both sockets.
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_in_the_middle_of_a_tls_record_is_a_lost_session() {
    let pki = Pki::new(false);
    let config = Config::new(Json);
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let cut = Arc::new(AtomicBool::new(false));
    let relay = cutting_relay(listener.local_addr().expect("addr"), cut.clone()).await;
    let (client, server) = within("pair", async {
        tokio::join!(
            connect(relay, "localhost", &pki.client, config),
            listener.accept()
        )
    })
    .await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    let tx = server.open::<String>().expect("open");
    tx.send("whole".into()).await.expect("send");
    let mut rx = within("accept", client.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("whole".to_string())
    );
    cut.store(true, Ordering::Release);
    // A message of several records: the relay passes half of what it reads.
    let _ = tx.send("x".repeat(40_000)).await;
    let got = within("the break", rx.recv()).await;
    assert!(
        matches!(got, Err(ChannelError::SessionLost(_))),
        "half a record then EOF is a lost session, got {got:?}"
    );
}

/// A scripted libchan acceptor: the sans-IO protocol over the TLS stream.
fn scripted_acceptor() -> Proto {
    Proto::new(Role::Acceptor, Limits::new(["json"]), Instant::now()).expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_notify_without_the_libchan_goodbye_is_still_a_lost_session() {
    let pki = Pki::new(false);
    let (addr, peer) = tls_peer(&pki, |mut stream| async move {
        let mut proto = scripted_acceptor();
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"\"first\"").expect("send");
        let bytes = proto.poll_transmit().expect("preface, HELLO, OPEN, DATA");
        stream.write_all(&bytes).await.expect("write");
        stream.flush().await.expect("flush");
        // Read the dialer's HELLO so nothing is left unread, then end TLS
        // properly (close_notify) but not the libchan session.
        let mut buf = vec![0u8; 4096];
        'hello: loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "the dialer hung up first");
            let _ = proto.handle_input(Instant::now(), &buf[..n]);
            while let Some(event) = proto.poll_event() {
                if matches!(event, Event::Ready { .. }) {
                    break 'hello;
                }
            }
        }
        stream.shutdown().await.expect("close_notify");
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let session = within(
        "connect",
        connect(addr, "localhost", &pki.client, Config::new(Json)),
    )
    .await
    .expect("connect");
    let mut rx = within("accept", session.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("first".to_string())
    );
    let got = within("the end", rx.recv()).await;
    assert!(
        matches!(got, Err(ChannelError::SessionLost(_))),
        "a TLS close without the libchan goodbye is not a clean end, got {got:?}"
    );
    within("the peer", peer).await.expect("peer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_is_a_clean_end_over_tls() {
    let pki = Pki::new(true);
    let (client, server, _) = support::tcp_pair(&pki, Config::new(Json)).await;
    let tx = client.open::<u32>().expect("open");
    for i in 0..100 {
        tx.send(i).await.expect("send");
    }
    drop(tx);
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    for i in 0..100 {
        assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(i));
    }
    assert_eq!(
        within("the clean end", rx.recv()).await.expect("clean"),
        None
    );
    libchan_core::Session::close(&client).await.expect("close");
    let next = within("the peer to see the close", server.accept::<u32>()).await;
    assert!(
        matches!(next, Ok(None)),
        "a closed session ends accept cleanly, got {next:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_handshake_limit_connections_wait_their_turn() {
    let pki = Pki::new(false);
    let listener = Listener::bind(
        "127.0.0.1:0",
        pki.server.clone(),
        with_handshake_timeout(Duration::from_millis(300)),
    )
    .await
    .expect("bind")
    .max_concurrent_handshakes(1);
    let addr = listener.local_addr().expect("addr");
    // The silent client takes the only slot; the honest one waits in the
    // backlog (with a patient timeout of its own) until the slot frees.
    let _stalled = slowloris(addr).await;
    let patient = with_handshake_timeout(Duration::from_secs(20));
    let (client, first, second) = within("both connections", async {
        let client = connect(addr, "localhost", &pki.client, patient);
        let accepts = async { (listener.accept().await, listener.accept().await) };
        let (client, (first, second)) = tokio::join!(client, accepts);
        (client, first, second)
    })
    .await;
    assert!(
        matches!(first, Err(TlsError::HandshakeTimeout { .. })),
        "the stalled client comes first and times out, got {first:?}"
    );
    second.expect("then the honest client is accepted");
    client.expect("connect");
}

#[tokio::test]
async fn an_invalid_session_configuration_is_refused_before_dialling() {
    let pki = Pki::new(false);
    let mut bad = Config::new(Json);
    bad.limits.max_frame_size = 10;
    // Port 1: were it dialled, this would be a connection error.
    let err = connect("127.0.0.1:1", "localhost", &pki.client, bad.clone())
        .await
        .expect_err("an invalid configuration");
    assert!(
        matches!(
            &err,
            TlsError::Session {
                source: libchan_core::SessionError::Config(_),
                ..
            }
        ),
        "got {err:?}"
    );
    let bound = Listener::bind("127.0.0.1:0", pki.server.clone(), bad).await;
    let Err(io) = bound else {
        panic!("a listener with an invalid configuration must not bind");
    };
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_refused_connect_names_the_address_and_prints_each_cause_once() {
    let pki = Pki::new(false);
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let err = connect(addr, "localhost", &pki.client, Config::new(Json))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, TlsError::Io { .. }), "got {err:?}");
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    let source = std::error::Error::source(&err).expect("the socket's error");
    assert!(
        !text.contains(&source.to_string()),
        "{text:?} repeats its source {source}"
    );
}
