//! The server side: serve HTTP/2 connections (h2c with prior knowledge, or
//! TLS with ALPN `h2`), where every session request is a session; or take
//! one request that an HTTP server (hyper, axum) routed to us.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use libchan_core::BoxError;
use libchan_mux::driver::SessionConfig;
use libchan_mux::Role;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, Mutex, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::body::{BodyIo, ResponseBody};
use crate::io::{H2Io, MAX_CONCURRENT_STREAMS, RECEIVE_WINDOW};
use crate::{Error, H2Session, Rejection, ALPN, CONTENT_TYPE};

/// A request check: sees the session request, may refuse it.
type Check = dyn Fn(&Request<()>) -> Result<(), Rejection> + Send + Sync;

/// Accepts session requests on HTTP/2 connections: the session
/// configuration, optionally TLS, optionally a check of each request
/// (authentication). Cheap to clone.
///
/// Every `POST` on a connection is a session request, whatever its path,
/// unless the check refuses it; other methods are answered
/// `405 Method Not Allowed`. One connection may carry many sessions (a
/// proxy multiplexes its clients onto few backend connections).
///
/// ```
/// use libchan_transport_http2::{Config, Rejection, Server};
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
    /// One slot per running session, shared by every connection served.
    slots: Arc<Semaphore>,
    max_sessions: usize,
}

/// Default most sessions a [`Server`] (and so a [`Listener`]) runs at
/// once, over all its connections: 1024, as the TCP listener. Each costs
/// at most its session budget (see `docs/RELIABILITY.md`: about 26 MiB with
/// the default limits, almost all of it only while a peer fills its
/// windows); a request beyond it is answered `503 Service Unavailable`.
/// Raise it with [`Server::max_sessions`] for many idle clients.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

