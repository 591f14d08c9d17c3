//! # libchan-transport-tcp: libchan sessions over TCP
//!
//! [`connect`] dials, [`Listener`] accepts many sessions; each connection
//! runs the multiplexed libchan protocol (`libchan-mux`), so either side
//! opens channels toward the other, and messages carry nested channels and
//! byte streams as dedicated streams with their own flow control.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libchan_core::SessionExt;
//! use libchan_mux::driver::SessionConfig;
//! use libchan_codec_json::Json;
//!
//! let listener = libchan_transport_tcp::Listener::bind("127.0.0.1:0", SessionConfig::new(Json)).await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let (session, _peer) = listener.accept().await?;
//!     let mut rx = session.accept::<String>().await?.expect("a channel");
//!     while let Some(line) = rx.recv().await? {
//!         println!("got {line}");
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let session = libchan_transport_tcp::connect(addr, SessionConfig::new(Json)).await?;
//! let tx = session.open::<String>()?;
//! tx.send("hello over tcp".into()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! * Ordered, no duplicates, per channel; no ordering across channels.
//! * Flow control per channel: a slow receiver stalls only its own channel.
//! * `TCP_NODELAY` is set: small messages are batched by the session's
//!   writer (many frames per write), not by Nagle's algorithm.
//! * If the connection dies, every channel and byte stream of the session
//!   reports [`SessionLost`](libchan_core::ChannelError::SessionLost);
//!   messages in flight may be lost. A clean [`close`](libchan_core::Session::close)
//!   is distinguishable from a crash.
//! * No authentication and no encryption: use the TLS transport across
//!   untrusted networks.

#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Session, SessionError, SessionId, SessionStats};
use libchan_mux::driver::{spawn, spawn_guarded, MuxSession, SessionConfig};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::Semaphore;

/// Default most sessions a [`Listener`] keeps at once: 1024. Each costs at
/// most its session budget (see `docs/RELIABILITY.md`: about 26 MiB with
/// the default limits, almost all of it only while a peer fills its
/// windows), so the default bounds what one listener can be made to hold;
/// raise it with [`Listener::with_max_sessions`] for many idle clients.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

#[doc(no_inline)]
pub use libchan_mux::driver::SessionConfig as Config;
/// Which side of a connection this is, for [`from_stream`].
pub use libchan_mux::Role;

/// A libchan session over a TCP connection: a [`MuxSession`] (it derefs
/// to one, and implements [`Session`] by delegating to it) plus the
/// connection's addresses.
///
/// Cheap to clone; all clones are the same session.
#[derive(Clone)]
pub struct TcpSession {
    inner: MuxSession,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
}

impl TcpSession {
    /// The address of the other end of the connection.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// This end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The libchan session inside.
    pub fn mux(&self) -> &MuxSession {
        &self.inner
    }

    /// Gives up the addresses and keeps the libchan session.
    pub fn into_mux(self) -> MuxSession {
        self.inner
    }
}

impl Deref for TcpSession {
    type Target = MuxSession;

    fn deref(&self) -> &MuxSession {
        &self.inner
    }
}

#[async_trait]
impl Session for TcpSession {
    fn id(&self) -> SessionId {
        self.inner.id()
    }

    fn open_end(&self, end: ExportedReceiver) -> Result<(), SessionError> {
        self.inner.open_end(end)
    }

    async fn accept_end(&self) -> Result<Option<IncomingEnd>, SessionError> {
        self.inner.accept_end().await
    }

    async fn close(&self) -> Result<(), SessionError> {
        self.inner.close().await
    }

    fn abort(&self, reason: &str) {
        self.inner.abort(reason);
    }

    fn stats(&self) -> SessionStats {
        self.inner.stats()
    }

    async fn handshake(&self) -> Result<(), SessionError> {
        Session::handshake(&self.inner).await
    }

    fn channel_capacity(&self) -> usize {
        self.inner.channel_capacity()
    }
}

impl fmt::Debug for TcpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSession")
            .field("session", &self.inner)
            .field("peer_addr", &self.peer_addr)
            .finish()
    }
}

/// Starts a session on a connected stream; the addresses come from it.
fn start(
    stream: TcpStream,
    role: Role,
    config: SessionConfig,
    guard: impl Send + 'static,
) -> Result<TcpSession, SessionError> {
    stream.set_nodelay(true)?;
    let peer_addr = stream.peer_addr()?;
    let local_addr = stream.local_addr()?;
    let inner = match role {
        Role::Acceptor => spawn_guarded(stream, role, config, guard)?,
        Role::Dialer => {
            drop(guard);
            spawn(stream, role, config)?
        }
    };
    inner.record_peer(peer_addr);
    Ok(TcpSession {
        inner,
        peer_addr,
        local_addr,
    })
}

