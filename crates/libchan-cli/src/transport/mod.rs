//! Transports by name: what `--transport` selects, how each dials and
//! listens, and loopback pairs for running both ends in one process.
//!
//! Every transport is one [`Transport`] implementation; [`TransportKind::get`]
//! is the one `match` that maps a name to it. A new transport is a
//! variant, an implementation and an arm there.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use libchan::{BoxError, Session};

mod certs;
mod loopback;
mod network;

pub use certs::{GeneratedTls, TlsOptions};
pub use loopback::loopback_pair;
use network::{Inmem, Tcp, Tls, Unix, Ws, H2};
pub use network::{INMEM_ONLY, SESSION_PATH};

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
