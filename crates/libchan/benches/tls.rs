//! libchan over TLS on TCP loopback beside a raw TLS socket (tokio-rustls,
//! same rustls configuration), measured in the same run.
//!
//! * one-way throughput, 16 B and 64 KiB messages. Baseline: 4-byte
//!   length-prefixed frames through a 64 KiB `BufWriter` over the raw TLS
//!   stream, flushed at the end, read with a `BufReader`.
//! * handshake rate: sessions per second, one client dialling one after
//!   the other, full handshakes (no resumption) with a P-256 certificate.
//!   libchan's figure is `connect` returning a session (TLS, ALPN check and
//!   the libchan HELLO exchange) with the listener accepting it; the
//!   baseline is a raw tokio-rustls connect and accept.
//!
//! Each on a multi-thread and a current-thread runtime. One-way runs json
//! with `String` messages and msgpack with `Bytes` messages.
//! `cargo xtask bench` runs it; `--quick` (`LIBCHAN_BENCH_QUICK=1`) for a
//! short run.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libchan::codec::{Json, Msgpack};
use libchan::tls::rustls;
use libchan::tls::{connect, ClientTls, Config, Listener, ServerTls, TlsSession};
use libchan::{Codec, Payload, SessionExt};
use support::{iters, print, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut b = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().expect("runtime")
}

/// A CA, a server certificate for `localhost`, and both configurations;
/// the client never resumes, so every handshake is a full one.
struct Pki {
    server: ServerTls,
    client: ClientTls,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("certificate");
    let server = ServerTls::builder()
        .identity_pem(cert.pem(), key.serialize_pem())
        .build()
        .expect("server tls");
    let client = ClientTls::builder()
        .ca_pem(ca_cert.pem())
        .build()
        .expect("client tls");
    let mut config = (**client.config()).clone();
    config.resumption = rustls::client::Resumption::disabled();
    Pki {
        server,
        client: ClientTls::from_config(Arc::new(config)).expect("client tls"),
    }
}

type RawClient = tokio_rustls::client::TlsStream<TcpStream>;
type RawServer = tokio_rustls::server::TlsStream<TcpStream>;

async fn raw_handshake(
    pki: &Pki,
    listener: &TcpListener,
    addr: SocketAddr,
) -> (RawClient, RawServer) {
    let connector = tokio_rustls::TlsConnector::from(pki.client.config().clone());
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server.config().clone());
    let client = async {
        let sock = TcpStream::connect(addr).await.expect("connect");
        sock.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        connector
            .connect(name, sock)
            .await
            .expect("client handshake")
    };
    let server = async {
        let (sock, _) = listener.accept().await.expect("accept");
        sock.set_nodelay(true).expect("nodelay");
        acceptor.accept(sock).await.expect("server handshake")
    };
    tokio::join!(client, server)
}

async fn raw_pair(pki: &Pki) -> (RawClient, RawServer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    raw_handshake(pki, &listener, addr).await
}

async fn libchan_pair(pki: &Pki, codec: Arc<dyn Codec>) -> (TlsSession, TlsSession) {
    let config = Config::with_codecs(vec![codec]);
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(
        connect(addr, "localhost", &pki.client, config),
        listener.accept()
    );
    (client.expect("connect"), server.expect("accept").0)
}

async fn raw_one_way(pki: &Pki, n: u64, size: usize) -> Duration {
    let (client, server) = raw_pair(pki).await;
    let payload = vec![b'a'; size];
    let reader = tokio::spawn(async move {
        let mut rd = BufReader::with_capacity(64 * 1024, server);
        let mut buf = vec![0u8; size];
        for _ in 0..n {
            let len = rd.read_u32().await.expect("len") as usize;
            rd.read_exact(&mut buf[..len]).await.expect("payload");
        }
    });
    let start = Instant::now();
    let mut wr = BufWriter::with_capacity(64 * 1024, client);
    for _ in 0..n {
        support::write_frame(&mut wr, &payload)
            .await
            .expect("frame");
    }
    wr.flush().await.expect("flush");
    reader.await.expect("reader");
    start.elapsed()
}

