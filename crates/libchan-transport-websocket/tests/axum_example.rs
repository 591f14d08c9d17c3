//! Runs the axum example for real: one port serves REST and libchan; a
//! good bearer token gets a working session, a bad one a 401 and no
//! session.

#[path = "../examples/axum_endpoint.rs"]
#[allow(dead_code)]
mod example;
mod support;

use std::sync::atomic::Ordering;

use libchan_codec_json::Json;
use libchan_core::{Request as Call, SessionExt};
use libchan_transport_websocket::http::{Request, StatusCode};
use libchan_transport_websocket::{connect_with_request, Config, Error};
use support::within;

fn upgrade(addr: std::net::SocketAddr, token: Option<&str>) -> Request<()> {
    let mut request = Request::builder().uri(format!("ws://{addr}/libchan"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request.body(()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_libchan_share_one_port_behind_a_bearer_token() {
    let app = example::App::new("good-token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    // Plain REST on the same port.
    let health = within("GET /health", example::http_get(addr, "/health"))
        .await
        .expect("GET");
    assert!(health.starts_with("HTTP/1.1 200"), "got {health:?}");
    assert!(health.ends_with("ok"), "got {health:?}");

    // Bad or missing tokens: 401, and no session started.
    for token in [Some("bad-token"), None] {
        let err = within(
            "the refused upgrade",
            connect_with_request(upgrade(addr, token), Config::new(Json)),
        )
        .await
        .expect_err("refused");
        match err {
            Error::Refused { status, .. } => assert_eq!(status, StatusCode::UNAUTHORIZED),
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    assert_eq!(app.sessions.load(Ordering::SeqCst), 0);

    // A good token: a working session.
    let session = within(
        "the upgrade",
        connect_with_request(upgrade(addr, Some("good-token")), Config::new(Json)),
    )
    .await
    .expect("connect");
    let service = session.open::<Call<String, String>>().expect("open");
    let answer = within("a call", service.call("hello".to_string()))
        .await
        .expect("call");
    assert_eq!(answer, "HELLO");
    assert_eq!(app.sessions.load(Ordering::SeqCst), 1);

    // REST still works beside the open session.
    let health = within("GET /health again", example::http_get(addr, "/health"))
        .await
        .expect("GET");
    assert!(health.starts_with("HTTP/1.1 200"), "got {health:?}");
    server.abort();
}
