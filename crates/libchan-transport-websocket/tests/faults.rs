//! Faults at the WebSocket layer on real loopback sockets: a peer that
//! closes in the middle of a fragmented message, a text message, an
//! oversize message, a slowloris upgrade, a refused upgrade, bad TLS. The
//! misbehaving peer is raw tungstenite driving a hand-scripted libchan
//! protocol; every fault must end in a typed error, and nothing may hang
//! (every wait is bounded) or panic. Nothing here asserts on timing.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use libchan_codec_json::Json;
use libchan_core::{ChannelError, SessionError, SessionExt};
use libchan_mux::{Connection as Proto, Limits, Role, StreamId, StreamKind};
use libchan_transport_websocket::http::{Request, StatusCode};
use libchan_transport_websocket::{
    connect, connect_with_request, Config, Connector, Error, Listener, Rejection, Server,
};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type RawWs = WebSocketStream<TcpStream>;

/// A raw WebSocket server speaking libchan by hand: it accepts one
/// upgrade, waits for the dialer's preface, answers with a scripted
/// acceptor's preface and HELLO, opens a channel toward the dialer and
/// sends `"first"` on it; then `script` takes over.
async fn scripted_server<F, Fut, T>(script: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(RawWs, Proto, StreamId) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (sock, _) = raw.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(sock)
            .await
            .expect("upgrade");
        let preface = ws.next().await.expect("a message").expect("ok").into_data();
        assert!(
            preface.starts_with(b"libchan\0"),
            "the dialer's first binary message starts with the magic"
        );
        let mut proto =
            Proto::new(Role::Acceptor, Limits::new(["json"]), Instant::now()).expect("config");
        proto
            .handle_input(Instant::now(), &preface)
            .expect("the dialer's preface");
        while proto.poll_event().is_some() {}
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"\"first\"").expect("send");
        let whole = proto.poll_transmit().expect("preface, HELLO, OPEN, DATA");
        ws.send(Message::binary(whole.to_vec()))
            .await
            .expect("send");
        script(ws, proto, id).await
    });
    (addr, task)
}

/// Reads the peer's messages until its close frame; `None` if the
/// connection ended without one.
async fn close_frame_of(ws: &mut RawWs) -> Option<CloseFrame> {
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Close(frame) = msg {
            return frame;
        }
    }
    None
}

/// The dialer's side of a scripted server: the channel it opened, with
/// `"first"` already received.
async fn first_message(
    session: &libchan_transport_websocket::WsSession,
) -> libchan_core::Receiver<String> {
    let mut rx = within("accept", session.accept::<String>())
        .await
        .expect("accept")
        .expect("the peer's channel");
    assert_eq!(
        within("first", rx.recv()).await.expect("recv"),
        Some("first".to_string())
    );
    rx
}

