//! libchan over HTTP/2 on loopback beside raw h2, measured in the same run.
//!
//! * One-way throughput, 16 B and 64 KiB messages. Baseline: one raw h2
//!   stream (a `POST` whose body carries length-prefixed frames, batched
//!   into 64 KiB DATA writes, with the same 1 MiB windows). libchan: msgpack
//!   `Bytes` on one channel of an h2c session.
//! * Request/response round trip, 16 B: libchan's `call` (a fresh reply
//!   channel per request) vs a raw h2 request/response (a fresh stream per
//!   request, the HTTP/2 way), p50 and p99.
//! * What a proxy adds: the same libchan measurements through HAProxy (TLS
//!   at the proxy, h2c behind it) vs directly over h2 with TLS. Skipped,
//!   with a note, when haproxy is not installed.
//!
//! Multi-thread runtime (2 workers).

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use libchan::codec::Msgpack;
use libchan::http2::{Config, Connector, H2Session, Listener, Server};
use libchan::{Request, SessionExt};
use support::{iters, print, Row};
use tokio::net::{TcpListener, TcpStream};

const WINDOW: u32 = 1 << 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Sends `data` on `stream`, waiting for HTTP/2 capacity as needed.
async fn send_all(stream: &mut h2::SendStream<Bytes>, mut data: Bytes, end: bool) {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let cap = std::future::poll_fn(|cx| stream.poll_capacity(cx))
            .await
            .expect("capacity")
            .expect("capacity");
        let chunk = data.split_to(cap.min(data.len()));
        stream.send_data(chunk, false).expect("send");
    }
    if end {
        stream.send_data(Bytes::new(), true).expect("end");
    }
}

async fn raw_server(listener: TcpListener, n: u64, size: usize) {
    let (sock, _) = listener.accept().await.expect("accept");
    sock.set_nodelay(true).expect("nodelay");
    let mut conn = h2::server::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(4 * WINDOW)
        .handshake::<_, Bytes>(sock)
        .await
        .expect("handshake");
    let (req, mut respond) = conn.accept().await.expect("request").expect("ok");
    tokio::spawn(async move { while conn.accept().await.is_some() {} });
    let _stream = respond
        .send_response(http::Response::new(()), false)
        .expect("respond");
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    let mut got = 0u64;
    while got < n {
        let chunk = body.data().await.expect("data").expect("ok");
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
        while buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            buf.advance(4);
            let frame = buf.split_to(len);
            assert_eq!(frame.len(), size);
            got += 1;
        }
    }
}

async fn raw_client(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let sock = TcpStream::connect(addr).await.expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(4 * WINDOW)
        .handshake::<_, Bytes>(sock)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send.ready().await.expect("ready")
}

async fn raw_one_way(n: u64, size: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(raw_server(listener, n, size));
    let mut send = raw_client(addr).await;
    let request = http::Request::post(format!("http://{addr}/raw"))
        .body(())
        .expect("request");
    let (_response, mut stream) = send.send_request(request, false).expect("send");
    let payload = vec![b'a'; size];
    let start = Instant::now();
    let mut batch = BytesMut::with_capacity(64 << 10);
    for _ in 0..n {
        batch.put_u32(size as u32);
        batch.extend_from_slice(&payload);
        if batch.len() >= 64 << 10 {
            send_all(&mut stream, batch.split().freeze(), false).await;
        }
    }
    send_all(&mut stream, batch.split().freeze(), true).await;
    server.await.expect("server");
    start.elapsed()
}

/// A raw h2 request/response server: each request's body is echoed as its
/// response.
async fn raw_echo_server(listener: TcpListener) {
    let (sock, _) = listener.accept().await.expect("accept");
    sock.set_nodelay(true).expect("nodelay");
    let mut conn = h2::server::handshake(sock).await.expect("handshake");
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        tokio::spawn(async move {
            let mut body = req.into_body();
            let mut data = BytesMut::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let mut stream = respond
                .send_response(http::Response::new(()), false)
                .expect("respond");
            let _ = stream.send_data(data.freeze(), true);
        });
    }
}