impl Server {
    /// h2c (HTTP/2 with prior knowledge, no TLS), every session request
    /// accepted.
    pub fn new(config: SessionConfig) -> Self {
        Server {
            config,
            tls: None,
            check: None,
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_SESSIONS)),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }

    /// Runs at most `max` sessions at once over all the connections this
    /// server (and its clones) serves; a session request beyond it is
    /// answered `503 Service Unavailable` ([`Error::Rejected`] here,
    /// [`Error::Refused`] at the client). A session's slot is free again
    /// once its stream is finished.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(max));
        self.max_sessions = max;
        self
    }

    /// Serves HTTP/2 over TLS: a TLS handshake with `config` comes first,
    /// and the client must agree to `h2` through ALPN
    /// ([`Error::AlpnMismatch`] otherwise). An empty ALPN list is set to
    /// `h2` (on a copy).
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        let config = if config.alpn_protocols.is_empty() {
            let mut copy = (*config).clone();
            copy.alpn_protocols = vec![ALPN.to_vec()];
            Arc::new(copy)
        } else {
            config
        };
        self.tls = Some(TlsAcceptor::from(config));
        self
    }

    /// Calls `check` with each session request (method, URI with path and
    /// query, headers) before answering it; an `Err` answers the client
    /// with the rejection's status and reason instead of `200`, and no
    /// session starts ([`Error::Rejected`] on this side). The check runs on
    /// the connection's task and must not block; for checks that need IO
    /// (a token lookup), mount the endpoint in an HTTP server instead
    /// ([`accept_request`]).
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

    /// Serves one connection: TLS (if configured) and the HTTP/2 handshake,
    /// then every session request on it, in a task of its own. The
    /// returned [`Connection`] yields the sessions (and the refused
    /// requests) as they come.
    ///
    /// TLS, the HTTP/2 handshake and the first request together are
    /// bounded by the session's `limits.handshake_timeout`: a client that
    /// connects and sends nothing is dropped with
    /// [`Error::HandshakeTimeout`].
    pub fn serve_connection<S>(&self, stream: S) -> Connection
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let task = tokio::spawn(self.clone().drive(stream, tx, None));
        Connection { sessions: rx, task }
    }

    /// Runs one connection until it ends, sending each session (or
    /// failure) to `tx`. `slot` is released once the handshakes are done.
    async fn drive<S>(
        self,
        stream: S,
        tx: mpsc::Sender<Result<H2Session, Error>>,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limit = self.config.limits.handshake_timeout;
        let setup = async {
            match &self.tls {
                Some(tls) => {
                    let stream = tls.accept(stream).await.map_err(Error::Tls)?;
                    let negotiated = stream.get_ref().1.alpn_protocol();
                    if negotiated != Some(ALPN) {
                        return Err(Error::AlpnMismatch {
                            negotiated: negotiated.map(<[u8]>::to_vec),
                        });
                    }
                    self.serve_h2(Box::new(stream), &tx).await
                }
                None => self.serve_h2(Box::new(stream), &tx).await,
            }
        };
        let result = tokio::time::timeout(limit, setup).await;
        drop(slot);
        let mut connection = match result {
            Ok(Ok(Some(connection))) => connection,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Err(_) => {
                let _ = tx.send(Err(Error::HandshakeTimeout(limit))).await;
                return;
            }
        };
        while let Some(next) = connection.accept().await {
            match next {
                Ok((request, respond)) => self.dispatch(request, respond, &tx),
                Err(e) => {
                    tracing::debug!(error = %e, "HTTP/2 connection ended");
                    return;
                }
            }
        }
    }

    /// The HTTP/2 handshake and the first request (answered); `None` when
    /// the client closed without asking for anything.
    async fn serve_h2(
        &self,
        stream: Box<dyn IoStream>,
        tx: &mpsc::Sender<Result<H2Session, Error>>,
    ) -> Result<Option<h2::server::Connection<Box<dyn IoStream>, Bytes>>, Error> {
        let mut connection = h2::server::Builder::new()
            .initial_window_size(RECEIVE_WINDOW)
            .initial_connection_window_size(RECEIVE_WINDOW)
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .handshake::<_, Bytes>(stream)
            .await
            .map_err(Error::Handshake)?;
        match connection.accept().await {
            None => Ok(None),
            Some(Err(e)) => Err(Error::Handshake(e)),
            Some(Ok((request, respond))) => {
                self.dispatch(request, respond, tx);
                Ok(Some(connection))
            }
        }
    }

    /// Answers one request and hands the session (or the refusal) on,
    /// without holding up the connection's task.
    fn dispatch(
        &self,
        request: Request<RecvStream>,
        respond: SendResponse<Bytes>,
        tx: &mpsc::Sender<Result<H2Session, Error>>,
    ) {
        let result = self.serve_h2_request(request, respond);
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(result).await;
        });
    }

    /// Answers a request that a raw h2 server loop of your own accepted
    /// (`h2::server::Connection::accept`): runs the check, answers `200`
    /// and starts a session as the acceptor on the stream, or answers the
    /// refusal.
    pub fn serve_h2_request(
        &self,
        request: Request<RecvStream>,
        mut respond: SendResponse<Bytes>,
    ) -> Result<H2Session, Error> {
        let (parts, body) = request.into_parts();
        let head = Request::from_parts(parts, ());
        let admitted = self.admit(&head).and_then(|()| {
            self.slots.clone().try_acquire_owned().map_err(|_| {
                Rejection::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "this server runs at most {} sessions at once",
                        self.max_sessions
                    ),
                )
            })
        });
        let slot = match admitted {
            Ok(slot) => slot,
            Err(rejection) => {
                let response = rejection_head(&rejection);
                if let Ok(mut stream) = respond.send_response(response, false) {
                    let _ = stream.send_data(Bytes::from(rejection.reason.clone()), true);
                }
                return Err(Error::Rejected(rejection));
            }
        };
        let stream = respond
            .send_response(session_response(), false)
            .map_err(Error::from_h2)?;
        let io = H2Io::new(stream, body, self.config.limits.linger);
        Ok(H2Session::start_guarded(
            io,
            Role::Acceptor,
            self.config.clone(),
            head,
            None,
            slot,
        )?)
    }

    /// The method check, then the application's.
    fn admit(&self, head: &Request<()>) -> Result<(), Rejection> {
        if head.method() != Method::POST {
            return Err(Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "a libchan session is opened with POST",
            ));
        }
        match &self.check {
            Some(check) => check(head),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .field("check", &self.check.is_some())
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

/// The streams a server connection may run on (boxed, so plain and TLS
/// connections share one code path).
trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> IoStream for S {}

/// The `200` that accepts a session; its body is the session's bytes.
fn session_response() -> Response<()> {
    let mut response = Response::new(());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    // Nothing in between should keep or transform the stream.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-transform"),
    );
    response
}

/// The head of a refusal's response; the reason follows as its body.
fn rejection_head(rejection: &Rejection) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = rejection.status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The sessions of one served connection (see [`Server::serve_connection`]).
#[derive(Debug)]
pub struct Connection {
    sessions: mpsc::Receiver<Result<H2Session, Error>>,
    task: JoinHandle<()>,
}

impl Connection {
    /// Waits for the next session request on the connection: a session, or
    /// the error that refused it (a rejected request, a failed handshake).
    /// `None` once the connection has ended. Cancel-safe.
    pub async fn accept(&mut self) -> Option<Result<H2Session, Error>> {
        self.sessions.recv().await
    }
}

impl Drop for Connection {
    /// Stops serving the connection; sessions already handed out carry on.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `stream` as h2c with [`Server::new`] and returns its first
/// session (see [`Server::serve_connection`]); later requests on the
/// connection are answered, and their sessions dropped.
pub async fn accept<S>(stream: S, config: SessionConfig) -> Result<H2Session, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut connection = Server::new(config).serve_connection(stream);
    let first = connection.accept().await.unwrap_or_else(|| {
        Err(Error::Session(libchan_core::SessionError::ConnectionLost(
            libchan_core::ConnectionLoss::Closed,
        )))
    });
    // Keep serving the connection the session runs on.
    tokio::spawn(async move { while connection.accept().await.is_some() {} });
    first
}

