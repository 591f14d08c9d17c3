//! Faults at the HTTP/2 level, each seen by every handle as a typed error:
//! a stream reset (`RST_STREAM`) breaks the one session it carried while
//! another session on the same connection carries on; a `GOAWAY` with an
//! error breaks every session on the connection; a graceful `GOAWAY` lets
//! running sessions finish and refuses new ones; a dropped connection
//! breaks both sides. Also: a refused session request, on both sides.
//!
//! The misbehaving server is a raw h2 accept loop: it hands some streams
//! to [`Server::serve_h2_request`] (real sessions) and does what the test
//! wants with the others.

mod support;

use std::time::Duration;

use bytes::Bytes;
use libchan_codec_json::Json;
use libchan_conformance::fault::Proxy;
use libchan_core::{ChannelError, Initiator, Receiver, Sender, Session, SessionError, SessionExt};
use libchan_transport_http2::h2::{self, Reason};
use libchan_transport_http2::{
    http, Client, Config, Connector, Error, H2Session, Listener, Rejection, Server,
};
use support::within;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// What the raw server does with a connection.
enum Order {
    /// Reset the n-th stream (0-based) once its session request arrived
    /// and was answered, with this code.
    ResetStream(usize, Reason),
}

type RawConnection = h2::server::Connection<tokio::net::TcpStream, Bytes>;

/// A raw h2 server on loopback. Every stream becomes a real session
/// (through `serve_h2_request`), except what `order` says. Sending on the
/// returned `take` channel hands the connection over (for GOAWAYs); until
/// then the server task drives it.
async fn raw_server(
    order: Option<Order>,
) -> (
    std::net::SocketAddr,
    mpsc::Receiver<H2Session>,
    mpsc::Sender<oneshot::Sender<RawConnection>>,
) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let (sessions_tx, sessions) = mpsc::channel(8);
    let (take_tx, mut take_rx) = mpsc::channel::<oneshot::Sender<RawConnection>>(1);
    tokio::spawn(async move {
        let (sock, _) = tcp.accept().await.expect("accept");
        // The connection window our own server announces (4 MiB); h2's
        // budget for small DATA frames not yet read scales with it, and
        // the client keeps sending on the doomed stream until the reset
        // reaches it.
        let mut conn = h2::server::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .handshake::<_, Bytes>(sock)
            .await
            .expect("h2 handshake");
        let server = Server::new(Config::new(Json));
        let mut index = 0;
        loop {
            tokio::select! {
                next = conn.accept() => {
                    let (request, mut respond) = match next {
                        Some(Ok(r)) => r,
                        Some(Err(e)) => {
                            eprintln!("raw server: the connection failed: {e}");
                            return;
                        }
                        None => return,
                    };
                    match &order {
                        Some(Order::ResetStream(n, reason)) if *n == index => {
                            let reason = *reason;
                            let mut stream = respond
                                .send_response(http::Response::new(()), false)
                                .expect("respond");
                            tokio::spawn(async move {
                                let (_, mut body) = request.into_parts();
                                // Let the client's first bytes arrive, then reset.
                                let _ = body.data().await;
                                stream.send_reset(reason);
                                // Dropping the body releases what h2 buffered
                                // for it: h2 counts small DATA frames nobody
                                // consumed against a connection-wide budget
                                // and ends the connection (ENHANCE_YOUR_CALM)
                                // when they pile up.
                                drop(body);
                            });
                        }
                        _ => {
                            let session = server
                                .serve_h2_request(request, respond)
                                .expect("a session");
                            let _ = sessions_tx.send(session).await;
                        }
                    }
                    index += 1;
                }
                take = take_rx.recv() => {
                    if let Some(reply) = take {
                        let _ = reply.send(conn);
                    }
                    return;
                }
            }
        }
    });
    (addr, sessions, take_tx)
}

/// Takes the raw server's connection over.
async fn take(take: &mpsc::Sender<oneshot::Sender<RawConnection>>) -> RawConnection {
    let (tx, rx) = oneshot::channel();
    take.send(tx).await.expect("the server task is running");
    rx.await.expect("the connection")
}

/// Keeps driving a raw server connection after the test took it over.
fn drive(mut conn: RawConnection) {
    tokio::spawn(async move { while let Some(Ok(_)) = conn.accept().await {} });
}

fn request(path: &str) -> http::Request<()> {
    http::Request::post(path).body(()).expect("request")
}

/// A channel each way on a session pair, checked with one message.
async fn channels(dialer: &H2Session, acceptor: &H2Session) -> (Sender<u32>, Receiver<u32>) {
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    (tx, rx)
}

