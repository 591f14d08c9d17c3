//! What one peer can make us hold: hostile peers on real loopback sockets,
//! in both directions. Each test prints the process's peak RSS growth
//! (figures for docs/RELIABILITY.md); the assertions are on counts and on
//! the session's own accounting, not on timing or RSS.
//!
//! The tests share one process and its RSS, so they run one at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use libchan_codec_json::Json;
use libchan_core::{Session, SessionError, SessionExt};
use libchan_mux::frame::{Data, Open, MAGIC};
use libchan_mux::{Connection as Proto, Limits, Role, StreamId, StreamKind};
use libchan_transport_tcp::{connect, Config, Listener};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PATIENCE: Duration = Duration::from_secs(60);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// Resident set size of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Samples RSS until dropped; reports the peak.
struct Peak {
    peak: std::sync::Arc<Mutex<f64>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    base: f64,
}

impl Peak {
    fn start() -> Self {
        let peak = std::sync::Arc::new(Mutex::new(rss_mib()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let base = rss_mib();
        std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let now = rss_mib();
                let mut v = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *v = v.max(now);
                drop(v);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Peak { peak, stop, base }
    }

    fn growth(&self) -> f64 {
        *self
            .peak
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            - self.base
    }
}

impl Drop for Peak {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Sends until `progress` stops moving for a while; returns how many
/// completed. (The pause only decides when to stop looking; the caller
/// asserts on the count, which a slow machine can only make smaller.)
async fn sends_until_stalled(tx: &libchan_core::Sender<String>, msg: &str, max: usize) -> usize {
    let mut done = 0;
    while done < max {
        match tokio::time::timeout(Duration::from_millis(500), tx.send(msg.to_owned())).await {
            Ok(Ok(())) => done += 1,
            Ok(Err(e)) => panic!("send failed instead of waiting: {e:?}"),
            Err(_) => break,
        }
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_announcing_a_huge_window_that_never_reads_cannot_fill_our_memory() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    // The peer: a valid HELLO granting 2^62 per stream and for the session,
    // then it never reads a byte.
    let peer = tokio::spawn(async move {
        let (mut sock, _) = raw.accept().await.expect("accept");
        let mut limits = Limits::new(["json"]);
        limits.initial_window = 1 << 62;
        limits.session_window = 1 << 62;
        let mut proto = Proto::new(Role::Acceptor, limits, Instant::now()).expect("config");
        let preface = proto.poll_transmit().expect("preface");
        sock.write_all(&preface).await.expect("preface");
        tokio::time::sleep(PATIENCE).await;
        drop(sock);
    });
    let session = connect(addr, Config::new(Json)).await.expect("connect");
    within("the handshake", session.handshake())
        .await
        .expect("handshake");
    let tx = session.open::<String>().expect("open");
    let mib = "x".repeat(1 << 20);
    let peak = Peak::start();
    let sent = within("sends to stall", sends_until_stalled(&tx, &mib, 512)).await;
    let growth = peak.growth();
    eprintln!(
        "outbound, peer never reads, window 2^62: {sent} of 512 sends of 1 MiB completed; \
         peak RSS growth {growth:.1} MiB; buffered_out {} bytes",
        session.stats().buffered_out
    );
    // The channel's 32 queued messages, one parked, the send buffer (1 MiB
    // plus one message), the writer's buffer and the kernel's socket
    // buffers: far below the 512 that the announced window would allow.
    assert!(
        sent < 96,
        "{sent} sends of 1 MiB completed into a peer that never reads"
    );
    assert!(session.stats().buffered_out <= 2 << 20);
    peer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_ignoring_the_session_window_is_cut_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The attacker: a valid handshake, then 512 channels that each stay
    // within their own window (one 1 MiB frame each), 512 MiB in all,
    // and it never reads.
    let attacker = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        let mut proto =
            Proto::new(Role::Dialer, Limits::new(["json"]), Instant::now()).expect("config");
        let preface = proto.poll_transmit().expect("preface");
        assert!(preface.starts_with(&MAGIC));
        sock.write_all(&preface).await.expect("preface");
        let payload = bytes::Bytes::from(format!("\"{}\"", "y".repeat((1 << 20) - 2)));
        let mut sent = 0usize;
        for i in 0..512u64 {
            let mut frames = BytesMut::new();
            let stream = StreamId(2 * i + 1);
            Open {
                stream,
                kind: StreamKind::OpenerSends,
                top_level: true,
            }
            .encode(&mut frames);
            Data {
                stream,
                payload: payload.clone(),
            }
            .encode(&mut frames);
            if sock.write_all(&frames).await.is_err() {
                return sent;
            }
            sent += payload.len();
        }
        sent
    });
    let (session, _) = within("accept", listener.accept()).await.expect("accept");
    let peak = Peak::start();
    let err = within("the session to refuse the flood", async {
        loop {
            if let Err(e) = session.handshake().await {
                break e;
            }
            assert!(
                session.stats().buffered_in <= (16 << 20) + (4 << 20),
                "never more than the session window plus one frame is buffered"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let growth = peak.growth();
    let sent = within("the attacker", attacker).await.expect("attacker");
    eprintln!(
        "inbound, 512 unread channels x 1 MiB ignoring the session window: cut off after \
         {} MiB written; peak RSS growth {growth:.1} MiB",
        sent >> 20
    );
    assert!(
        matches!(err, SessionError::Protocol { code: 3, .. }),
        "overrunning the session window is a flow-control error, got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_sender_stalls_at_the_session_window_and_loses_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const CHANNELS: usize = 512;
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(connect(addr, Config::new(Json)), listener.accept());
    let client = client.expect("connect");
    let (server, _) = server.expect("accept");
    let chunk = "z".repeat(64 << 10);
    let peak = Peak::start();
    // 512 channels × 64 KiB = 32 MiB, twice the session window; nobody
    // accepts them yet.
    let sender = {
        let chunk = chunk.clone();
        let client = client.clone();
        tokio::spawn(async move {
            for _ in 0..CHANNELS {
                let tx = client.open::<String>().expect("open");
                tx.send(chunk.clone()).await.expect("send");
            }
        })
    };
    within("the sender to stall on the session window", async {
        let mut last = u64::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = server.stats().buffered_in;
            if now == last {
                return;
            }
            last = now;
        }
    })
    .await;
    let held = server.stats().buffered_in;
    eprintln!(
        "inbound, 512 unaccepted channels x 64 KiB from an honest peer: {} KiB held \
         (session window 16 MiB); peak RSS growth {:.1} MiB",
        held >> 10,
        peak.growth()
    );
    assert!(held <= (16 << 20) + (4 << 20), "held {held} bytes");
    // Accepting them all drains everything; nothing is lost or stuck.
    for i in 0..CHANNELS {
        let mut rx = within("accept", server.accept::<String>())
            .await
            .expect("accept")
            .unwrap_or_else(|| panic!("channel {i}"));
        let got = within("recv", rx.recv()).await.expect("recv");
        assert_eq!(got.as_deref(), Some(chunk.as_str()), "channel {i}");
    }
    within("the sender", sender).await.expect("sender");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_keeps_at_most_its_session_cap() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind")
        .with_max_sessions(2);
    let addr = listener.local_addr().expect("addr");
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let (c, s) = tokio::join!(connect(addr, Config::new(Json)), listener.accept());
        clients.push(c.expect("connect"));
        servers.push(s.expect("accept").0);
    }
    assert_eq!(listener.available_sessions(), 0);
    let third = connect(addr, Config::new(Json))
        .await
        .expect("the kernel queues it");
    let mut accepting = Box::pin(listener.accept());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut accepting)
            .await
            .is_err(),
        "no third session while two run"
    );
    // One session ends: its slot frees and the third is accepted.
    let first = servers.remove(0);
    within("close", first.close()).await.expect("close");
    let (accepted, _) = within("the third accept", accepting).await.expect("accept");
    let tx = third.open::<u32>().expect("open");
    tx.send(7).await.expect("send");
    let mut rx = within("accept a channel", accepted.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(7));
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_holds_the_sender_to_its_channel_bound() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(connect(addr, Config::new(Json)), listener.accept());
    let client = client.expect("connect");
    let (server, _) = server.expect("accept");
    within("the handshake", client.handshake())
        .await
        .expect("handshake");
    let tx = client.open::<String>().expect("open");
    // Accepted, then never read.
    let rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    let four_mib = "w".repeat((4 << 20) - 16);
    let peak = Peak::start();
    let sent = within("sends to stall", sends_until_stalled(&tx, &four_mib, 256)).await;
    eprintln!(
        "stalled receiver, ~4 MiB messages: {sent} sends completed; peak RSS growth {:.1} MiB \
         (both ends in this process)",
        peak.growth()
    );
    // The channel's capacity (32), one parked, and what the receiver's
    // window let through (one message in overdraft).
    assert!(
        sent <= 32 + 3,
        "{sent} sends completed into a stalled receiver"
    );
    drop(rx);
}
