//! A `send` waits for a full send buffer only while its stream has credit:
//! credit comes back only as the peer's application reads, so a message
//! that waits for credit must not hold its `send`, whatever the buffer.

use std::time::{Duration, Instant};

use libchan_codec_json::Json;
use libchan_core::SessionExt;
use libchan_mux::driver::{spawn, SessionConfig};
use libchan_mux::{Connection, Limits, Role};
use tokio::io::AsyncWriteExt;

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

#[tokio::test]
async fn a_send_waiting_for_credit_returns_even_with_the_send_buffer_full() {
    // A 64-byte pipe the peer never reads: our writer is stuck inside its
    // first write (the magic and HELLO), so whatever is queued after that
    // stays in the send buffer.
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut limits = Limits::new(["json"]);
    limits.initial_window = 1024;
    let mut peer = Connection::new(Role::Acceptor, limits, Instant::now()).expect("config");
    let preface = peer.poll_transmit().expect("magic and HELLO");
    let mut config = SessionConfig::new(Json);
    config.limits.max_send_buffer = 2048;
    let session = spawn(ours, Role::Dialer, config).expect("session");
    within("the peer's preface to be read", theirs.write_all(&preface))
        .await
        .expect("the peer's preface");
    within("the peer's HELLO", session.handshake())
        .await
        .expect("handshake");
    let tx = session.open::<String>().expect("open");
    // The first message starts within the peer's 1 KiB window and overdraws
    // it, and fills the 2 KiB send buffer: the second waits for credit with
    // the buffer full. It and the next ones fit the channel's capacity, so
    // every `send` returns.
    let message = "x".repeat(3000);
    for i in 0..10 {
        within(&format!("send {i}"), tx.send(message.clone()))
            .await
            .expect("send");
    }
    drop(theirs);
}
