//! The server side: accept the HTTP upgrade on a stream (plain or TLS), or
//! take a connection an HTTP server already upgraded.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libchan_mux::driver::SessionConfig;
use libchan_mux::Role;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, Mutex, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{create_response_with_body, ErrorResponse};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, Request, Response, StatusCode};
use tokio_tungstenite::tungstenite::{self, protocol::Role as WsRole};
use tokio_tungstenite::WebSocketStream;

use crate::io::websocket_config;
use crate::{Error, Rejection, WsSession};

/// A request check: sees the upgrade request, may refuse it.
type Check = dyn Fn(&Request<()>) -> Result<(), Rejection> + Send + Sync;

/// Accepts WebSocket upgrades and starts a libchan session on each: the
/// session configuration, optionally TLS (`wss`), optionally a check of
/// the upgrade request (authentication). Cheap to clone.
///
/// ```
/// use libchan_transport_websocket::{Config, Rejection, Server};
///
/// let server = Server::new(Config::new(libchan_codec_json::Json)).check_request(|req| {
///     if req.uri().path() != "/libchan" {
///         return Err(Rejection::not_found("no libchan endpoint here"));
///     }
///     match req.headers().get("authorization") {
///         Some(v) if v == "Bearer s3cr3t" => Ok(()),
///         _ => Err(Rejection::unauthorized("a bearer token is required")),
///     }
/// });
/// ```
#[derive(Clone)]
pub struct Server {
    config: SessionConfig,
    tls: Option<TlsAcceptor>,
    check: Option<Arc<Check>>,
}

impl Server {
    /// Plain `ws`, every well-formed upgrade accepted.
    pub fn new(config: SessionConfig) -> Self {
        Server {
            config,
            tls: None,
            check: None,
        }
    }

    /// Serves `wss`: a TLS handshake with `config` comes before the
    /// upgrade. Its ALPN list, if any, should offer `http/1.1`.
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(TlsAcceptor::from(config));
        self
    }

    /// Calls `check` with each upgrade request (method, URI with path and
    /// query, headers, cookies) before answering it; an `Err` answers the
    /// client with the rejection's status and reason instead of `101`, and
    /// no session starts ([`Error::Rejected`] on this side). The check runs
    /// on the accepting task and must not block; for checks that need IO
    /// (a token lookup), mount the endpoint in an HTTP server instead
    /// ([`accept_upgraded`]).
    pub fn check_request<F>(mut self, check: F) -> Self
    where
        F: Fn(&Request<()>) -> Result<(), Rejection> + Send + Sync + 'static,
    {
        self.check = Some(Arc::new(check));
        self
    }

    /// The configuration each session gets.
    pub fn session_config(&self) -> &SessionConfig {
        &self.config
    }

    /// Runs the TLS handshake (if configured) and the HTTP upgrade on
    /// `stream`, then starts a libchan session as the acceptor.
    ///
    /// Both handshakes together are bounded by the session's
    /// `limits.handshake_timeout`: a client that sends its request too
    /// slowly is dropped with [`Error::HandshakeTimeout`]. A request that
    /// is not a WebSocket upgrade is dropped unanswered
    /// ([`Error::Handshake`]); one the check refuses is answered with the
    /// rejection ([`Error::Rejected`]).
    pub async fn accept<S>(&self, stream: S) -> Result<WsSession, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limit = self.config.limits.handshake_timeout;
        let handshake = async {
            match &self.tls {
                Some(tls) => {
                    let stream = tls.accept(stream).await.map_err(Error::Tls)?;
                    self.upgrade(stream).await
                }
                None => self.upgrade(stream).await,
            }
        };
        tokio::time::timeout(limit, handshake)
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    async fn upgrade<S>(&self, stream: S) -> Result<WsSession, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut seen: Option<Request<()>> = None;
        let mut refused: Option<Rejection> = None;
        // The signature is tungstenite's: its error is the HTTP answer.
        #[allow(clippy::result_large_err)]
        let callback = |req: &Request<()>, response: Response<()>| {
            seen = Some(req.clone());
            if let Some(check) = &self.check {
                if let Err(rejection) = check(req) {
                    let answer = error_response(&rejection);
                    refused = Some(rejection);
                    return Err(answer);
                }
            }
            Ok(response)
        };
        let result = tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            callback,
            Some(websocket_config(&self.config)),
        )
        .await;
        let ws = match result {
            Ok(ws) => ws,
            Err(tungstenite::Error::Http(_)) if refused.is_some() => {
                return Err(Error::Rejected(refused.expect("checked just above")))
            }
            Err(e) => return Err(Error::Handshake(e)),
        };
        let request = seen.expect("tungstenite calls back before completing an upgrade");
        Ok(WsSession::start(
            ws,
            Role::Acceptor,
            self.config.clone(),
            request,
            None,
        )?)
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// The HTTP answer for a refused upgrade: status, a text body, and
/// `Connection: close` (no session follows).
fn error_response(rejection: &Rejection) -> ErrorResponse {
    let mut response = Response::new(Some(rejection.reason.clone()));
    *response.status_mut() = rejection.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(rejection.reason.len()),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Accepts the upgrade on `stream` with a plain [`Server::new`]: `ws`, no
/// request check. See [`Server::accept`].
pub async fn accept<S>(stream: S, config: SessionConfig) -> Result<WsSession, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Server::new(config).accept(stream).await
}

