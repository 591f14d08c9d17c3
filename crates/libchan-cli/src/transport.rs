//! Transports by name: what `--transport` selects, how each dials and
//! listens, and loopback pairs for running both ends in one process.
//!
//! Every transport is one [`Transport`] implementation; [`TransportKind::get`]
//! is the one `match` that maps a name to it. A new transport is a
//! variant, an implementation and an arm there.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use libchan::{BoxError, Session};

/// The session configuration every transport takes (codecs offered and
/// limits); the same type for every transport.
pub type Config = libchan::tcp::Config;

/// A transport, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum TransportKind {
    /// Both ends in one process; nothing is encoded (demo and bench only).
    Inmem,
    /// Plain TCP.
    Tcp,
    /// TLS over TCP (rustls), server certificate always, client
    /// certificate optional.
    Tls,
    /// WebSocket (`ws://`, or `wss://` with TLS options).
    Ws,
    /// A unix stream socket: a filesystem path, or `@NAME` for a Linux
    /// abstract name.
    Unix,
    /// One HTTP/2 stream per session: h2c (`http://`), or h2 over TLS
    /// (`https://`) with TLS options; passes HTTP/2 proxies.
    H2,
}

impl TransportKind {
    /// Every transport, in the order tables list them.
    pub const ALL: [TransportKind; 6] = [
        TransportKind::Inmem,
        TransportKind::Tcp,
        TransportKind::Unix,
        TransportKind::Tls,
        TransportKind::Ws,
        TransportKind::H2,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Inmem => "inmem",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Unix => "unix",
            TransportKind::H2 => "h2",
        }
    }

    /// The implementation behind the name: the one place a transport is
    /// added.
    pub fn get(self) -> &'static dyn Transport {
        match self {
            TransportKind::Inmem => &Inmem,
            TransportKind::Tcp => &Tcp,
            TransportKind::Tls => &Tls,
            TransportKind::Ws => &Ws,
            TransportKind::Unix => &Unix,
            TransportKind::H2 => &H2,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a listener listens, or where a session came from: a network
/// address, or a unix socket (its path, or what is known of the peer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address (tcp, tls, ws, h2).
    Net(SocketAddr),
    /// A unix socket: the listener's path (or `@name`), or the peer's
    /// credentials.
    Unix(String),
}

impl Endpoint {
    /// True when only this machine can reach it: a loopback address, or
    /// any unix socket.
    pub fn is_local(&self) -> bool {
        match self {
            Endpoint::Net(addr) => addr.ip().is_loopback(),
            Endpoint::Unix(_) => true,
        }
    }

    /// The TCP port, for network endpoints.
    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Net(addr) => Some(addr.port()),
            Endpoint::Unix(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Net(addr) => addr.fmt(f),
            Endpoint::Unix(what) => f.write_str(what),
        }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::Net(addr)
    }
}

/// Certificates and keys, as PEM text. The same options serve both roles:
/// a server presents `cert`/`key` and, with `ca`, requires client
/// certificates signed by it; a client checks the server against `ca`
/// (the name `server_name`, else the host it dials) and presents
/// `cert`/`key` if given (mutual TLS).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// This side's certificate chain.
    pub cert: Option<String>,
    /// This side's private key.
    pub key: Option<String>,
    /// The CA certificate(s) the peer's certificate must chain to.
    pub ca: Option<String>,
    /// The name the server's certificate must carry (clients only).
    pub server_name: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.is_some())
            .field("ca", &self.ca.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsOptions {
    /// Reads the PEM files named on the command line.
    pub fn from_files(
        cert: Option<&std::path::Path>,
        key: Option<&std::path::Path>,
        ca: Option<&std::path::Path>,
        server_name: Option<String>,
    ) -> Result<Self, BoxError> {
        let read = |p: Option<&std::path::Path>| -> Result<Option<String>, BoxError> {
            p.map(|p| {
                std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            })
            .transpose()
            .map_err(Into::into)
        };
        Ok(TlsOptions {
            cert: read(cert)?,
            key: read(key)?,
            ca: read(ca)?,
            server_name,
        })
    }

    fn server(&self) -> Result<libchan::tls::ServerTls, BoxError> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err("a TLS server needs --cert and --key".into());
        };
        let mut b = libchan::tls::ServerTls::builder().identity_pem(cert, key);
        if let Some(ca) = &self.ca {
            b = b.client_ca_pem(ca);
        }
        Ok(b.build()?)
    }

    fn client(&self) -> Result<libchan::tls::ClientTls, BoxError> {
        let Some(ca) = &self.ca else {
            return Err("a TLS client needs --ca, the certificate that signed the server's".into());
        };
        let mut b = libchan::tls::ClientTls::builder().ca_pem(ca);
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => b = b.identity_pem(cert, key),
            (None, None) => {}
            _ => return Err("a client certificate needs both --cert and --key".into()),
        }
        Ok(b.build()?)
    }

    /// True when this side is configured for TLS at all.
    fn any(&self) -> bool {
        self.cert.is_some() || self.ca.is_some()
    }
}

