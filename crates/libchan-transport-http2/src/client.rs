//! The client side: dial `http://` (h2c with prior knowledge) or
//! `https://` (TLS with ALPN `h2`), open HTTP/2 streams that carry
//! sessions.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use libchan_mux::driver::SessionConfig;
use libchan_mux::Role;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::io::{H2Io, RECEIVE_WINDOW};
use crate::{Error, H2Session, ALPN, CONTENT_TYPE};

/// Most bytes of a refusal's body kept in [`Error::Refused`]: 4 KiB, enough
/// for any reason a server or proxy gives.
const MAX_REFUSAL_BODY: usize = 4 << 10;

/// How long [`Connector::client`] waits for the connection and the
/// HTTP/2 handshake: 10 s, the session handshake timeout's default.
const CLIENT_HANDSHAKE_TIMEOUT: Duration = libchan_mux::config::DEFAULT_HANDSHAKE_TIMEOUT;

/// Dials HTTP/2 servers: `http://` URLs as h2c with prior knowledge (no
/// HTTP/1.1 upgrade), `https://` over TLS with ALPN `h2`.
///
/// [`Connector::new`] speaks `http://` only; [`with_tls`](Self::with_tls)
/// or [`with_root_certificates`](Self::with_root_certificates) add
/// `https://` (rustls). Cheap to clone.
#[derive(Clone, Default)]
pub struct Connector {
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Connector {
    /// A connector for `http://` URLs; `https://` fails with
    /// [`Error::TlsNotConfigured`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A connector that uses `config` for `https://` URLs (its roots,
    /// client certificate, protocol versions). Its ALPN list is replaced
    /// by `h2` alone (on a copy): HTTP/2 over TLS is negotiated that way.
    pub fn with_tls(config: Arc<rustls::ClientConfig>) -> Self {
        let mut config = (*config).clone();
        config.alpn_protocols = vec![ALPN.to_vec()];
        Connector {
            tls: Some(Arc::new(config)),
        }
    }

    /// A connector for `https://` servers whose certificate chains to one
    /// of `roots`, with rustls' safe defaults (TLS 1.2 and 1.3, the `ring`
    /// provider) and no client certificate.
    pub fn with_root_certificates(roots: rustls::RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports rustls' default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self::with_tls(Arc::new(config))
    }

    /// Connects to `url` (`http://host:port/path` or `https://...`), sends
    /// the session request (`POST` to the URL's path) and starts a libchan
    /// session as the dialer on its stream.
    ///
    /// Connecting, TLS, the HTTP/2 handshake and the server's answer to the
    /// request together are bounded by `config.limits.handshake_timeout`
    /// ([`Error::HandshakeTimeout`]). Returns once the server answered
    /// `200`; the libchan handshake continues in the background
    /// ([`H2Session::handshake`]). Any other answer (a 401 for a bad token,
    /// a proxy's 503) is [`Error::Refused`].
    ///
    /// The connection is this session's alone and closes when it ends; use
    /// [`client`](Self::client) to carry several sessions on one connection.
    pub async fn connect(&self, url: &str, config: SessionConfig) -> Result<H2Session, Error> {
        let request = Request::post(url)
            .body(())
            .map_err(|e| Error::InvalidRequest(format!("{url:?}: {e}")))?;
        self.connect_with_request(request, config).await
    }

    /// Like [`connect`](Self::connect), with a request of your own: its URI
    /// says where to connect and which path to ask for, and its headers
    /// go with it (`Authorization: Bearer ...`, `Cookie`). The method is
    /// always `POST`; `Content-Type: application/x-libchan` is added when
    /// missing.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), libchan_transport_http2::Error> {
    /// use libchan_transport_http2::{connect_with_request, http::Request, Config};
    /// let request = Request::post("http://127.0.0.1:8080/libchan")
    ///     .header("Authorization", "Bearer s3cr3t")
    ///     .body(())
    ///     .expect("a valid request");
    /// let session = connect_with_request(request, Config::new(libchan_codec_json::Json)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with_request(
        &self,
        request: Request<()>,
        config: SessionConfig,
    ) -> Result<H2Session, Error> {
        let target = Target::of(request.uri(), self.tls.is_some())?;
        let limit = config.limits.handshake_timeout;
        let setup = async {
            let client = self.dial(&target).await?;
            client.start(request, config).await
        };
        tokio::time::timeout(limit, setup)
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    /// Like [`connect_with_request`](Self::connect_with_request) over a
    /// connection you made yourself (a unix socket, a tunnel, a test
    /// harness): TLS if the URI says `https`, then HTTP/2 and the session
    /// request, bounded by the handshake timeout.
    pub async fn connect_over<S>(
        &self,
        stream: S,
        request: Request<()>,
        config: SessionConfig,
    ) -> Result<H2Session, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let target = Target::of(request.uri(), self.tls.is_some())?;
        let limit = config.limits.handshake_timeout;
        let setup = async {
            let client = self.handshake(stream, &target).await?;
            client.start(request, config).await
        };
        tokio::time::timeout(limit, setup)
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    /// Opens an HTTP/2 connection to `url`'s host (the path is not used)
    /// that can carry many sessions, one stream each
    /// ([`Client::session`]). Connecting, TLS and the HTTP/2 handshake are
    /// bounded by 10 s.
    pub async fn client(&self, url: &str) -> Result<Client, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::InvalidRequest(format!("{url:?}: {e}")))?;
        let target = Target::of(&uri, self.tls.is_some())?;
        tokio::time::timeout(CLIENT_HANDSHAKE_TIMEOUT, self.dial(&target))
            .await
            .map_err(|_| Error::HandshakeTimeout(CLIENT_HANDSHAKE_TIMEOUT))?
    }

    async fn dial(&self, target: &Target) -> Result<Client, Error> {
        let addr = format!("{}:{}", target.host, target.port);
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|source| Error::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        self.handshake(stream, target).await
    }

    async fn handshake<S>(&self, stream: S, target: &Target) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if target.scheme != Scheme::HTTPS {
            return Client::handshake(stream, target).await;
        }
        let tls = self.tls.clone().ok_or(Error::TlsNotConfigured)?;
        let name = ServerName::try_from(target.host.clone()).map_err(|e| {
            Error::InvalidRequest(format!(
                "{:?} is not a valid TLS server name: {e}",
                target.host
            ))
        })?;
        let stream = TlsConnector::from(tls)
            .connect(name, stream)
            .await
            .map_err(Error::Tls)?;
        let negotiated = stream.get_ref().1.alpn_protocol();
        if negotiated != Some(ALPN) {
            return Err(Error::AlpnMismatch {
                negotiated: negotiated.map(<[u8]>::to_vec),
            });
        }
        Client::handshake(stream, target).await
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Where a request goes.
struct Target {
    scheme: Scheme,
    authority: Authority,
    host: String,
    port: u16,
}

