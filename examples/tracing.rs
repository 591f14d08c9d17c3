//! What a session tells `tracing`, and the counters it keeps: a span per
//! session (id, role, peer, codec) around every event of that session,
//! `debug` events for streams opened, closed and reset and for credit
//! stalls, `warn` when a peer breaks the protocol or a limit; and
//! `SessionStats` with bytes and messages in and out, ready for metrics.
//!
//! ```text
//! cargo run -p libchan --example tracing
//! RUST_LOG=libchan_mux=trace cargo run -p libchan --example tracing   # every frame
//! ```
//!
//! Prints lines such as
//!
//! ```text
//! DEBUG session{id=session#1 role=Dialer codec="json" peer=127.0.0.1:38783}: libchan_mux::session: stream opened stream=1 kind=OpenerSends top_level=true
//! ```

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::{Request, Session, SessionExt, SessionStats};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), libchan::BoxError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("libchan_mux=debug"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let (client, server) = three_calls().await?;
    println!("client: {client:?}");
    println!("server: {server:?}");
    Ok(())
}

/// Three requests over loopback TCP; the statistics of both sessions once
/// they have closed.
async fn three_calls() -> Result<(SessionStats, SessionStats), libchan::BoxError> {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (session, _peer) = listener.accept().await?;
        let mut requests = session
            .accept::<Request<String, usize>>()
            .await?
            .ok_or("the client opened no channel")?;
        while let Some(req) = requests.recv().await? {
            let (body, responder) = req.into_parts();
            responder.respond(body.len()).await?;
        }
        // The client closed: the session ends once both sides are done.
        while session.accept::<Request<String, usize>>().await?.is_some() {}
        Ok::<_, libchan::BoxError>(session.stats())
    });

    let session = connect(addr, Config::new(Json)).await?;
    let service = session.open::<Request<String, usize>>()?;
    for word in ["hello", "libchan", "tracing"] {
        service.call(word.to_string()).await?;
    }
    drop(service);
    session.close().await?;
    let server = server.await??;
    Ok((session.stats(), server))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything the subscriber writes, for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// On a current-thread runtime every task runs on this thread, where
    /// the subscriber is set.
    #[tokio::test]
    async fn every_event_carries_its_session_and_the_counters_add_up() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("libchan_mux=debug"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (client, server) =
            tokio::time::timeout(std::time::Duration::from_secs(30), three_calls())
                .await
                .expect("three calls finish")
                .expect("three calls work");

        // Three requests one way, three replies the other.
        assert_eq!(
            (client.messages_out, client.messages_in),
            (3, 3),
            "{client:?}"
        );
        assert_eq!(
            (server.messages_in, server.messages_out),
            (3, 3),
            "{server:?}"
        );
        assert!(client.bytes_out > 0 && client.bytes_in > 0, "{client:?}");
        assert!(
            server.bytes_in >= client.bytes_out - 64,
            "{client:?} {server:?}"
        );

        let text = String::from_utf8(captured.0.lock().expect("not poisoned").clone())
            .expect("utf-8 output");
        let opened = text
            .lines()
            .find(|l| l.contains("stream opened"))
            .unwrap_or_else(|| panic!("no open logged:\n{text}"));
        assert!(opened.contains("session{id=session#"), "{opened}");
        assert!(opened.contains("role=Dialer"), "{opened}");
        assert!(opened.contains("peer=127.0.0.1:"), "{opened}");
        assert!(
            text.lines()
                .any(|l| l.contains("role=Acceptor") && l.contains("codec=json")),
            "{text}"
        );
        assert!(text.contains("role=Acceptor"), "{text}");
        assert!(text.contains("peer opened stream"), "{text}");
        assert!(text.contains("peer closed stream"), "{text}");
        assert!(
            !text.contains("WARN"),
            "an honest session warns of nothing:\n{text}"
        );
    }
}
