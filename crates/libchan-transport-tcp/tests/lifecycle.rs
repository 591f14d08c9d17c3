//! When a session ends: dropping the last handle of an idle session closes
//! it cleanly; channels still in use keep it alive until they finish.

use std::time::Duration;

use libchan_codec_json::Json;
use libchan_core::SessionExt;
use libchan_transport_tcp::{connect, Config, Listener, TcpSession};

const PATIENCE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

async fn pair() -> (TcpSession, TcpSession) {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (d, a) = tokio::join!(connect(addr, Config::new(Json)), listener.accept());
    (d.expect("connect"), a.expect("accept").0)
}

#[tokio::test]
async fn dropping_the_last_handle_of_an_idle_session_closes_it_cleanly() {
    let (client, server) = pair().await;
    let extra = server.clone();
    drop(server);
    // A clone still holds it: the session is alive.
    let tx = client.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", extra.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    drop((tx, rx));
    drop(extra);
    // The peer sees a clean end, not a crash.
    let next = within("the peer to see the close", client.accept::<u32>()).await;
    assert!(
        matches!(next, Ok(None)),
        "a dropped idle session closes cleanly, got {next:?}"
    );
}

#[tokio::test]
async fn channels_in_use_keep_a_dropped_session_alive_until_they_finish() {
    let (client, server) = pair().await;
    let tx = client.open::<String>().expect("open");
    tx.send("before".into()).await.expect("send");
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    drop(server);
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("before".to_string())
    );
    tx.send("after the handle was dropped".into())
        .await
        .expect("the channel still works");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("after the handle was dropped".to_string())
    );
    drop(tx);
    assert_eq!(within("clean end", rx.recv()).await.expect("clean"), None);
    drop(rx);
    let next = within("the peer to see the close", client.accept::<u32>()).await;
    assert!(
        matches!(next, Ok(None)),
        "once its last channel finished, the session closed cleanly, got {next:?}"
    );
}