/// Where and how to dial: enough to make a new session whenever one is
/// needed (a forwarder redials after its session is lost).
#[derive(Clone, Debug)]
pub struct Dialer {
    /// The transport.
    pub kind: TransportKind,
    /// `HOST:PORT`; a `ws://`/`wss://` URL for ws, an `http://`/`https://`
    /// URL for h2, a path or `@NAME` for unix.
    pub addr: String,
    /// Certificates, for tls and wss.
    pub tls: TlsOptions,
    /// Codecs and limits.
    pub config: Config,
}

impl Dialer {
    /// Dials and waits for the libchan handshake, so that a wrong address
    /// or a peer that is not libchan is an error here.
    pub async fn connect(&self) -> Result<Arc<dyn Session>, BoxError> {
        self.kind
            .get()
            .connect(&self.addr, &self.tls, self.config.clone())
            .await
            .map_err(|e| format!("cannot connect to {} over {}: {e}", self.addr, self.kind).into())
    }
}

/// Accepts sessions.
#[async_trait]
pub trait Listen: Send + Sync {
    /// The next session. An error concerns one connection (a failed TLS
    /// handshake, say) unless it repeats: log it and call again.
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError>;

    /// The bound address (useful after binding port 0).
    fn local_addr(&self) -> Endpoint;
}