/// Checks that `request` is a valid WebSocket upgrade and builds the
/// `101 Switching Protocols` answer for it (with `Sec-WebSocket-Accept`),
/// for an HTTP server that performs the upgrade itself (see
/// [`accept_upgraded`]). An invalid request gives a `400 Bad Request`
/// rejection saying what is wrong.
pub fn upgrade_response<B>(request: &Request<B>) -> Result<Response<()>, Rejection> {
    create_response_with_body(request, || ()).map_err(|e| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("not a WebSocket upgrade: {e}"),
        )
    })
}

/// Starts a libchan session as the acceptor over a connection that an HTTP
/// server has already upgraded (it answered the request with
/// [`upgrade_response`]), so a REST API and a libchan endpoint share one
/// port. `request` is the upgrade request (without its body), kept on the
/// session ([`WsSession::request`]).
///
/// With hyper (and so axum): `hyper::upgrade::on(&mut req)` gives an
/// `Upgraded` once the 101 is sent; `hyper_util::rt::TokioIo::new(upgraded)`
/// is the `io` to pass. The HTTP server's own timeouts bound the upgrade.
pub async fn accept_upgraded<IO>(
    io: IO,
    request: Request<()>,
    config: SessionConfig,
) -> Result<WsSession, Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws =
        WebSocketStream::from_raw_socket(io, WsRole::Server, Some(websocket_config(&config))).await;
    Ok(WsSession::start(ws, Role::Acceptor, config, request, None)?)
}

/// Most upgrades a [`Listener`] runs at once: 1024. Each one is a task and
/// a socket for at most the handshake timeout; past this, new connections
/// wait in the kernel's backlog, so a flood of slow clients cannot grow
/// memory without bound.
const MAX_CONCURRENT_HANDSHAKES: usize = 1024;

/// Finished upgrades (sessions or failures) waiting for
/// [`Listener::accept`]: 64. Handshakes that finish while it is full wait,
/// still holding their slot among [`MAX_CONCURRENT_HANDSHAKES`].
const ACCEPT_QUEUE: usize = 64;

/// Pause after a failed `accept(2)` (out of file descriptors, say), which
/// would otherwise fail again at once in a busy loop: 10 ms.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// One finished upgrade attempt (see [`Listener::next_attempt`]).
type Attempt = io::Result<(SocketAddr, Result<WsSession, Error>)>;

/// Listens on a TCP port and accepts WebSocket sessions, running each
/// connection's TLS and HTTP handshakes concurrently in their own task, so
/// one slow or silent client never holds up the others.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    finished: Mutex<mpsc::Receiver<Attempt>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port) and starts
    /// accepting with `server`'s configuration.
    ///
    /// An invalid session configuration fails here, before binding, as an
    /// `io::Error` of kind `InvalidInput` whose inner error is the
    /// [`SessionError::Config`](libchan_core::SessionError::Config).
    pub async fn bind(addr: impl ToSocketAddrs, server: Server) -> io::Result<Self> {
        server
            .config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tcp = TcpListener::bind(addr).await?;
        let local_addr = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let task = tokio::spawn(accept_loop(tcp, server, tx));
        Ok(Listener {
            local_addr,
            finished: Mutex::new(rx),
            task,
        })
    }

    /// Waits for the next connection whose upgrade succeeded. Failed
    /// upgrades (timeouts, rejected requests, TLS failures) are skipped
    /// and logged at debug level; [`next_attempt`](Self::next_attempt)
    /// sees them. An error is a failed `accept(2)` (out of file
    /// descriptors, say); the listener keeps listening. Cancel-safe.
    pub async fn accept(&self) -> io::Result<(WsSession, SocketAddr)> {
        loop {
            let (peer, result) = self.next_attempt().await?;
            match result {
                Ok(session) => return Ok((session, peer)),
                Err(e) => tracing::debug!(%peer, error = %e, "WebSocket upgrade failed"),
            }
        }
    }

    /// Waits for the next finished upgrade attempt, failed or not, with
    /// the peer's address. Cancel-safe.
    pub async fn next_attempt(&self) -> io::Result<(SocketAddr, Result<WsSession, Error>)> {
        let mut finished = self.finished.lock().await;
        match finished.recv().await {
            Some(attempt) => attempt,
            None => Err(io::Error::other("the listener's accept task ended")),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(tcp: TcpListener, server: Server, tx: mpsc::Sender<Attempt>) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match tcp.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let result = server.accept(stream).await;
                    let _ = tx.send(Ok((peer, result))).await;
                    drop(slot);
                });
            }
            Err(e) => {
                if tx.send(Err(e)).await.is_err() {
                    return;
                }
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}
