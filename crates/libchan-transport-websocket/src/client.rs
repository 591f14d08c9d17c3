//! The client side: dial `ws://` or `wss://`, upgrade, run libchan.

use std::fmt;
use std::sync::Arc;

use libchan_mux::driver::SessionConfig;
use libchan_mux::Role;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{Request, Response};
use tokio_tungstenite::tungstenite::{self};

use crate::io::websocket_config;
use crate::{Error, WsSession};

/// Dials WebSocket servers, with or without TLS.
///
/// [`Connector::new`] speaks `ws://` only; [`with_tls`](Self::with_tls)
/// or [`with_root_certificates`](Self::with_root_certificates) add
/// `wss://` (rustls). Cheap to clone.
#[derive(Clone, Default)]
pub struct Connector {
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Connector {
    /// A connector for `ws://` URLs; `wss://` fails with
    /// [`Error::TlsNotConfigured`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A connector that uses `config` for `wss://` URLs (its roots, client
    /// certificate, protocol versions). Its ALPN list, if any, must allow
    /// `http/1.1`: the upgrade is an HTTP/1.1 request.
    pub fn with_tls(config: Arc<rustls::ClientConfig>) -> Self {
        Connector { tls: Some(config) }
    }

    /// A connector for `wss://` servers whose certificate chains to one of
    /// `roots`, with rustls' safe defaults (TLS 1.2 and 1.3, the `ring`
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

    /// Connects to `url` (`ws://host:port/path` or `wss://...`), upgrades
    /// to WebSocket and starts a libchan session as the dialer.
    ///
    /// Connecting, the TLS handshake and the HTTP upgrade together are
    /// bounded by `config.limits.handshake_timeout`
    /// ([`Error::HandshakeTimeout`]). Returns once the upgrade is done; the
    /// libchan handshake continues in the background
    /// ([`WsSession::handshake`]). A server that answers with another status
    /// than 101 (a 401 for a bad token) is [`Error::Refused`].
    pub async fn connect(&self, url: &str, config: SessionConfig) -> Result<WsSession, Error> {
        let request = url
            .into_client_request()
            .map_err(|e| Error::InvalidRequest(format!("{url:?}: {e}")))?;
        self.connect_with_request(request, config).await
    }

    /// Like [`connect`](Self::connect), with a request of your own: its URI
    /// says where to connect, and its headers go with the upgrade
    /// (`Authorization: Bearer ...`, `Cookie`, `Origin`,
    /// `Sec-WebSocket-Protocol`). The WebSocket headers (`Host`, `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`) are added
    /// when missing.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), libchan_transport_websocket::Error> {
    /// use libchan_transport_websocket::{connect_with_request, http::Request, Config};
    /// let request = Request::builder()
    ///     .uri("ws://127.0.0.1:8080/libchan")
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
    ) -> Result<WsSession, Error> {
        let (request, target) = self.prepare(request)?;
        config.validate()?;
        let limit = config.limits.handshake_timeout;
        let addr = format!("{}:{}", target.host, target.port);
        let dial = async {
            let stream = TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|source| Error::Connect {
                    addr: addr.clone(),
                    source,
                })?;
            let _ = stream.set_nodelay(true);
            self.handshake(stream, request, &target, config).await
        };
        tokio::time::timeout(limit, dial)
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    /// Like [`connect_with_request`](Self::connect_with_request) over a
    /// connection you made yourself (through a SOCKS or HTTP proxy tunnel,
    /// a unix socket, a test harness): TLS if the URI says `wss`, then the
    /// upgrade, bounded by the handshake timeout.
    pub async fn connect_over<S>(
        &self,
        stream: S,
        request: Request<()>,
        config: SessionConfig,
    ) -> Result<WsSession, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (request, target) = self.prepare(request)?;
        config.validate()?;
        let limit = config.limits.handshake_timeout;
        tokio::time::timeout(limit, self.handshake(stream, request, &target, config))
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    /// Checks the URI and completes the request's WebSocket headers.
    fn prepare(&self, request: Request<()>) -> Result<(Request<()>, Target), Error> {
        let uri = request.uri();
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "{uri}: the URL must start with ws:// or wss://"
                )))
            }
        };
        if tls && self.tls.is_none() {
            return Err(Error::TlsNotConfigured);
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::InvalidRequest(format!("{uri}: no host")))?;
        // `Uri::host` keeps the brackets of an IPv6 literal.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let mut full = uri
            .clone()
            .into_client_request()
            .map_err(|e| Error::InvalidRequest(format!("{uri}: {e}")))?;
        let (parts, ()) = request.into_parts();
        for name in parts.headers.keys() {
            full.headers_mut().remove(name);
        }
        for (name, value) in &parts.headers {
            full.headers_mut().append(name, value.clone());
        }
        *full.extensions_mut() = parts.extensions;
        Ok((full, Target { tls, host, port }))
    }

    async fn handshake<S>(
        &self,
        stream: S,
        request: Request<()>,
        target: &Target,
        config: SessionConfig,
    ) -> Result<WsSession, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if !target.tls {
            return upgrade(stream, request, config).await;
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
        upgrade(stream, request, config).await
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
    tls: bool,
    host: String,
    port: u16,
}

/// The HTTP upgrade over an established (and possibly encrypted) stream.
async fn upgrade<S>(
    stream: S,
    request: Request<()>,
    config: SessionConfig,
) -> Result<WsSession, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let sent = request.clone();
    let (ws, response) = tokio_tungstenite::client_async_with_config(
        request,
        stream,
        Some(websocket_config(&config)),
    )
    .await
    .map_err(|e| match e {
        tungstenite::Error::Http(response) => Error::Refused {
            status: response.status(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        },
        other => Error::Handshake(other),
    })?;
    let (parts, _) = response.into_parts();
    Ok(WsSession::start(
        ws,
        Role::Dialer,
        config,
        sent,
        Some(Response::from_parts(parts, ())),
    )?)
}

/// Connects to a `ws://` URL with a [`Connector::new`]: see
/// [`Connector::connect`]. For `wss://`, build a connector with TLS.
pub async fn connect(url: &str, config: SessionConfig) -> Result<WsSession, Error> {
    Connector::new().connect(url, config).await
}

/// Connects with a request of your own (headers for authentication) with a
/// [`Connector::new`]: see [`Connector::connect_with_request`].
pub async fn connect_with_request(
    request: Request<()>,
    config: SessionConfig,
) -> Result<WsSession, Error> {
    Connector::new().connect_with_request(request, config).await
}
