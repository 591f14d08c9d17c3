//! The user-facing API over a real connection: capacities, the request
//! helpers' errors, what the sessions say about themselves.

use std::time::Duration;

use libchan_codec_json::Json;
use libchan_core::{ChannelError, Receiver, Request, Sender, Session, SessionExt, TrySendError};
use libchan_transport_tcp::{connect, Config, Listener, TcpSession};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

async fn pair_with(client: Config, server: Config) -> (TcpSession, TcpSession) {
    let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (d, a) = tokio::join!(connect(addr, client), listener.accept());
    (d.expect("connect"), a.expect("accept").0)
}

#[derive(Debug, Serialize, Deserialize)]
struct Subscribe {
    events: Sender<u32>,
    control: Receiver<u32>,
}

#[tokio::test]
async fn capacities_are_chosen_per_channel_and_per_session() {
    let mut server_config = Config::new(Json);
    server_config.channel_capacity = 3;
    let (client, server) = pair_with(Config::new(Json), server_config).await;
    assert_eq!(server.channel_capacity(), 3);
    assert_eq!(client.channel_capacity(), libchan_core::DEFAULT_CAPACITY);

    let tx = client
        .open_with_capacity::<Subscribe>(5)
        .expect("open with a capacity");
    assert_eq!(tx.capacity(), 5);
    let (events_tx, _events_rx) = libchan_core::pipe::<u32>();
    let (_control_tx, control_rx) = libchan_core::pipe::<u32>();
    tx.send(Subscribe {
        events: events_tx,
        control: control_rx,
    })
    .await
    .expect("send");
    let mut subs = within("accept", server.accept::<Subscribe>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(subs.capacity(), 3, "accepted: the session's setting");
    let sub = within("recv", subs.recv())
        .await
        .expect("recv")
        .expect("one");
    assert_eq!(
        sub.events.capacity(),
        3,
        "a received sender: the session's setting"
    );
    assert_eq!(sub.control.capacity(), 3, "a received receiver too");

    let rx = within("accept", {
        let _ = client.open::<u32>().expect("open");
        server.accept_with_capacity::<u32>(9)
    })
    .await
    .expect("accept")
    .expect("a channel");
    assert_eq!(rx.capacity(), 9);
}

#[tokio::test]
async fn try_send_fans_out_without_waiting_on_a_stalled_subscriber() {
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    let tx = client.open_with_capacity::<u32>(2).expect("open");
    let _rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("a channel");
    // Nobody reads: the peer's credit runs out, then the local queue fills,
    // and try_send says so instead of waiting.
    let mut sent = 0u32;
    let full = within("the channel to fill", async {
        loop {
            match tx.try_send(sent) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        matches!(full, TrySendError::Full(v) if v == sent),
        "expected Full with the value, got {full:?}"
    );
}

#[tokio::test]
async fn a_reply_over_the_callers_size_limit_is_not_reported_as_no_reply() {
    let mut small = Config::new(Json);
    small.limits.max_frame_size = 4096;
    let (client, server) = pair_with(small, Config::new(Json)).await;
    let service = client.open::<Request<u32, String>>().expect("open");
    tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<u32, String>>()
            .await
            .expect("accept")
            .expect("a channel");
        while let Ok(Some(req)) = requests.recv().await {
            let (n, responder) = req.into_parts();
            let refused = responder.respond("x".repeat(n as usize)).await;
            assert!(
                matches!(
                    refused.as_ref().map_err(|e| e.error()),
                    Err(ChannelError::Limit(_))
                ),
                "the responder learns its answer was too large, got {refused:?}"
            );
        }
    });
    let err = within("the call", service.call(10_000))
        .await
        .expect_err("the answer is over the caller's limit");
    match &err {
        ChannelError::Reset { code, reason, .. } => {
            assert_eq!(*code, libchan_mux::ErrorCode::LIMIT_EXCEEDED.0);
            assert!(
                reason.contains("4096"),
                "the reason names the limit: {reason}"
            );
        }
        other => panic!("expected the responder's limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_is_reachable_from_generic_code() {
    async fn established(session: &dyn Session) -> Result<(), libchan_core::SessionError> {
        session.handshake().await
    }
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    within("handshake", established(&client))
        .await
        .expect("the client's handshake");
    within("handshake", established(&server))
        .await
        .expect("the server's handshake");
}

#[tokio::test]
async fn sessions_know_their_addresses() {
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    assert_eq!(client.peer_addr(), server.local_addr());
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[tokio::test]
async fn an_invalid_configuration_is_rejected_before_dialling() {
    let mut bad = Config::new(Json);
    bad.limits.max_frame_size = 10;
    // Port 1 on loopback: were it dialled, this would be a connect error.
    let err = connect("127.0.0.1:1", bad.clone())
        .await
        .expect_err("an invalid configuration");
    match &err {
        libchan_core::SessionError::Config(source) => {
            let config = source
                .downcast_ref::<libchan_mux::ConfigError>()
                .expect("the mux's own configuration error");
            assert_eq!(*config, libchan_mux::ConfigError::MaxFrameSize(10));
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(matches!(
        Listener::bind("127.0.0.1:0", bad).await,
        Err(libchan_core::SessionError::Config(_))
    ));
}

#[tokio::test]
async fn a_failed_connect_names_the_address_dialled() {
    // Bind and drop a listener: its port is (almost surely) refused now.
    let addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    let err = connect(addr, Config::new(Json))
        .await
        .expect_err("nothing listens there");
    match &err {
        libchan_core::SessionError::Connect { addr: named, .. } => {
            assert_eq!(*named, addr.to_string())
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    let by_name = connect(format!("localhost:{}", addr.port()), Config::new(Json))
        .await
        .expect_err("nothing listens there");
    assert!(
        by_name.to_string().contains(&addr.port().to_string()),
        "{by_name}"
    );
}

#[tokio::test]
async fn connect_gives_up_after_the_connect_timeout() {
    // A listener that never accepts, with the smallest backlog: once the
    // backlog is full the kernel drops further handshakes, and a connect
    // waits until its timeout.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::new(Json);
    config.connect_timeout = Some(Duration::from_millis(200));
    let mut held = Vec::new();
    let mut timed_out = None;
    for _ in 0..32 {
        match within("a bounded connect", connect(addr, config.clone())).await {
            Ok(session) => held.push(session),
            Err(e) => {
                timed_out = Some(e);
                break;
            }
        }
    }
    let err = timed_out.expect("a connect to a full backlog times out");
    match &err {
        libchan_core::SessionError::Connect { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{err}")
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    drop(listener);
}

#[tokio::test]
async fn closing_a_receiver_tells_the_remote_sender_and_keeps_what_arrived() {
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    let tx = client.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    tx.send(2).await.expect("send");
    // Wait until the second message is here, then close.
    let mut batch = Vec::new();
    within("the second message", rx.recv_many(&mut batch, 8))
        .await
        .expect("recv_many");
    assert_eq!(batch, [2]);
    tx.send(3).await.expect("send");
    rx.close();
    within("the remote sender to learn of the close", tx.closed()).await;
    let later = tx.send(4).await.expect_err("the receiver closed");
    assert!(matches!(later.error(), ChannelError::Closed));
    assert_eq!(later.into_inner(), 4);
    // What arrived before the close (perhaps 3) is still received, then the end.
    loop {
        match within("the rest", rx.recv()).await.expect("no break") {
            Some(3) => continue,
            Some(other) => panic!("unexpected message {other}"),
            None => break,
        }
    }
}

#[tokio::test]
async fn permits_and_the_sink_send_in_order_over_a_session() {
    use futures_util::SinkExt;
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    let mut tx = client.open_with_capacity::<u32>(4).expect("open");
    let mut rx = within("accept", async {
        tx.reserve().await.expect("a slot").send(0);
        server.accept::<u32>().await
    })
    .await
    .expect("accept")
    .expect("a channel");
    let consumer = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await.expect("recv") {
            got.push(v);
        }
        got
    });
    for i in 1..50 {
        tx.reserve().await.expect("a slot").send(i);
    }
    let mut items = futures_util::stream::iter((50..100).map(Ok));
    within("send_all", tx.send_all(&mut items))
        .await
        .expect("send_all");
    drop(tx);
    let got = within("the consumer", consumer).await.expect("join");
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_untagged_enum_with_ends_in_a_later_variant_crosses_a_session() {
    use libchan_conformance::types::Untagged;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client, server) = pair_with(Config::new(Json), Config::new(Json)).await;
    let tx = client.open::<Untagged>().expect("open");
    let (reply_tx, mut reply_rx) = libchan_core::pipe::<String>();
    let (feed_tx, feed_rx) = libchan_core::pipe::<u64>();
    let (stream, mut other) = libchan_core::ByteStream::pair();
    tx.send(Untagged::Later {
        reply: reply_tx,
        feed: feed_rx,
        stream,
        text: "later".into(),
    })
    .await
    .expect("send");
    let mut rx = within("accept", server.accept::<Untagged>())
        .await
        .expect("accept")
        .expect("a channel");
    let got = within("recv", rx.recv())
        .await
        .expect("decodes")
        .expect("one");
    let Untagged::Later {
        reply,
        mut feed,
        mut stream,
        text,
    } = got
    else {
        panic!("decoded as the earlier variant");
    };
    assert_eq!(text, "later");
    reply.send("back".into()).await.expect("the sender is live");
    drop(reply);
    assert_eq!(
        within("reply", reply_rx.recv()).await.expect("recv"),
        Some("back".into())
    );
    assert_eq!(
        within("the reply's end", reply_rx.recv())
            .await
            .expect("clean"),
        None
    );
    feed_tx.send(9).await.expect("the receiver is live");
    assert_eq!(within("feed", feed.recv()).await.expect("recv"), Some(9));
    stream.write_all(b"over the wire").await.expect("write");
    stream.shutdown().await.expect("shutdown");
    let mut bytes = Vec::new();
    within("the stream", other.read_to_end(&mut bytes))
        .await
        .expect("read");
    assert_eq!(bytes, b"over the wire");
}

#[tokio::test]
async fn a_stream_connected_elsewhere_carries_a_session_either_way_round() {
    let own = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = own.local_addr().expect("addr");
    let (dialled, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), own.accept());
    let dialled = dialled.expect("connect");
    let (accepted, _) = accepted.expect("accept");
    // The accepting side opens the channel: roles say who dialled, not who
    // may open.
    let server = libchan_transport_tcp::from_stream(
        accepted,
        libchan_transport_tcp::Role::Acceptor,
        Config::new(Json),
    )
    .expect("a session");
    let client = libchan_transport_tcp::from_stream(
        dialled,
        libchan_transport_tcp::Role::Dialer,
        Config::new(Json),
    )
    .expect("a session");
    let tx = server.open::<String>().expect("open");
    tx.send("from the acceptor".into()).await.expect("send");
    let mut rx = within("accept", client.accept::<String>())
        .await
        .expect("accept")
        .expect("a channel");
    let got = within("recv", rx.recv()).await.expect("recv");
    assert_eq!(got.as_deref(), Some("from the acceptor"));
    assert_eq!(server.peer_addr(), client.local_addr());
}
