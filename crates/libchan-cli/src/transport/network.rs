//! One [`Transport`] per transport: how each dials and listens.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use libchan::{BoxError, Session};

use super::{Config, Endpoint, Listen, TlsOptions, Transport};

/// The listening side of every transport whose sessions come from a TCP
/// peer: the transport's own listener, and the address it is bound to.
struct NetListen<L> {
    inner: L,
    local: SocketAddr,
}

/// What [`NetListen`] needs of a transport's listener.
#[async_trait]
trait AcceptNet: Send + Sync + 'static {
    /// The next session and its TCP peer.
    async fn accept_net(&self) -> Result<(Arc<dyn Session>, SocketAddr), BoxError>;
}

#[async_trait]
impl<L: AcceptNet> Listen for NetListen<L> {
    async fn accept(&self) -> Result<(Arc<dyn Session>, Endpoint), BoxError> {
        let (s, peer) = self.inner.accept_net().await?;
        Ok((s, peer.into()))
    }

    fn local_addr(&self) -> Endpoint {
        self.local.into()
    }
}

pub(super) struct Inmem;

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

pub(super) struct Tcp;

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
        Ok(Box::new(NetListen { inner: l, local }))
    }
}

#[async_trait]
impl AcceptNet for libchan::tcp::Listener {
    async fn accept_net(&self) -> Result<(Arc<dyn Session>, SocketAddr), BoxError> {
        let (s, peer) = self.accept().await?;
        Ok((Arc::new(s), peer))
    }
}

pub(super) struct Tls;

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
        Ok(Box::new(NetListen { inner: l, local }))
    }
}

#[async_trait]
impl AcceptNet for libchan::tls::Listener {
    async fn accept_net(&self) -> Result<(Arc<dyn Session>, SocketAddr), BoxError> {
        let (s, peer) = self.accept().await?;
        Ok((Arc::new(s), peer))
    }
}

pub(super) struct Ws;

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
        Ok(Box::new(NetListen { inner: l, local }))
    }
}

#[async_trait]
impl AcceptNet for libchan::websocket::Listener {
    async fn accept_net(&self) -> Result<(Arc<dyn Session>, SocketAddr), BoxError> {
        let (s, peer) = self.accept().await?;
        Ok((Arc::new(s), peer))
    }
}

pub(super) struct Unix;

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

pub(super) struct H2;

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
        Ok(Box::new(NetListen { inner: l, local }))
    }
}

#[async_trait]
impl AcceptNet for libchan::http2::Listener {
    async fn accept_net(&self) -> Result<(Arc<dyn Session>, SocketAddr), BoxError> {
        let (s, peer) = self.accept().await?;
        Ok((Arc::new(s), peer))
    }
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