async fn raw_round_trips(n: u64) -> Vec<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(raw_echo_server(listener));
    let mut send = raw_client(addr).await;
    let payload = Bytes::from(vec![b'a'; 16]);
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        send = send.ready().await.expect("ready");
        let request = http::Request::post(format!("http://{addr}/echo"))
            .body(())
            .expect("request");
        let (response, mut stream) = send.send_request(request, false).expect("send");
        stream.send_data(payload.clone(), true).expect("body");
        let mut body = response.await.expect("response").into_body();
        let mut got = 0;
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
            got += chunk.len();
        }
        assert_eq!(got, 16);
        samples.push(start.elapsed());
    }
    samples
}

/// Where a libchan pair connects: directly (h2c or TLS) or through HAProxy.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    H2c,
    Tls,
    Haproxy,
}

struct Tls {
    server: Arc<rustls::ServerConfig>,
    connector: Connector,
    cert_pem: String,
    key_pem: String,
}

fn tls() -> Tls {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate");
    let cert = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    Tls {
        server: Arc::new(server),
        connector: Connector::with_root_certificates(roots),
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
    }
}

fn haproxy_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// HAProxy in front of `backend` (TLS with ALPN h2 at the proxy, h2c
/// behind it), as the proxy tests configure it.
async fn start_haproxy(backend: SocketAddr, tls: &Tls) -> (tokio::process::Child, SocketAddr) {
    let dir = std::env::temp_dir().join(format!("libchan-bench-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pem = dir.join("proxy.pem");
    std::fs::write(&pem, format!("{}{}", tls.cert_pem, tls.key_pem)).expect("pem");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = format!(
        "global\n    tune.h2.initial-window-size 1048576\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 50s\n    timeout server 50s\nfrontend f\n    bind 127.0.0.1:{port} ssl crt {} alpn h2\n    default_backend b\nbackend b\n    server s {backend} proto h2\n",
        pem.display()
    );
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, config).expect("cfg");
    let child = tokio::process::Command::new(haproxy_binary().expect("haproxy"))
        .args(["-db", "-q", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start haproxy");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (child, addr)
}

async fn libchan_pair(
    path: Path,
    tls: &Tls,
) -> (H2Session, H2Session, Option<tokio::process::Child>) {
    let config = Config::with_codecs(vec![Arc::new(Msgpack)]);
    let mut server = Server::new(config.clone());
    if path == Path::Tls {
        server = server.with_tls(tls.server.clone());
    }
    let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (url, child) = match path {
        Path::H2c => (format!("http://{addr}/libchan"), None),
        Path::Tls => (format!("https://localhost:{}/libchan", addr.port()), None),
        Path::Haproxy => {
            let (child, proxy) = start_haproxy(addr, tls).await;
            (
                format!("https://localhost:{}/libchan", proxy.port()),
                Some(child),
            )
        }
    };
    let connector = if path == Path::H2c {
        Connector::new()
    } else {
        tls.connector.clone()
    };
    let (client, accepted) = tokio::join!(connector.connect(&url, config), listener.accept());
    (client.expect("connect"), accepted.expect("accept").0, child)
}

async fn libchan_one_way(path: Path, tls: &Tls, n: u64, size: usize) -> Duration {
    let (client, server, _proxy) = libchan_pair(path, tls).await;
    let reader = tokio::spawn(async move {
        let mut rx = server
            .accept::<Bytes>()
            .await
            .expect("accept")
            .expect("channel");
        let mut got = 0u64;
        while let Some(b) = rx.recv().await.expect("recv") {
            assert_eq!(b.len(), size);
            got += 1;
        }
        assert_eq!(got, n);
        server
    });
    let payload = Bytes::from(vec![b'a'; size]);
    let start = Instant::now();
    let tx = client.open::<Bytes>().expect("open");
    for _ in 0..n {
        tx.send(payload.clone()).await.expect("send");
    }
    drop(tx);
    let _server = reader.await.expect("reader");
    start.elapsed()
}

async fn libchan_round_trips(path: Path, tls: &Tls, n: u64) -> Vec<Duration> {
    let (client, server, _proxy) = libchan_pair(path, tls).await;
    tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<Bytes, Bytes>>()
            .await
            .expect("accept")
            .expect("channel");
        while let Ok(Some(req)) = requests.recv().await {
            let body = req.body.clone();
            let _ = req.respond(body).await;
        }
        drop(server);
    });
    let service = client.open::<Request<Bytes, Bytes>>().expect("open");
    let payload = Bytes::from(vec![b'a'; 16]);
    // Warm up: the handshake and the first stream.
    service.call(payload.clone()).await.expect("call");
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        service.call(payload.clone()).await.expect("call");
        samples.push(start.elapsed());
    }
    samples
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn throughput_row(
    what: String,
    n: u64,
    size: usize,
    lib: Duration,
    base: Duration,
    target: &'static str,
) -> Row {
    let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
    let (unit, scale) = if size >= 1024 {
        ("MB/s", size as f64 / 1e6)
    } else {
        ("k/s", 1e-3)
    };
    Row {
        what,
        libchan: per_sec(lib) * scale,
        baseline: per_sec(base) * scale,
        unit,
        higher_is_better: true,
        target,
    }
}

fn main() {
    let rt = runtime();
    let tls = tls();
    let sizes = [("16 B", 16usize, 200_000u64), ("64 KiB", 64 * 1024, 4_000)];

    let mut rows = Vec::new();
    for (name, size, full) in sizes {
        if !support::selected(&format!("http2 one-way {name}")) {
            continue;
        }
        let n = iters(full);
        let [raw, lib] =
            support::interleaved([&mut || rt.block_on(raw_one_way(n, size)), &mut || {
                rt.block_on(libchan_one_way(Path::H2c, &tls, n, size))
            }]);
        let target = if size >= 1024 {
            ">= 0.80x (as tcp)"
        } else {
            ">= 0.25x (as tcp)"
        };
        rows.push(throughput_row(
            format!("one-way, {name}, msgpack Bytes"),
            n,
            size,
            lib,
            raw,
            target,
        ));
    }
    if support::selected("http2 round trip") {
        let n = iters(20_000);
        let mut raw = rt.block_on(raw_round_trips(n));
        let mut lib = rt.block_on(libchan_round_trips(Path::H2c, &tls, n));
        for (p, name, target) in [(0.5, "p50", "p50 <= 1.5x raw"), (0.99, "p99", "")] {
            rows.push(Row {
                what: format!("round trip 16 B, fresh reply channel, {name}"),
                libchan: percentile(&mut lib, p).as_secs_f64() * 1e6,
                baseline: percentile(&mut raw, p).as_secs_f64() * 1e6,
                unit: "us",
                higher_is_better: false,
                target,
            });
        }
    }
    if !rows.is_empty() {
        print(
            "libchan over h2c loopback vs raw h2 (one stream of length-prefixed frames; a stream per request) (multi-thread runtime)",
            "raw h2",
            &rows,
        );
    }

    if haproxy_binary().is_none() {
        println!("\n(haproxy is not installed: the proxy's cost was not measured)");
        return;
    }
    let mut rows = Vec::new();
    for (name, size, full) in sizes {
        if !support::selected(&format!("http2 proxy one-way {name}")) {
            continue;
        }
        let n = iters(full);
        let [direct, proxied] = support::interleaved([
            &mut || rt.block_on(libchan_one_way(Path::Tls, &tls, n, size)),
            &mut || rt.block_on(libchan_one_way(Path::Haproxy, &tls, n, size)),
        ]);
        rows.push(throughput_row(
            format!("one-way, {name}, through haproxy"),
            n,
            size,
            proxied,
            direct,
            "",
        ));
    }
    if support::selected("http2 proxy round trip") {
        let n = iters(10_000);
        let mut direct = rt.block_on(libchan_round_trips(Path::Tls, &tls, n));
        let mut proxied = rt.block_on(libchan_round_trips(Path::Haproxy, &tls, n));
        for (p, name) in [(0.5, "p50"), (0.99, "p99")] {
            rows.push(Row {
                what: format!("round trip 16 B through haproxy, {name}"),
                libchan: percentile(&mut proxied, p).as_secs_f64() * 1e6,
                baseline: percentile(&mut direct, p).as_secs_f64() * 1e6,
                unit: "us",
                higher_is_better: false,
                target: "",
            });
        }
    }
    if !rows.is_empty() {
        print(
            "libchan through HAProxy (TLS at the proxy, h2c behind) vs libchan over h2 with TLS directly (multi-thread runtime)",
            "direct",
            &rows,
        );
    }
}