/// Connects to `addr` and starts a session as the dialer.
///
/// The configuration is checked first: an invalid one is
/// [`SessionError::Config`] and nothing is dialled. Every address `addr`
/// resolves to is tried in turn, each bounded by `config.connect_timeout`
/// when set; failing them all is [`SessionError::Connect`] naming the
/// address (the last one tried, or `addr` as given when it resolved to
/// nothing), its source the socket's error (`TimedOut` for the timeout).
///
/// Returns once the TCP connection is up; the libchan handshake continues in
/// the background (see [`Session::handshake`]).
pub async fn connect(
    addr: impl ToSocketAddrs + fmt::Debug,
    config: SessionConfig,
) -> Result<TcpSession, SessionError> {
    config.validate()?;
    let dialled = format!("{addr:?}");
    let dialled = dialled.trim_matches('"').to_owned();
    let failed = |addr: String, e: io::Error| SessionError::Connect {
        addr,
        source: Arc::new(e),
    };
    let addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| failed(dialled.clone(), e))?;
    let mut last = None;
    for resolved in addrs {
        let attempt = TcpStream::connect(resolved);
        let result = match config.connect_timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {limit:?}"),
                )),
            },
            None => attempt.await,
        };
        match result {
            Ok(stream) => return start(stream, Role::Dialer, config, ()),
            Err(e) => last = Some(failed(resolved.to_string(), e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        failed(
            dialled,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            ),
        )
    }))
}

/// Starts a session over a TCP stream connected some other way (accepted
/// by a listener of your own, or dialled through a proxy), as `role`: the
/// side that accepted is [`Role::Acceptor`], the side that dialled
/// [`Role::Dialer`]. Returns at once; the handshake runs in the background
/// ([`TcpSession::handshake`]).
pub fn from_stream(
    stream: TcpStream,
    role: Role,
    config: SessionConfig,
) -> Result<TcpSession, SessionError> {
    start(stream, role, config, ())
}

/// Accepts TCP connections, one session each, at most
/// [`max_sessions`](Self::with_max_sessions) at once.
#[derive(Debug)]
pub struct Listener {
    inner: tokio::net::TcpListener,
    config: SessionConfig,
    /// One permit per session that may run; a session holds its permit
    /// until its connection is finished.
    slots: Arc<Semaphore>,
}

impl Listener {
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port), keeping at most
    /// [`DEFAULT_MAX_SESSIONS`] sessions at once.
    ///
    /// The configuration is checked first ([`SessionError::Config`]), so an
    /// invalid one fails here, not at every connection; a failed bind is
    /// [`SessionError::Io`].
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: SessionConfig,
    ) -> Result<Self, SessionError> {
        config.validate()?;
        Ok(Listener {
            inner: tokio::net::TcpListener::bind(addr).await?,
            config,
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_SESSIONS)),
        })
    }

    /// Keeps at most `max` sessions (at least 1) at once: beyond it,
    /// [`accept`](Self::accept) waits until one ends, and new connections
    /// wait in the kernel's backlog.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(max.max(1)));
        self
    }

    /// Waits for the next connection and starts its session as the acceptor.
    ///
    /// Waits first for a free session slot. Cancel-safe. An error concerns
    /// one connection (a failed `accept(2)`, say, as with too many open
    /// files) and not the listener: keep accepting after it, after a short
    /// pause so that a persistent condition (EMFILE) does not spin:
    ///
    /// ```no_run
    /// # async fn demo(listener: libchan_transport_tcp::Listener) {
    /// loop {
    ///     match listener.accept().await {
    ///         Ok((session, peer)) => {
    ///             tokio::spawn(async move {
    ///                 // serve `session`
    ///                 # drop((session, peer));
    ///             });
    ///         }
    ///         Err(e) => {
    ///             eprintln!("accept failed: {e}");
    ///             tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    ///         }
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn accept(&self) -> Result<(TcpSession, SocketAddr), SessionError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the listener never closes its semaphore");
        let (stream, peer) = self.inner.accept().await?;
        let session = start(stream, Role::Acceptor, self.config.clone(), slot)?;
        Ok((session, peer))
    }

    /// Session slots free right now.
    pub fn available_sessions(&self) -> usize {
        self.slots.available_permits()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