/// One transport: how it dials and how it listens.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Dials `addr` and returns the session once the handshake is done.
    async fn connect(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError>;

    /// Binds `addr` and returns a listener.
    async fn bind(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError>;
}

struct Inmem;

#[async_trait]
impl Transport for Inmem {
    async fn connect(
        &self,
        _: &str,
        _: &TlsOptions,
        _: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        Err(INMEM_ONLY.into())
    }

    async fn bind(&self, _: &str, _: &TlsOptions, _: Config) -> Result<Box<dyn Listen>, BoxError> {
        Err(INMEM_ONLY.into())
    }
}

/// Why `inmem` cannot dial or listen.
pub const INMEM_ONLY: &str =
    "the inmem transport only connects two ends inside one process (demo, bench)";

struct Tcp;

#[async_trait]
impl Transport for Tcp {
    async fn connect(
        &self,
        addr: &str,
        _: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        let session = libchan::tcp::connect(addr, config).await?;
        session.handshake().await?;
        Ok(Arc::new(session))
    }

    async fn bind(
        &self,
        addr: &str,
        _: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError> {
        let l = libchan::tcp::Listener::bind(addr, config)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = l.local_addr()?;
        Ok(Box::new(TcpListen(l, local)))
    }
}

struct TcpListen(libchan::tcp::Listener, SocketAddr);

#[async_trait]
impl Listen for TcpListen {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let (s, peer) = self.0.accept().await?;
        Ok((Arc::new(s), peer.into()))
    }

    fn local_addr(&self) -> Endpoint {
        self.1.into()
    }
}

struct Tls;

/// The host part of `HOST:PORT` (`[v6]:port` too), the name a TLS client
/// checks by default.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[async_trait]
impl Transport for Tls {
    async fn connect(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        let client = tls.client()?;
        let name = tls.server_name.as_deref().unwrap_or_else(|| host_of(addr));
        let session = libchan::tls::connect(addr, name, &client, config).await?;
        Ok(Arc::new(session))
    }

    async fn bind(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError> {
        let server = tls.server()?;
        let l = libchan::tls::Listener::bind(addr, server, config)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = l.local_addr()?;
        Ok(Box::new(TlsListen(l, local)))
    }
}

struct TlsListen(libchan::tls::Listener, SocketAddr);

#[async_trait]
impl Listen for TlsListen {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let (s, peer) = self.0.accept().await?;
        Ok((Arc::new(s), peer.into()))
    }

    fn local_addr(&self) -> Endpoint {
        self.1.into()
    }
}

struct Ws;

/// The path a `ws` or `h2` server answers on, and a client dials when
/// given only `HOST:PORT`.
pub const SESSION_PATH: &str = "/libchan";

/// A rustls configuration made by the TLS transport's builders, with its
/// ALPN list emptied: the WebSocket upgrade is HTTP/1.1, not `libchan/1`.
fn without_alpn<T: Clone>(config: &Arc<T>, alpn: impl FnOnce(&mut T)) -> Arc<T> {
    let mut c = (**config).clone();
    alpn(&mut c);
    Arc::new(c)
}

#[async_trait]
impl Transport for Ws {
    async fn connect(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        let url = if addr.starts_with("ws://") || addr.starts_with("wss://") {
            addr.to_string()
        } else if tls.any() {
            format!("wss://{addr}{SESSION_PATH}")
        } else {
            format!("ws://{addr}{SESSION_PATH}")
        };
        let connector = if url.starts_with("wss://") {
            let client = tls.client()?;
            libchan::websocket::Connector::with_tls(without_alpn(client.config(), |c| {
                c.alpn_protocols.clear()
            }))
        } else {
            libchan::websocket::Connector::new()
        };
        let session = connector.connect(&url, config).await?;
        session.handshake().await?;
        Ok(Arc::new(session))
    }

    async fn bind(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError> {
        let mut server = libchan::websocket::Server::new(config);
        if tls.any() {
            let s = tls.server()?;
            server = server.with_tls(without_alpn(s.config(), |c| c.alpn_protocols.clear()));
        }
        let l = libchan::websocket::Listener::bind(addr, server)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = l.local_addr()?;
        Ok(Box::new(WsListen(l, local)))
    }
}

struct WsListen(libchan::websocket::Listener, SocketAddr);

#[async_trait]
impl Listen for WsListen {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let (s, peer) = self.0.accept().await?;
        Ok((Arc::new(s), peer.into()))
    }

    fn local_addr(&self) -> Endpoint {
        self.1.into()
    }
}

struct Unix;

#[async_trait]
impl Transport for Unix {
    async fn connect(
        &self,
        addr: &str,
        _: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        let session = match addr.strip_prefix('@') {
            Some(name) => libchan::unix::connect_abstract(name, config).await?,
            None => libchan::unix::connect(addr, config).await?,
        };
        session.handshake().await?;
        Ok(Arc::new(session))
    }

    async fn bind(
        &self,
        addr: &str,
        _: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError> {
        let l = match addr.strip_prefix('@') {
            Some(name) => libchan::unix::Listener::bind_abstract(name, config),
            None => libchan::unix::Listener::bind(addr, config),
        }
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(Box::new(UnixListen(l, addr.to_string())))
    }
}

/// A unix listener and the path (or `@name`) it was bound to.
struct UnixListen(libchan::unix::Listener, String);

#[async_trait]
impl Listen for UnixListen {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let s = self.0.accept().await?;
        let peer = match s.peer_credentials() {
            Some(c) => match c.pid {
                Some(pid) => format!("pid {pid} (uid {}, gid {})", c.uid, c.gid),
                None => format!("uid {}, gid {}", c.uid, c.gid),
            },
            None => "a unix peer".to_string(),
        };
        Ok((Arc::new(s), Endpoint::Unix(peer)))
    }

    fn local_addr(&self) -> Endpoint {
        Endpoint::Unix(self.1.clone())
    }
}

struct H2;

#[async_trait]
impl Transport for H2 {
    async fn connect(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Arc<dyn Session>, BoxError> {
        let url = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.to_string()
        } else if tls.any() {
            format!("https://{addr}{SESSION_PATH}")
        } else {
            format!("http://{addr}{SESSION_PATH}")
        };
        let connector = if url.starts_with("https://") {
            // The connector sets ALPN to `h2` on its own copy.
            libchan::http2::Connector::with_tls(tls.client()?.config().clone())
        } else {
            libchan::http2::Connector::new()
        };
        let session = connector.connect(&url, config).await?;
        session.handshake().await?;
        Ok(Arc::new(session))
    }

    async fn bind(
        &self,
        addr: &str,
        tls: &TlsOptions,
        config: Config,
    ) -> Result<Box<dyn Listen>, BoxError> {
        let mut server = libchan::http2::Server::new(config);
        if tls.any() {
            // An empty ALPN list becomes `h2` in the server's copy.
            let s = tls.server()?;
            server = server.with_tls(without_alpn(s.config(), |c| c.alpn_protocols.clear()));
        }
        let l = libchan::http2::Listener::bind(addr, server)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = l.local_addr()?;
        Ok(Box::new(H2Listen(l, local)))
    }
}

struct H2Listen(libchan::http2::Listener, SocketAddr);

#[async_trait]
impl Listen for H2Listen {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let (s, peer) = self.0.accept().await?;
        Ok((Arc::new(s), peer.into()))
    }

    fn local_addr(&self) -> Endpoint {
        self.1.into()
    }
}

