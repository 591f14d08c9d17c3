//! libchan over WebSocket on loopback beside raw tungstenite, measured in
//! the same run.
//!
//! One-way throughput, 16 B and 64 KiB messages. Baseline: the same
//! payloads as raw binary WebSocket messages from a tokio-tungstenite
//! client to a tokio-tungstenite server (`feed` each, one `flush` at the
//! end, so tungstenite's write buffer batches them), both with
//! `TCP_NODELAY`. libchan: msgpack `Bytes` messages (written as `bin`) on
//! one channel of a `libchan::websocket` session, client to server, so both
//! sides mask the same direction.
//!
//! Each on a multi-thread and a current-thread runtime.

mod support;

use std::time::{Duration, Instant};

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use libchan::codec::Msgpack;
use libchan::websocket::{connect, Config, Listener, Server, WsSession};
use libchan::SessionExt;
use support::{iters, print, Row};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

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

async fn raw_one_way(n: u64, size: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.expect("accept");
        sock.set_nodelay(true).expect("nodelay");
        let mut ws = tokio_tungstenite::accept_async(sock)
            .await
            .expect("upgrade");
        let mut got = 0u64;
        while got < n {
            match ws.next().await.expect("a message").expect("ok") {
                Message::Binary(b) => {
                    assert_eq!(b.len(), size);
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let sock = TcpStream::connect(addr).await.expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), sock)
        .await
        .expect("upgrade");
    let payload = Bytes::from(vec![b'a'; size]);
    let start = Instant::now();
    for _ in 0..n {
        ws.feed(Message::Binary(payload.clone()))
            .await
            .expect("send");
    }
    ws.flush().await.expect("flush");
    reader.await.expect("reader");
    start.elapsed()
}

async fn libchan_pair() -> (WsSession, WsSession) {
    let config = Config::with_codecs(vec![Arc::new(Msgpack)]);
    let listener = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = format!("ws://{addr}/libchan");
    let (client, server) = tokio::join!(connect(&url, config), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

async fn libchan_one_way(n: u64, size: usize) -> Duration {
    let (client, server) = libchan_pair().await;
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

fn main() {
    for (label, multi) in [
        ("multi-thread runtime", true),
        ("current-thread runtime", false),
    ] {
        let rt = runtime(multi);
        let mut rows = Vec::new();
        for (name, size, full) in [("16 B", 16usize, 200_000u64), ("64 KiB", 64 * 1024, 4_000)] {
            if !support::selected(&format!("websocket one-way {name} {label}")) {
                continue;
            }
            let n = iters(full);
            let [raw, lib] =
                support::interleaved([&mut || rt.block_on(raw_one_way(n, size)), &mut || {
                    rt.block_on(libchan_one_way(n, size))
                }]);
            let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
            let (unit, scale) = if size >= 1024 {
                ("MB/s", size as f64 / 1e6)
            } else {
                ("k/s", 1e-3)
            };
            rows.push(Row {
                what: format!("one-way, {name}, msgpack Bytes"),
                libchan: per_sec(lib) * scale,
                baseline: per_sec(raw) * scale,
                unit,
                higher_is_better: true,
                target: match name {
                    "16 B" => ">= 0.25x (as tcp)",
                    _ => ">= 0.80x (as tcp)",
                },
            });
        }
        if rows.is_empty() {
            continue;
        }
        print(
            &format!(
                "libchan over WebSocket loopback vs raw tungstenite binary messages ({label})"
            ),
            "raw ws",
            &rows,
        );
    }
}
