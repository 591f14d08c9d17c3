//! Accepting TLS sessions on a TCP port, each handshake in its own task.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use libchan_mux::driver::SessionConfig;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::Remote;
use crate::session::serve;
use crate::{ServerTls, TlsError, TlsSession};

/// How many handshakes a listener runs at once unless told otherwise
/// ([`Listener::max_concurrent_handshakes`]). Each one holds a socket and a
/// TLS state (tens of KiB) for at most the handshake timeout; 256 keeps a
/// flood of silent connections to a few MiB while leaving room for far more
/// honest clients arriving together than a libchan service usually sees.
pub const DEFAULT_MAX_CONCURRENT_HANDSHAKES: usize = 256;

type Handshake = (SocketAddr, Result<TlsSession, TlsError>);

/// Accepts TCP connections and makes each a TLS session.
///
/// [`accept`](Self::accept) takes TCP connections off the socket and runs
/// each one's handshakes (TLS, then libchan) in a task of its own, so a
/// client that is slow to handshake (or never finishes: a slowloris) holds
/// up nobody else; `accept` returns the first connection to finish, in
/// whatever order they finish. Every handshake is bounded by the session's
/// handshake timeout (`SessionConfig::limits.handshake_timeout`); one that
/// runs out is dropped and reported as [`TlsError::HandshakeTimeout`].
///
/// At most [`max_concurrent_handshakes`](Self::max_concurrent_handshakes)
/// handshakes run at once; further connections wait in the kernel's
/// backlog until one ends. Handshakes belong to the listener: they go on
/// between calls to `accept` (which is cancel-safe) and are dropped with it.
pub struct Listener {
    tcp: TcpListener,
    tls: ServerTls,
    config: SessionConfig,
    max_handshakes: usize,
    handshakes: Mutex<JoinSet<Handshake>>,
}

impl Listener {
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port).
    ///
    /// An invalid session configuration fails here, before binding, as an
    /// `io::Error` of kind `InvalidInput` whose inner error is the
    /// [`SessionError::Config`](libchan_core::SessionError::Config).
    pub async fn bind(
        addr: impl ToSocketAddrs,
        tls: ServerTls,
        config: SessionConfig,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Listener::from_tcp(
            TcpListener::bind(addr).await?,
            tls,
            config,
        ))
    }

    /// Accepts on an already bound TCP listener.
    pub fn from_tcp(tcp: TcpListener, tls: ServerTls, config: SessionConfig) -> Self {
        Listener {
            tcp,
            tls,
            config,
            max_handshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
            handshakes: Mutex::new(JoinSet::new()),
        }
    }

    /// Sets how many handshakes may run at once (at least 1); default
    /// [`DEFAULT_MAX_CONCURRENT_HANDSHAKES`].
    pub fn max_concurrent_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n.max(1);
        self
    }

    /// Waits for the next connection whose TLS and libchan handshakes both
    /// succeeded, or failed.
    ///
    /// An error about one connection (its handshake failed or timed out:
    /// [`TlsError::remote`] names it) leaves the listener as it was: call
    /// `accept` again. An [`TlsError::Io`] without a peer address comes from
    /// the listening socket itself (out of file descriptors, say).
    ///
    /// Cancel-safe: dropping the future loses no connection; handshakes
    /// under way carry on and are returned by a later call.
    pub async fn accept(&self) -> Result<(TlsSession, SocketAddr), TlsError> {
        let mut handshakes = self.handshakes.lock().await;
        loop {
            let room = handshakes.len() < self.max_handshakes;
            tokio::select! {
                biased;
                Some(done) = handshakes.join_next(), if !handshakes.is_empty() => match done {
                    Ok((addr, Ok(session))) => return Ok((session, addr)),
                    Ok((_, Err(e))) => return Err(e),
                    // A handshake task cannot panic on peer input; one that
                    // did anyway has lost its connection, not the listener.
                    Err(e) => tracing::warn!("a TLS handshake task ended abnormally: {e}"),
                },
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        let tls = self.tls.clone();
                        let config = self.config.clone();
                        let deadline = Instant::now() + config.limits.handshake_timeout;
                        handshakes.spawn(async move {
                            (addr, serve(stream, &tls, config, Some(addr), deadline).await)
                        });
                    }
                    Err(e) => {
                        return Err(TlsError::Io {
                            remote: Remote::default(),
                            source: Arc::new(e),
                        })
                    }
                },
            }
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("tls", &self.tls)
            .field("config", &self.config)
            .field("max_concurrent_handshakes", &self.max_handshakes)
            .finish()
    }
}