fn ws_error(err: &ChannelError) -> &Error {
    Error::find(err).unwrap_or_else(|| panic!("expected a WebSocket error, got {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_in_the_middle_of_a_fragmented_message_is_a_typed_error() {
    let (addr, peer) = scripted_server(|mut ws, mut proto, id| async move {
        proto
            .send_data(id, b"\"second, never finished\"")
            .expect("send");
        let frame = proto.poll_transmit().expect("a DATA frame");
        // The first half of the frame as a first fragment, then a close.
        let half = frame[..frame.len() / 2].to_vec();
        ws.send(Message::Frame(Frame::message(
            half,
            OpCode::Data(Data::Binary),
            false,
        )))
        .await
        .expect("fragment");
        ws.send(Message::Close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "shutting down".into(),
        })))
        .await
        .expect("close");
        close_frame_of(&mut ws).await
    })
    .await;

    let session = connect(&format!("ws://{addr}/"), Config::new(Json))
        .await
        .expect("connect");
    let mut rx = first_message(&session).await;
    let err = within("the break", rx.recv())
        .await
        .expect_err("a close mid-message is not a clean end");
    assert!(
        matches!(err, ChannelError::SessionLost(SessionError::Io(_))),
        "got {err:?}"
    );
    match ws_error(&err) {
        Error::ClosedByPeer { code, reason } => {
            assert_eq!(*code, 1001);
            assert_eq!(reason, "shutting down");
        }
        other => panic!("expected ClosedByPeer, got {other:?}"),
    }
    let accept = within("accept after the break", session.accept::<String>()).await;
    assert!(accept.is_err(), "the session is lost, got {accept:?}");
    // tungstenite answered the close (echoing its code).
    let answer = within("the peer", peer).await.expect("peer");
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::Away));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_message_to_the_server_is_a_typed_error_and_closes_with_1003() {
    let listener = Listener::bind("127.0.0.1:0", Server::new(Config::new(Json)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // A raw client: a scripted libchan dialer, then a text message.
    let client = tokio::spawn(async move {
        let sock = TcpStream::connect(addr).await.expect("connect");
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), sock)
            .await
            .expect("upgrade");
        let mut proto =
            Proto::new(Role::Dialer, Limits::new(["json"]), Instant::now()).expect("config");
        let id = proto.open(StreamKind::OpenerSends, true).expect("open");
        proto.send_data(id, b"\"first\"").expect("send");
        let whole = proto.poll_transmit().expect("preface, HELLO, OPEN, DATA");
        ws.send(Message::binary(whole.to_vec()))
            .await
            .expect("send");
        ws.send(Message::text("{\"not\": \"binary\"}"))
            .await
            .expect("text");
        close_frame_of(&mut ws).await
    });
    let (session, _) = within("accept", listener.accept()).await.expect("accept");
    let mut rx = first_message(&session).await;
    let err = within("the break", rx.recv())
        .await
        .expect_err("a text message ends the session");
    assert!(matches!(ws_error(&err), Error::TextMessage), "got {err:?}");
    let close = within("the client", client).await.expect("client");
    assert_eq!(
        close.map(|f| f.code),
        Some(CloseCode::Unsupported),
        "the server's close frame says why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_is_a_typed_error() {
    let mut config = Config::new(Json);
    config.limits.max_frame_size = 4096;
    let (addr, peer) = scripted_server(|mut ws, _proto, _id| async move {
        // Over the dialer's limit: its max_frame_size plus the headroom.
        let big = vec![0u8; 4096 + (256 << 10) + 1];
        let _ = ws.send(Message::binary(big)).await;
        close_frame_of(&mut ws).await
    })
    .await;
    let session = connect(&format!("ws://{addr}/"), config)
        .await
        .expect("connect");
    let mut rx = first_message(&session).await;
    let err = within("the break", rx.recv())
        .await
        .expect_err("an oversize message ends the session");
    match ws_error(&err) {
        Error::MessageTooLarge { size, max } => {
            assert_eq!(*max, 4096 + (256 << 10));
            assert!(size > max);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    // The close frame may be lost with the unread rest of the message (a
    // reset discards it); when it arrives it says "too big".
    if let Some(close) = within("the peer", peer).await.expect("peer") {
        assert_eq!(close.code, CloseCode::Size);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_ends_with_a_normal_closure_frame() {
    // The peer finishes its channel, plays the protocol (so it answers our
    // GOAWAY), and reports the close frame that ends the connection.
    let (addr, peer) = scripted_server(|mut ws, mut proto, id| async move {
        proto.close(id).expect("close the channel");
        let out = proto.poll_transmit().expect("CLOSE");
        ws.send(Message::binary(out.to_vec())).await.expect("send");
        while let Some(Ok(msg)) = ws.next().await {
            match msg {
                Message::Binary(bytes) => {
                    let _ = proto.handle_input(Instant::now(), &bytes);
                    while proto.poll_event().is_some() {}
                    if let Some(out) = proto.poll_transmit() {
                        ws.send(Message::binary(out.to_vec())).await.expect("send");
                    }
                }
                Message::Close(frame) => return frame,
                _ => {}
            }
        }
        None
    })
    .await;
    let session = connect(&format!("ws://{addr}/"), Config::new(Json))
        .await
        .expect("connect");
    let mut rx = first_message(&session).await;
    assert_eq!(within("the end", rx.recv()).await.expect("clean"), None);
    within("close", libchan_core::Session::close(&session))
        .await
        .expect("close");
    let close = within("the peer", peer)
        .await
        .expect("peer")
        .expect("a close frame");
    assert_eq!(close.code, CloseCode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_upgrade_times_out_while_the_listener_serves_others() {
    let mut config = Config::new(Json);
    config.limits.handshake_timeout = Duration::from_secs(2);
    let listener = Listener::bind("127.0.0.1:0", Server::new(config))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");

    // The slow client trickles a request that never ends.
    let slow = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        sock.write_all(b"GET /libchan HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 64];
        loop {
            tokio::select! {
                read = sock.read(&mut buf) => return read.map(|n| n == 0).unwrap_or(true),
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if sock.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return true;
                    }
                }
            }
        }
    });

    // Meanwhile a normal client gets a working session.
    let client = within(
        "a client while the slow one hangs",
        connect(&format!("ws://{addr}/libchan"), Config::new(Json)),
    )
    .await
    .expect("connect");
    let mut served = None;
    let mut timed_out = None;
    within("both attempts", async {
        while served.is_none() || timed_out.is_none() {
            let (_peer, attempt) = listener.next_attempt().await.expect("listener");
            match attempt {
                Ok(session) => served = Some(session),
                Err(e) => timed_out = Some(e),
            }
        }
    })
    .await;
    let server = served.expect("the normal client's session");
    let tx = client.open::<String>().expect("open");
    tx.send("served".into()).await.expect("send");
    let mut rx = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv"),
        Some("served".to_string())
    );
    match timed_out.expect("the slow client's failure") {
        Error::HandshakeTimeout(limit) => assert_eq!(limit, Duration::from_secs(2)),
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
    assert!(
        within("the slow client to be dropped", slow)
            .await
            .expect("slow client"),
        "the server hung up on the slow client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_facing_a_silent_server_times_out() {
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    let _silent = tokio::spawn(async move {
        let (sock, _) = raw.accept().await.expect("accept");
        std::future::pending::<()>().await;
        drop(sock);
    });
    let mut config = Config::new(Json);
    config.limits.handshake_timeout = Duration::from_millis(500);
    let err = within(
        "the client to give up",
        connect(&format!("ws://{addr}/"), config),
    )
    .await
    .expect_err("no answer to the upgrade");
    assert!(
        matches!(err, Error::HandshakeTimeout(d) if d == Duration::from_millis(500)),
        "got {err:?}"
    );
}

fn bearer_request(addr: SocketAddr, token: &str) -> Request<()> {
    Request::builder()
        .uri(format!("ws://{addr}/libchan?room=7"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Cookie", "session=abc")
        .body(())
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_check_refuses_bad_tokens_and_keeps_the_request_on_the_session() {
    let server = Server::new(Config::new(Json)).check_request(|req| {
        match req.headers().get("authorization") {
            Some(v) if v == "Bearer good" => Ok(()),
            _ => Err(Rejection::unauthorized("bad token")),
        }
    });
    let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
    let addr = listener.local_addr().expect("addr");

    let refused = within(
        "the refused client",
        connect_with_request(bearer_request(addr, "bad"), Config::new(Json)),
    )
    .await
    .expect_err("a bad token gets no session");
    match refused {
        Error::Refused { status, body } => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(body.as_deref(), Some("bad token"));
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    let (_, attempt) = within("the refused attempt", listener.next_attempt())
        .await
        .expect("listener");
    match attempt {
        Err(Error::Rejected(r)) => assert_eq!(r.status, StatusCode::UNAUTHORIZED),
        other => panic!("expected a rejection on the server, got {other:?}"),
    }

    let client = within(
        "the good client",
        connect_with_request(bearer_request(addr, "good"), Config::new(Json)),
    )
    .await
    .expect("a good token gets a session");
    assert_eq!(
        client.response().map(|r| r.status()),
        Some(StatusCode::SWITCHING_PROTOCOLS)
    );
    let (server, _) = within("accept", listener.accept()).await.expect("accept");
    let request = server.request();
    assert_eq!(request.uri().path(), "/libchan");
    assert_eq!(request.uri().query(), Some("room=7"));
    assert_eq!(request.headers()["authorization"], "Bearer good");
    assert_eq!(request.headers()["cookie"], "session=abc");
    let tx = client.open::<u32>().expect("open");
    tx.send(7).await.expect("send");
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_an_untrusted_certificate_is_a_tls_error() {
    let tls = support::tls();
    let listener = Listener::bind(
        "127.0.0.1:0",
        Server::new(Config::new(Json)).with_tls(tls.server.clone()),
    )
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Trusts some other certificate, not the server's.
    let stranger = support::tls();
    let err = within(
        "the TLS failure",
        stranger.connector.connect(
            &format!("wss://127.0.0.1:{}/", addr.port()),
            Config::new(Json),
        ),
    )
    .await
    .expect_err("an untrusted certificate");
    assert!(matches!(err, Error::Tls(_)), "got {err:?}");
    // The trusting client still gets in, by name or by address.
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("wss://{host}:{}/", addr.port());
        let session = within("wss", tls.connector.connect(&url, Config::new(Json)))
            .await
            .expect("connect");
        within("handshake", session.handshake())
            .await
            .expect("libchan handshake over wss");
    }
}

#[tokio::test]
async fn bad_urls_and_missing_tls_fail_before_connecting() {
    let err = connect("http://127.0.0.1:1/", Config::new(Json))
        .await
        .expect_err("not a WebSocket URL");
    assert!(matches!(err, Error::InvalidRequest(_)), "got {err:?}");
    let err = connect("wss://127.0.0.1:1/", Config::new(Json))
        .await
        .expect_err("no TLS configuration");
    assert!(matches!(err, Error::TlsNotConfigured), "got {err:?}");
    let err = Connector::new()
        .connect("ws:///nohost", Config::new(Json))
        .await
        .expect_err("no host");
    assert!(matches!(err, Error::InvalidRequest(_)), "got {err:?}");
}
