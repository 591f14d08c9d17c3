//! A REST API and a libchan endpoint on one port, inside axum.
//!
//! `GET /health` is plain REST. `GET /libchan` is a WebSocket upgrade,
//! allowed only with `Authorization: Bearer <token>` (anything else gets a
//! 401 and no session); each session serves a request/response channel
//! that upper-cases strings.
//!
//! axum's own `WebSocket` hides tungstenite, so the handler goes through
//! hyper's upgrade instead: it answers with
//! `libchan_transport_websocket::upgrade_response`, and once hyper has sent
//! the 101 the upgraded connection (`hyper_util::rt::TokioIo<Upgraded>`)
//! goes to `accept_upgraded`.
//!
//! ```text
//! cargo run -p libchan-transport-websocket --example axum_endpoint
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use libchan_codec_json::Json;
use libchan_core::{Request as Call, SessionExt};
use libchan_transport_websocket::{accept_upgraded, upgrade_response, Config, WsSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    /// The bearer token a client must present.
    token: Arc<str>,
    /// The libchan session configuration.
    config: Config,
    /// libchan sessions started so far.
    pub sessions: Arc<AtomicUsize>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("App")
            .field("config", &self.config)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app that accepts `token`.
    pub fn new(token: &str) -> Self {
        App {
            token: token.into(),
            config: Config::new(Json),
            sessions: Arc::default(),
        }
    }

    /// The routes: REST and libchan side by side.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/libchan", get(libchan_endpoint))
            .with_state(self.clone())
    }
}

/// The upgrade route: authenticate with plain HTTP, then hand the upgraded
/// connection to libchan.
async fn libchan_endpoint(State(app): State<App>, mut req: Request) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(&*app.token) {
        return (StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response();
    }
    let switching = match upgrade_response(&req) {
        Ok(response) => response,
        Err(rejection) => return (rejection.status, rejection.reason).into_response(),
    };
    // The request's head stays readable on the session (who is this?).
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return eprintln!("upgrade failed: {e}"),
        };
        match accept_upgraded(TokioIo::new(upgraded), head, app.config.clone()).await {
            Ok(session) => {
                app.sessions.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = serve(session).await {
                    eprintln!("session ended: {e}");
                }
            }
            Err(e) => eprintln!("no session: {e}"),
        }
    });
    switching.map(|()| Body::empty())
}

/// One session: answer every call on every channel the client opens.
async fn serve(session: WsSession) -> Result<(), libchan_core::BoxError> {
    while let Some(mut calls) = session.accept::<Call<String, String>>().await? {
        tokio::spawn(async move {
            while let Ok(Some(call)) = calls.recv().await {
                let answer = call.body.to_uppercase();
                let _ = call.respond(answer).await;
            }
        });
    }
    Ok(())
}

/// A plain HTTP/1.1 GET, enough to show the REST side on the same port.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    sock.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    sock.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::main]
async fn main() -> Result<(), libchan_core::BoxError> {
    let app = App::new("s3cr3t");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving http://{addr}/health and ws://{addr}/libchan");
    let router = app.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let health = http_get(addr, "/health").await?;
    println!("GET /health -> {}", health.lines().next().unwrap_or(""));

    let request = libchan_transport_websocket::http::Request::builder()
        .uri(format!("ws://{addr}/libchan"))
        .header("Authorization", "Bearer s3cr3t")
        .body(())?;
    let session =
        libchan_transport_websocket::connect_with_request(request, Config::new(Json)).await?;
    let service = session.open::<Call<String, String>>()?;
    for word in ["hello", "from", "libchan"] {
        println!("{word} -> {}", service.call(word.to_string()).await?);
    }

    let bad =
        libchan_transport_websocket::connect(&format!("ws://{addr}/libchan"), Config::new(Json))
            .await;
    match bad {
        Err(e) => println!("without a token: {e}"),
        Ok(_) => println!("without a token: unexpectedly accepted"),
    }
    Ok(())
}