async fn libchan_one_way<P: Payload + Clone>(
    pki: &Pki,
    codec: Arc<dyn Codec>,
    n: u64,
    payload: P,
) -> Duration {
    let (client, server) = libchan_pair(pki, codec).await;
    let reader = tokio::spawn(async move {
        let mut rx = server
            .accept::<P>()
            .await
            .expect("accept")
            .expect("channel");
        let mut got = 0u64;
        while rx.recv().await.expect("recv").is_some() {
            got += 1;
        }
        assert_eq!(got, n);
        server
    });
    let start = Instant::now();
    let tx = client.open::<P>().expect("open");
    for _ in 0..n {
        tx.send(payload.clone()).await.expect("send");
    }
    drop(tx);
    let _server = reader.await.expect("reader");
    start.elapsed()
}

async fn raw_handshakes(pki: &Pki, n: u64) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let start = Instant::now();
    for _ in 0..n {
        let pair = raw_handshake(pki, &listener, addr).await;
        drop(pair);
    }
    start.elapsed()
}

async fn libchan_handshakes(pki: &Pki, n: u64) -> Duration {
    let config = Config::new(Json);
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let start = Instant::now();
    for _ in 0..n {
        let (client, server) = tokio::join!(
            connect(addr, "localhost", &pki.client, config.clone()),
            listener.accept()
        );
        drop((client.expect("connect"), server.expect("accept")));
    }
    start.elapsed()
}

fn main() {
    let pki = pki();
    for (label, multi) in [
        ("multi-thread runtime", true),
        ("current-thread runtime", false),
    ] {
        let rt = runtime(multi);
        let mut rows = Vec::new();
        for (name, size, full) in [("16 B", 16usize, 200_000u64), ("64 KiB", 64 * 1024, 2_000)] {
            if !support::selected(&format!("tls one-way {name} {label}")) {
                continue;
            }
            let n = iters(full);
            let [raw, json, msgpack] = support::interleaved([
                &mut || rt.block_on(raw_one_way(&pki, n, size)),
                &mut || rt.block_on(libchan_one_way(&pki, Arc::new(Json), n, "a".repeat(size))),
                &mut || {
                    rt.block_on(libchan_one_way(
                        &pki,
                        Arc::new(Msgpack),
                        n,
                        Bytes::from(vec![b'a'; size]),
                    ))
                },
            ]);
            let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
            let (unit, scale) = if size >= 1024 {
                ("MB/s", size as f64 / 1e6)
            } else {
                ("k/s", 1e-3)
            };
            for (codec, lib) in [("json String", json), ("msgpack Bytes", msgpack)] {
                rows.push(Row {
                    what: format!("one-way, {name}, {codec}"),
                    libchan: per_sec(lib) * scale,
                    baseline: per_sec(raw) * scale,
                    unit,
                    higher_is_better: true,
                    target: match name {
                        "16 B" => ">= 0.25x",
                        _ => ">= 0.80x",
                    },
                });
            }
        }
        if support::selected(&format!("tls handshakes {label}")) {
            let n = iters(400);
            let [raw, lib] =
                support::interleaved([&mut || rt.block_on(raw_handshakes(&pki, n)), &mut || {
                    rt.block_on(libchan_handshakes(&pki, n))
                }]);
            let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
            rows.push(Row {
                what: "handshakes, full, sequential".to_string(),
                libchan: per_sec(lib),
                baseline: per_sec(raw),
                unit: "/s",
                higher_is_better: true,
                target: "",
            });
        }
        print(
            &format!("libchan over TLS on TCP loopback vs a raw TLS socket ({label})"),
            "raw TLS",
            &rows,
        );
    }
}