fn transport_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> &'a Error {
    Error::find(err).unwrap_or_else(|| panic!("no HTTP/2 error behind {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_stream_breaks_its_session_only() {
    let (addr, mut sessions, conn) =
        raw_server(Some(Order::ResetStream(1, Reason::INTERNAL_ERROR))).await;
    let client: Client = Connector::new()
        .client(&format!("http://{addr}"))
        .await
        .expect("client");
    // Session 0 is real; session 1's stream gets reset after its answer.
    let kept = client
        .session(request("/libchan"), Config::new(Json))
        .await
        .expect("first session");
    let kept_peer = within("the first session", sessions.recv())
        .await
        .expect("a session");
    let (tx, mut rx) = channels(&kept, &kept_peer).await;
    let doomed = client
        .session(request("/libchan"), Config::new(Json))
        .await
        .expect("second session");
    // The reset may arrive before the open or during the sends.
    let err: Box<dyn std::error::Error> = match doomed.open::<u32>() {
        Err(e) => Box::new(e),
        Ok(doomed_tx) => Box::new(
            libchan_conformance::first_send_error("a send on the reset stream", &doomed_tx, |i| {
                i as u32
            })
            .await,
        ),
    };
    match transport_error(&*err) {
        Error::StreamReset { reason, initiator } => {
            assert_eq!(*reason, Reason::INTERNAL_ERROR);
            assert_eq!(*initiator, Initiator::Remote);
        }
        other => panic!("expected StreamReset, got {other:?}"),
    }
    let accept = within("accept on the reset session", doomed.accept::<u32>()).await;
    assert!(
        matches!(&accept, Err(e) if matches!(transport_error(e), Error::StreamReset { .. })),
        "accept reports the reset, got {accept:?}"
    );
    // The other session on the same connection carries on.
    let _ = &conn;
    for i in 2..20 {
        tx.send(i).await.expect("send on the kept session");
        assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goaway_with_an_error_breaks_every_session_on_the_connection() {
    let (addr, mut sessions, conn) = raw_server(None).await;
    let client = Connector::new()
        .client(&format!("http://{addr}"))
        .await
        .expect("client");
    let a = client
        .session(request("/a"), Config::new(Json))
        .await
        .expect("a");
    let a_peer = within("a", sessions.recv()).await.expect("a");
    let b = client
        .session(request("/b"), Config::new(Json))
        .await
        .expect("b");
    let b_peer = within("b", sessions.recv()).await.expect("b");
    let (a_tx, mut a_rx) = channels(&a, &a_peer).await;
    let (b_tx, mut b_rx) = channels(&b_peer, &b).await;

    let mut conn = take(&conn).await;
    conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
    drive(conn);

    // The client's handles: the GOAWAY, from the server.
    for got in [
        within("a recv", a_rx.recv()).await,
        within("b recv", b_rx.recv()).await,
    ] {
        let err = got.expect_err("the session broke");
        assert!(err.is_broken(), "{err:?}");
        let _ = &err;
    }
    // h2 closes the connection right behind its GOAWAY: a session sees
    // the GOAWAY, or the connection's close if that came first.
    let err =
        libchan_conformance::first_send_error("a send after GOAWAY", &a_tx, |i| i as u32).await;
    match Error::find(&err) {
        Some(Error::GoAway { reason, initiator }) => {
            assert_eq!(*reason, Reason::ENHANCE_YOUR_CALM);
            assert_eq!(*initiator, Initiator::Remote);
        }
        Some(other) => panic!("expected GoAway at the client, got {other:?}"),
        None => assert!(
            matches!(
                &err,
                ChannelError::SessionLost(SessionError::Io(_) | SessionError::ConnectionLost(_))
            ),
            "expected GoAway or the connection's loss, got {err:?}"
        ),
    }
    let err =
        libchan_conformance::first_send_error("b send after GOAWAY", &b_tx, |i| i as u32).await;
    assert!(
        matches!(err, ChannelError::SessionLost(_)),
        "the server side's channel breaks too, got {err:?}"
    );
    // Every session on the connection reports it, on both sides.
    for session in [&a, &b, &a_peer, &b_peer] {
        let accept = within("accept after GOAWAY", session.accept::<u32>()).await;
        assert!(accept.is_err(), "accept reports the loss, got {accept:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_goaway_lets_running_sessions_finish_and_refuses_new_ones() {
    let (addr, mut sessions, conn) = raw_server(None).await;
    let client = Connector::new()
        .client(&format!("http://{addr}"))
        .await
        .expect("client");
    let a = client
        .session(request("/a"), Config::new(Json))
        .await
        .expect("a");
    let a_peer = within("a", sessions.recv()).await.expect("a");
    let b = client
        .session(request("/b"), Config::new(Json))
        .await
        .expect("b");
    let _b_peer = within("b", sessions.recv()).await.expect("b");
    let (tx, mut rx) = channels(&a, &a_peer).await;

    let mut conn = take(&conn).await;
    conn.graceful_shutdown();
    drive(conn);
    tokio::time::sleep(Duration::from_millis(200)).await;

    for i in 2..10 {
        tx.send(i).await.expect("a running session carries on");
        assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(i));
    }
    let refused = client.session(request("/c"), Config::new(Json)).await;
    assert!(
        refused.is_err(),
        "no new session on a connection that said GOAWAY, got {refused:?}"
    );
    drop(tx);
    assert_eq!(within("the clean end", rx.recv()).await.expect("end"), None);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_breaks_both_sides() {
    let listener = Listener::bind("127.0.0.1:0", Server::new(Config::new(Json)))
        .await
        .expect("bind");
    let relay = Proxy::start(listener.local_addr().expect("addr"))
        .await
        .expect("relay");
    let url = format!("http://{}/libchan", relay.addr());
    let (dialer, accepted) = tokio::join!(
        libchan_transport_http2::connect(&url, Config::new(Json)),
        listener.accept()
    );
    let dialer = dialer.expect("connect");
    let (acceptor, _) = accepted.expect("accept");
    let (tx, mut rx) = channels(&dialer, &acceptor).await;
    let back = acceptor.open::<u32>().expect("open");
    back.send(5).await.expect("send");
    let mut back_rx = within("accept", dialer.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", back_rx.recv()).await.expect("recv"), Some(5));

    relay.sever();

    for got in [
        within("recv at the server", rx.recv()).await,
        within("recv at the client", back_rx.recv()).await,
    ] {
        let err = got.expect_err("lost");
        assert!(
            matches!(
                &err,
                ChannelError::SessionLost(SessionError::Io(_) | SessionError::ConnectionLost(_))
            ),
            "a lost connection, not a clean end: {err:?}"
        );
    }
    let err = libchan_conformance::first_send_error("send after the loss", &tx, |i| i as u32).await;
    assert!(matches!(err, ChannelError::SessionLost(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_typed_on_both_sides() {
    let server = Server::new(Config::new(Json)).check_request(|req| {
        match req.headers().get(http::header::AUTHORIZATION) {
            Some(v) if v == "Bearer s3cr3t" => Ok(()),
            _ => Err(Rejection::unauthorized("a bearer token is required")),
        }
    });
    let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
    let url = format!("http://{}/libchan", listener.local_addr().expect("addr"));
    let (client, attempt) = tokio::join!(
        libchan_transport_http2::connect(&url, Config::new(Json)),
        listener.next_attempt()
    );
    match client {
        Err(Error::Refused { status, body }) => {
            assert_eq!(status, http::StatusCode::UNAUTHORIZED);
            assert_eq!(body.as_deref(), Some("a bearer token is required"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    match attempt.expect("an attempt").1 {
        Err(Error::Rejected(r)) => assert_eq!(r.status, http::StatusCode::UNAUTHORIZED),
        other => panic!("expected Rejected, got {other:?}"),
    }
    // With the token, the same server accepts, and sees the header.
    let request = http::Request::post(&url)
        .header(http::header::AUTHORIZATION, "Bearer s3cr3t")
        .body(())
        .expect("request");
    let (client, accepted) = tokio::join!(
        libchan_transport_http2::connect_with_request(request, Config::new(Json)),
        listener.accept()
    );
    let client = client.expect("accepted with the token");
    let (server_side, _) = accepted.expect("accept");
    assert_eq!(
        server_side.request().headers()[http::header::AUTHORIZATION],
        "Bearer s3cr3t"
    );
    assert_eq!(client.response().expect("a response").status(), 200);
    let _ = channels(&client, &server_side).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_past_its_session_cap_answers_503_until_a_session_ends() {
    let listener = Listener::bind(
        "127.0.0.1:0",
        Server::new(Config::new(Json)).max_sessions(1),
    )
    .await
    .expect("bind");
    let url = format!("http://{}/libchan", listener.local_addr().expect("addr"));
    let (first, accepted) = tokio::join!(
        libchan_transport_http2::connect(&url, Config::new(Json)),
        listener.accept()
    );
    let first = first.expect("the first session");
    let (first_peer, _) = accepted.expect("accept");
    let (second, attempt) = tokio::join!(
        libchan_transport_http2::connect(&url, Config::new(Json)),
        listener.next_attempt()
    );
    match second {
        Err(Error::Refused { status, .. }) => {
            assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE)
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    assert!(matches!(
        attempt.expect("attempt").1,
        Err(Error::Rejected(_))
    ));
    within("the first session's close", first.close())
        .await
        .expect("close");
    drop(first_peer);
    // The slot is free once the first session's stream is finished.
    let third = within("a session once the slot is free", async {
        loop {
            let (third, accepted) = tokio::join!(
                libchan_transport_http2::connect(&url, Config::new(Json)),
                listener.next_attempt()
            );
            if let (Ok(third), Ok((_, Ok(peer)))) = (third, accepted) {
                return (third, peer);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _ = channels(&third.0, &third.1).await;
}
