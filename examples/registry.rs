//! Telling channels apart: the first top-level channel is a typed registry.
//!
//! Top-level channels arrive in the order they were opened and carry no
//! name, so a server that accepts several must know which is which. The
//! pattern: open exactly one top-level channel, of an enum whose variants
//! name the channels the client offers, each carrying its typed end. The
//! server matches on the variant, so every channel arrives named and typed,
//! in any order and any number. A client that sends a variant the server
//! does not know (a newer version, say) makes the server's `recv` fail with
//! `ChannelError::Decode` naming the variant, and the registry channel is
//! reset, which the client sees on its next send: a clear failure, never a
//! channel silently read as the wrong type.
//!
//! ```text
//! cargo run -p libchan --example registry
//! ```

use libchan::codec::Json;
use libchan::prelude::*;
use libchan::tcp::{connect, Config, Listener};
use libchan::BoxError;
use serde::{Deserialize, Serialize};

/// Everything a client may open, by name: the registry's message type.
#[derive(Debug, Serialize, Deserialize)]
enum Channel {
    /// Lines for the server's log.
    Log(Receiver<String>),
    /// A key-value store: each request gets its answer on its own reply.
    Store(Receiver<Request<Op, Option<String>>>),
    /// Events of one topic, sent by the server to the client.
    Subscribe {
        topic: String,
        events: Sender<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Op {
    Put(String, String),
    Get(String),
}

/// Serves one session: takes the registry, then each channel it names.
async fn serve(session: libchan::tcp::TcpSession) -> Result<Vec<String>, BoxError> {
    let mut registry = session
        .accept::<Channel>()
        .await?
        .ok_or("the client opened no registry")?;
    let mut log = Vec::new();
    let mut tasks = Vec::new();
    while let Some(channel) = registry.recv().await? {
        match channel {
            Channel::Log(mut lines) => {
                while let Some(line) = lines.recv().await? {
                    log.push(line);
                }
            }
            Channel::Store(mut requests) => tasks.push(tokio::spawn(async move {
                let mut map = std::collections::HashMap::new();
                while let Some(req) = requests.recv().await? {
                    let (op, responder) = req.into_parts();
                    let answer = match op {
                        Op::Put(k, v) => map.insert(k, v),
                        Op::Get(k) => map.get(&k).cloned(),
                    };
                    responder.respond(answer).await?;
                }
                Ok::<_, BoxError>(())
            })),
            Channel::Subscribe { topic, events } => tasks.push(tokio::spawn(async move {
                for n in 1..=3 {
                    events.send(format!("{topic} #{n}")).await?;
                }
                Ok(())
            })),
        }
    }
    for t in tasks {
        t.await??;
    }
    Ok(log)
}

/// A client that opens its three channels through the registry.
async fn client(addr: std::net::SocketAddr) -> Result<Vec<String>, BoxError> {
    let session = connect(addr, Config::new(Json)).await?;
    let registry = session.open::<Channel>()?;

    let (events_tx, mut events) = libchan::pipe::<String>();
    registry
        .send(Channel::Subscribe {
            topic: "builds".into(),
            events: events_tx,
        })
        .await?;

    let (store, store_rx) = libchan::pipe::<Request<Op, Option<String>>>();
    registry.send(Channel::Store(store_rx)).await?;
    store
        .call(Op::Put("greeting".into(), "hello".into()))
        .await?;
    let got = store.call(Op::Get("greeting".into())).await?;
    assert_eq!(got.as_deref(), Some("hello"));

    let (log, log_rx) = libchan::pipe::<String>();
    registry.send(Channel::Log(log_rx)).await?;
    log.send("stored a greeting".into()).await?;
    drop(log);

    let mut seen = Vec::new();
    while let Some(event) = events.recv().await? {
        seen.push(event);
    }
    drop((store, registry));
    session.close().await?;
    Ok(seen)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (session, _peer) = listener.accept().await?;
        serve(session).await
    });
    let events = client(addr).await?;
    println!("client got {events:?}");
    println!("server logged {:?}", server.await??);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn channels_arrive_named_and_typed_through_the_registry() {
        let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (session, _peer) = listener.accept().await.expect("accept");
            serve(session).await.expect("serve")
        });
        let patience = std::time::Duration::from_secs(30);
        let events = tokio::time::timeout(patience, client(addr))
            .await
            .expect("the client finishes")
            .expect("the client works");
        assert_eq!(events, ["builds #1", "builds #2", "builds #3"]);
        let log = tokio::time::timeout(patience, server)
            .await
            .expect("the server finishes")
            .expect("the server task");
        assert_eq!(log, ["stored a greeting"]);
    }

    /// The registry of a newer client, with a variant this server lacks.
    #[derive(Debug, Serialize, Deserialize)]
    enum NewerChannel {
        Metrics(Receiver<u64>),
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_channel_name_is_a_decode_error_not_a_wrong_type() {
        let listener = Listener::bind("127.0.0.1:0", Config::new(Json))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (session, _peer) = listener.accept().await.expect("accept");
            let mut registry = session
                .accept::<Channel>()
                .await
                .expect("accept")
                .expect("a registry");
            let first = registry.recv().await;
            (first.map(|c| c.map(|_| ())), session)
        });
        let session = connect(addr, Config::new(Json)).await.expect("connect");
        let registry = session.open::<NewerChannel>().expect("open");
        let (_metrics, metrics_rx) = libchan::pipe::<u64>();
        registry
            .send(NewerChannel::Metrics(metrics_rx))
            .await
            .expect("sent");
        let (first, _server_session) =
            tokio::time::timeout(std::time::Duration::from_secs(30), server)
                .await
                .expect("the server finishes")
                .expect("the server task");
        match first {
            Err(libchan::ChannelError::Decode(e)) => {
                assert!(e.to_string().contains("Metrics"), "{e}")
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