/// Takes a request that an HTTP server (hyper, axum, anything speaking
/// `http` and `http-body`) routed to a libchan endpoint, and starts a
/// session as the acceptor on it: the request body is what the peer sends,
/// the returned response (`200`, its body a [`ResponseBody`]) carries what
/// this side sends. Return the response from the handler at once; the
/// session runs as long as the stream does.
///
/// Check the request (headers, path, a token) before calling this; answer
/// a refusal with [`Rejection::response`]. A request whose method is not
/// `POST` is refused here with `405`. Needs HTTP/2 between the server and
/// the client (or the last proxy): an HTTP/1.1 server answers only after
/// the request body ended, which never happens for a session.
///
/// ```
/// use libchan_transport_http2::{accept_request, Config, Rejection, ResponseBody};
/// use libchan_core::SessionExt;
///
/// // In a hyper `service_fn`, or an axum handler taking `Request<Body>`:
/// async fn handle<B>(req: http::Request<B>) -> http::Response<ResponseBody>
/// where
///     B: http_body::Body + Send + 'static,
///     B::Data: Send,
///     B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
/// {
///     if req.headers().get("authorization").is_none_or(|v| v != "Bearer s3cr3t") {
///         return Rejection::unauthorized("a bearer token is required").response();
///     }
///     match accept_request(req, Config::new(libchan_codec_json::Json)) {
///         Ok((session, response)) => {
///             tokio::spawn(async move {
///                 while let Ok(Some(mut rx)) = session.accept::<String>().await {
///                     tokio::spawn(async move { while let Ok(Some(_)) = rx.recv().await {} });
///                 }
///             });
///             response
///         }
///         Err(rejection) => rejection.response(),
///     }
/// }
/// ```
#[allow(clippy::result_large_err)]
pub fn accept_request<B>(
    request: Request<B>,
    config: SessionConfig,
) -> Result<(H2Session, Response<ResponseBody>), Rejection>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let head = Request::from_parts(parts, ());
    if head.method() != Method::POST {
        return Err(Rejection::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "a libchan session is opened with POST",
        ));
    }
    let (response_body, pipe) = ResponseBody::session();
    let linger = config.limits.linger;
    let io = BodyIo::new(body, pipe, linger);
    let session = H2Session::start(io, Role::Acceptor, config, head, None).map_err(|e| {
        Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the libchan endpoint is misconfigured: {e}"),
        )
    })?;
    let (parts, ()) = session_response().into_parts();
    Ok((session, Response::from_parts(parts, response_body)))
}

/// Most TLS and HTTP/2 handshakes a [`Listener`] runs at once: 1024. Each
/// is a task and a socket for at most the handshake timeout; past this,
/// new connections wait in the kernel's backlog, so a flood of slow
/// clients cannot grow memory without bound.
const MAX_CONCURRENT_HANDSHAKES: usize = 1024;

/// Finished session requests waiting for [`Listener::accept`]: 64. More
/// wait in their connection's dispatch tasks.
const ACCEPT_QUEUE: usize = 64;

/// Pause after a failed `accept(2)` (out of file descriptors, say), which
/// would otherwise fail again at once in a busy loop: 10 ms.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// One finished session request (see [`Listener::next_attempt`]).
type Attempt = io::Result<(SocketAddr, Result<H2Session, Error>)>;

/// Listens on a TCP port and serves every connection with a [`Server`],
/// each in its own task, so one slow or silent client never holds up the
/// others. Every session request on any connection comes out of
/// [`accept`](Self::accept).
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    finished: Mutex<mpsc::Receiver<Attempt>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port) and starts
    /// serving with `server`'s configuration.
    pub async fn bind(addr: impl ToSocketAddrs, server: Server) -> io::Result<Self> {
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

    /// Waits for the next session. Failed attempts (timeouts, rejected
    /// requests, TLS failures) are skipped and logged at debug level;
    /// [`next_attempt`](Self::next_attempt) sees them. The address is the
    /// TCP peer's: a proxy's, behind one (its `X-Forwarded-For` header, if
    /// it adds one, is in [`H2Session::request`]). An error is a failed
    /// `accept(2)`; the listener keeps listening. Cancel-safe.
    pub async fn accept(&self) -> io::Result<(H2Session, SocketAddr)> {
        loop {
            let (peer, result) = self.next_attempt().await?;
            match result {
                Ok(session) => return Ok((session, peer)),
                Err(e) => tracing::debug!(%peer, error = %e, "HTTP/2 session request failed"),
            }
        }
    }

    /// Waits for the next finished session request, failed or not, with
    /// the peer's address. Cancel-safe.
    pub async fn next_attempt(&self) -> io::Result<(SocketAddr, Result<H2Session, Error>)> {
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
                let (conn_tx, mut conn_rx) = mpsc::channel(ACCEPT_QUEUE);
                tokio::spawn(server.clone().drive(stream, conn_tx, Some(slot)));
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(result) = conn_rx.recv().await {
                        if tx.send(Ok((peer, result))).await.is_err() {
                            return;
                        }
                    }
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