impl Target {
    fn of(uri: &Uri, tls_configured: bool) -> Result<Target, Error> {
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::HTTP,
            Some("https") => Scheme::HTTPS,
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "{uri}: the URL must start with http:// or https://"
                )))
            }
        };
        if scheme == Scheme::HTTPS && !tls_configured {
            return Err(Error::TlsNotConfigured);
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::InvalidRequest(format!("{uri}: no host")))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::InvalidRequest(format!("{uri}: no host")));
        }
        // `Authority::host` keeps the brackets of an IPv6 literal.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == Scheme::HTTPS { 443 } else { 80 });
        Ok(Target {
            scheme,
            authority,
            host,
            port,
        })
    }
}

/// One HTTP/2 connection to a server, on which every
/// [`session`](Self::session) is a stream of its own. Cheap to clone.
///
/// The connection stays up while a `Client` clone or one of its sessions
/// is alive, and closes (`GOAWAY`) once none is. A reset of one session's
/// stream breaks that session only; the connection failing breaks them all.
#[derive(Clone)]
pub struct Client {
    send: SendRequest<Bytes>,
    scheme: Scheme,
    authority: Authority,
}

impl Client {
    /// The HTTP/2 handshake over an established (and possibly encrypted)
    /// stream; the connection is then driven by a task of its own.
    async fn handshake<S>(stream: S, target: &Target) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(RECEIVE_WINDOW)
            .initial_connection_window_size(RECEIVE_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(stream)
            .await
            .map_err(Error::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTP/2 connection ended");
            }
        });
        Ok(Client {
            send,
            scheme: target.scheme.clone(),
            authority: target.authority.clone(),
        })
    }

    /// Sends a session request on a new stream of this connection and
    /// starts a libchan session as the dialer on it; see
    /// [`Connector::connect_with_request`] for the request and the
    /// answers. The request's URI may be a path alone (`/libchan`); a full
    /// URI's scheme and authority are sent as they are. Bounded by
    /// `config.limits.handshake_timeout`.
    pub async fn session(
        &self,
        request: Request<()>,
        config: SessionConfig,
    ) -> Result<H2Session, Error> {
        let limit = config.limits.handshake_timeout;
        tokio::time::timeout(limit, self.start(request, config))
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    /// [`session`](Self::session) without its own deadline.
    async fn start(&self, request: Request<()>, config: SessionConfig) -> Result<H2Session, Error> {
        let request = self.prepare(request)?;
        let sent = request.clone();
        let mut send = self.send.clone().ready().await.map_err(Error::from_h2)?;
        let (response, stream) = send.send_request(request, false).map_err(Error::from_h2)?;
        let response = response.await.map_err(Error::from_h2)?;
        let (parts, mut body) = response.into_parts();
        if parts.status != StatusCode::OK {
            let text = refusal_body(&mut body).await;
            return Err(Error::Refused {
                status: parts.status,
                body: text,
            });
        }
        let response = Response::from_parts(parts, ());
        let io = H2Io::new(stream, body, config.limits.linger);
        Ok(H2Session::start(
            io,
            Role::Dialer,
            config,
            sent,
            Some(response),
        )?)
    }

    /// Completes the request: `POST`, an absolute URI, the content type.
    fn prepare(&self, request: Request<()>) -> Result<Request<()>, Error> {
        let (mut parts, ()) = request.into_parts();
        parts.method = Method::POST;
        if parts.uri.scheme().is_none() || parts.uri.authority().is_none() {
            let path = parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            parts.uri = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(self.authority.clone())
                .path_and_query(path)
                .build()
                .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        }
        parts
            .headers
            .entry(header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static(CONTENT_TYPE));
        Ok(Request::from_parts(parts, ()))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .finish()
    }
}

/// The start of a refusal's body, for the error.
async fn refusal_body(body: &mut h2::RecvStream) -> Option<String> {
    let mut text = Vec::new();
    while text.len() < MAX_REFUSAL_BODY {
        match body.data().await {
            Some(Ok(chunk)) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                let room = MAX_REFUSAL_BODY - text.len();
                text.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    (!text.is_empty()).then(|| String::from_utf8_lossy(&text).into_owned())
}

/// Connects to an `http://` URL (h2c) with a [`Connector::new`]: see
/// [`Connector::connect`]. For `https://`, build a connector with TLS.
pub async fn connect(url: &str, config: SessionConfig) -> Result<H2Session, Error> {
    Connector::new().connect(url, config).await
}

/// Connects with a request of your own (headers for authentication) with a
/// [`Connector::new`]: see [`Connector::connect_with_request`].
pub async fn connect_with_request(
    request: Request<()>,
    config: SessionConfig,
) -> Result<H2Session, Error> {
    Connector::new().connect_with_request(request, config).await
}