/// A path for a unix socket of this process that no other has: in the
/// temporary directory, named after the process and a counter.
fn scratch_socket_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("libchan-{}-{n}.sock", std::process::id()))
}

/// A certificate for `localhost` made for this run, and the options each
/// side of a loopback TLS or wss session uses with it.
#[derive(Debug, Clone)]
pub struct GeneratedTls {
    /// The server's options: the certificate and its key.
    pub server: TlsOptions,
    /// The client's options: the same certificate as the trusted CA.
    pub client: TlsOptions,
}

impl GeneratedTls {
    /// Makes a self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Result<Self, BoxError> {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])?;
        let cert = generated.cert.pem();
        let key = generated.signing_key.serialize_pem();
        Ok(GeneratedTls {
            server: TlsOptions {
                cert: Some(cert.clone()),
                key: Some(key),
                ca: None,
                server_name: None,
            },
            client: TlsOptions {
                cert: None,
                key: None,
                ca: Some(cert),
                server_name: Some("localhost".into()),
            },
        })
    }
}

/// Two connected sessions in this process over `kind` on loopback: the
/// client's, the server's, and a line describing the connection. tls, ws
/// and h2 use a certificate generated for the run (ws is then wss, h2 is
/// h2 over TLS); unix uses a socket in the temporary directory, removed
/// when its listener goes.
pub async fn loopback_pair(
    kind: TransportKind,
    client_config: Config,
    server_config: Config,
) -> Result<(Arc<dyn Session>, Arc<dyn Session>, String), BoxError> {
    if kind == TransportKind::Inmem {
        let (c, s) = libchan::inmem::pair();
        return Ok((Arc::new(c), Arc::new(s), "in memory, no encoding".into()));
    }
    let (server_tls, client_tls) = match kind {
        TransportKind::Tls | TransportKind::Ws | TransportKind::H2 => {
            let g = GeneratedTls::new()?;
            (g.server, g.client)
        }
        _ => (TlsOptions::default(), TlsOptions::default()),
    };
    let t = kind.get();
    let bind_addr = match kind {
        TransportKind::Unix => scratch_socket_path().display().to_string(),
        _ => "127.0.0.1:0".to_string(),
    };
    let listener = t.bind(&bind_addr, &server_tls, server_config).await?;
    let addr = listener.local_addr();
    let port = addr.port().unwrap_or(0);
    let dial_addr = match kind {
        TransportKind::Ws => format!("wss://localhost:{port}{SESSION_PATH}"),
        TransportKind::H2 => format!("https://localhost:{port}{SESSION_PATH}"),
        _ => addr.to_string(),
    };
    let accept = async { listener.accept().await };
    let connect = t.connect(&dial_addr, &client_tls, client_config);
    let (server, client) = tokio::join!(accept, connect);
    let (server, _) = server?;
    let client = client?;
    let what = match kind {
        TransportKind::Tcp => format!("tcp to {addr}"),
        TransportKind::Unix => format!("unix socket {addr}"),
        TransportKind::Tls => format!("tls to {addr}, certificate for localhost made for this run"),
        TransportKind::Ws | TransportKind::H2 => {
            format!("{dial_addr}, certificate made for this run")
        }
        TransportKind::Inmem => unreachable!("returned above"),
    };
    // The unix socket's file goes with its listener; the sessions are
    // connected already.
    drop(listener);
    Ok((client, server, what))
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_strips_the_port_and_v6_brackets() {
        assert_eq!(host_of("localhost:7000"), "localhost");
        assert_eq!(host_of("[::1]:7000"), "::1");
        assert_eq!(host_of("example.org"), "example.org");
    }
}
