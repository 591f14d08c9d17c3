//! The conformance suite with the server side mounted in a hyper HTTP/2
//! server through `accept_request`, beside an ordinary route, through a
//! TCP relay that `sever` cuts; and the ordinary route still answering.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_http2::{
    accept_request, http, Config, Connector, H2Session, Rejection, ResponseBody,
};
use tokio::sync::mpsc;

type Body = Either<ResponseBody, Full<Bytes>>;

/// An h2c hyper server on loopback: `GET /health` is an ordinary route,
/// `POST /libchan` a libchan endpoint whose sessions go to the returned
/// queue.
async fn hyper_server(
    config: Config,
) -> (
    std::net::SocketAddr,
    mpsc::Receiver<H2Session>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (tx, config) = (tx.clone(), config.clone());
            let route = move |req: http::Request<hyper::body::Incoming>| {
                let (tx, config) = (tx.clone(), config.clone());
                async move {
                    let response: http::Response<Body> = match req.uri().path() {
                        "/health" => http::Response::new(Either::Right(Full::from("ok"))),
                        "/libchan" => match accept_request(req, config) {
                            Ok((session, response)) => {
                                let _ = tx.send(session).await;
                                response.map(Either::Left)
                            }
                            Err(rejection) => rejection.response().map(Either::Left),
                        },
                        _ => Rejection::not_found("no such route")
                            .response()
                            .map(Either::Left),
                    };
                    Ok::<_, Infallible>(response)
                }
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(route))
                    .await;
            });
        }
    });
    (addr, rx, task)
}

struct Mounted {
    codec: Arc<dyn Codec>,
    running: Mutex<Vec<(Proxy, tokio::task::JoinHandle<()>)>>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        for (_, task) in self.running.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

#[async_trait]
impl Harness for Mounted {
    type Session = H2Session;

    async fn pair(&self) -> (H2Session, H2Session) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let (addr, mut sessions, task) = hyper_server(config.clone()).await;
        let relay = Proxy::start(addr).await.expect("relay");
        let url = format!("http://{}/libchan", relay.addr());
        let dialer = Connector::new()
            .connect(&url, config)
            .await
            .expect("connect");
        let acceptor = support::within("the mounted session", sessions.recv())
            .await
            .expect("a session");
        self.running.lock().expect("lock").push((relay, task));
        (dialer, acceptor)
    }

    async fn sever(&self, _dialer: &H2Session, _acceptor: &H2Session) {
        for (relay, _) in self.running.lock().expect("lock").iter() {
            relay.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn mounted(codec: impl Codec) -> Mounted {
    Mounted {
        codec: Arc::new(codec),
        running: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(hyper_json, mounted(Json));
libchan_conformance::transport_suite!(hyper_msgpack, mounted(Msgpack));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_routes_answer_beside_the_endpoint() {
    let (addr, _sessions, task) = hyper_server(Config::new(Json)).await;
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut client, connection) = libchan_transport_http2::h2::client::handshake(stream)
        .await
        .expect("h2");
    tokio::spawn(connection);
    for (path, status, text) in [("/health", 200, "ok"), ("/elsewhere", 404, "no such route")] {
        let request = http::Request::get(format!("http://{addr}{path}"))
            .body(())
            .expect("request");
        let (response, _) = client.send_request(request, true).expect("send");
        let response = support::within("a response", response)
            .await
            .expect("response");
        assert_eq!(response.status(), status);
        let mut body = response.into_body();
        let mut got = Vec::new();
        while let Some(chunk) = body.data().await {
            got.extend_from_slice(&chunk.expect("body"));
        }
        assert_eq!(String::from_utf8_lossy(&got), text);
    }
    task.abort();
}
