//! Byte streams over real TCP where the transport's limits matter: chunks
//! follow the peer's frame limit, and failures reach the other side as
//! failures with their cause.

use std::time::Duration;

use libchan_codec_json::Json;
use libchan_core::{ByteStream, ByteStreamError, SessionExt};
use libchan_transport_tcp::{connect, Config, Listener, TcpSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(30);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

async fn pair(config: Config) -> (TcpSession, TcpSession) {
    let listener = Listener::bind("127.0.0.1:0", config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(connect(addr, config), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_stream_chunks_follow_a_small_peer_frame_limit_both_ways() {
    let mut config = Config::new(Json);
    config.limits.max_frame_size = 16 << 10;
    let (client, server) = pair(config).await;
    let tx = client.open::<ByteStream>().expect("open");
    let (local, remote) = ByteStream::pair();
    tx.send(remote).await.expect("send the stream");
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let far = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    let up = pattern(1 << 20);
    let down = pattern(3 << 19);
    // Each side writes and reads at once: a side that wrote everything
    // before reading would wait for the other forever, as with any pipe.
    let (local_rd, mut local_wr) = tokio::io::split(local);
    let (far_rd, mut far_wr) = tokio::io::split(far);
    let read_all = |mut rd: tokio::io::ReadHalf<ByteStream>| async move {
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.map(|_| got)
    };
    let (up_sent, down_sent, up_got, down_got) = within("both directions", async {
        tokio::join!(
            async {
                // 64 KiB writes, above the peer's 16 KiB frame limit.
                for chunk in up.chunks(64 << 10) {
                    local_wr.write_all(chunk).await?;
                }
                local_wr.shutdown().await
            },
            async {
                for chunk in down.chunks(64 << 10) {
                    far_wr.write_all(chunk).await?;
                }
                far_wr.shutdown().await
            },
            read_all(far_rd),
            read_all(local_rd),
        )
    })
    .await;
    up_sent.expect("write up");
    down_sent.expect("write down");
    assert_eq!(up_got.expect("read up to a clean end"), up);
    assert_eq!(down_got.expect("read down to a clean end"), down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_stream_dropped_mid_upload_is_an_abort_on_the_far_side() {
    let (client, server) = pair(Config::new(Json)).await;
    let tx = client.open::<ByteStream>().expect("open");
    let (mut local, remote) = ByteStream::pair();
    tx.send(remote).await.expect("send the stream");
    let mut rx = within("accept", server.accept::<ByteStream>())
        .await
        .expect("accept")
        .expect("channel");
    let mut far = within("recv", rx.recv())
        .await
        .expect("recv")
        .expect("stream");
    let writer = tokio::spawn(async move {
        local.write_all(&pattern(3 << 20)).await.expect("write");
        // Dropped without shutdown: the upload was abandoned.
    });
    let mut got = Vec::new();
    let err = within("read", far.read_to_end(&mut got))
        .await
        .expect_err("an abandoned upload is not a complete one");
    within("writer", writer).await.expect("writer");
    assert!(got.len() <= 3 << 20);
    assert!(
        matches!(
            ByteStreamError::of(&err),
            Some(ByteStreamError::Aborted { reason, .. }) if reason.contains("without shutdown")
        ),
        "the far side learns the writer went away without shutdown, got {err}"
    );
}
