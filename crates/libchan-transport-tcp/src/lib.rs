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

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use libchan_core::SessionError;
use libchan_mux::driver::{spawn, spawn_guarded, MuxSession, SessionConfig};
use libchan_mux::Role;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::Semaphore;

/// Default most sessions a [`Listener`] keeps at once: 1024. Each costs at
/// most its session budget (see `docs/RELIABILITY.md`: about 26 MiB with
/// the default limits, almost all of it only while a peer fills its
/// windows), so the default bounds what one listener can be made to hold;
/// raise it with [`Listener::with_max_sessions`] for many idle clients.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

#[doc(no_inline)]
pub use libchan_mux::driver::{MuxSession as TcpSession, SessionConfig as Config};

/// Connects to `addr` and starts a session as the dialer.
///
/// Returns once the TCP connection is up; the libchan handshake continues in
/// the background (see [`MuxSession::handshake`]).
pub async fn connect(
    addr: impl ToSocketAddrs,
    config: SessionConfig,
) -> Result<MuxSession, SessionError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    spawn(stream, Role::Dialer, config)
}

/// Starts a session as the acceptor over an already accepted TCP stream.
pub fn serve(stream: TcpStream, config: SessionConfig) -> Result<MuxSession, SessionError> {
    stream.set_nodelay(true)?;
    spawn(stream, Role::Acceptor, config)
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
    pub async fn bind(addr: impl ToSocketAddrs, config: SessionConfig) -> io::Result<Self> {
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
    /// files) or the listener: keep accepting after it, perhaps after a
    /// short pause.
    pub async fn accept(&self) -> Result<(MuxSession, SocketAddr), SessionError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the listener never closes its semaphore");
        let (stream, peer) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        let session = spawn_guarded(stream, Role::Acceptor, self.config.clone(), slot)?;
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
