//! The TCP gateway: raw TCP connections carried as byte streams over one
//! libchan session, like `ssh -L`.
//!
//! A [`Forwarder`] accepts local TCP connections and sends each one, as a
//! byte stream, in a [`Dial`] request naming a backend; the [`Gateway`] at
//! the other end of the session dials that backend and copies bytes both
//! ways until either side ends. Each connection is a stream of its own with
//! its own flow control, so one slow client stalls nobody else; an unknown
//! backend, a refused dial or a dropped connection is reported to that
//! connection only (its TCP connection is closed, and the [`DialReply`]
//! says why), and both ends carry on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), libchan::BoxError> {
//! use std::sync::Arc;
//! use libchan_cli::gateway::{Backends, Forwarder, Gateway};
//!
//! let (client, server) = libchan::inmem::pair();
//! let gateway = Gateway::new("redis=127.0.0.1:6379".parse::<Backends>()?);
//! tokio::spawn(async move { gateway.serve_session(Arc::new(server)).await });
//!
//! let local = tokio::net::TcpListener::bind("127.0.0.1:6380").await?;
//! Forwarder::new(Arc::new(client), "redis").run(local).await?;
//! # Ok(()) }
//! ```
//!
//! Over a network session each connection costs one byte stream; over
//! [`libchan::inmem`] the accepted socket itself reaches the gateway and
//! the gateway copies between the two sockets directly.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use libchan::{BoxError, ByteStream, Receiver, Sender, Session, SessionExt};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::transport::{Dialer, Listen};

/// How long the gateway waits for a backend to accept a connection.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Copy buffer per direction: the mux's largest DATA chunk.
const COPY_BUFFER: usize = 64 * 1024;

/// A request to connect a byte stream to a named backend.
///
/// In JSON: `{"backend":"redis","stream":{"kind":"stream","id":3},
/// "reply":{"kind":"sender","id":5}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Dial {
    /// The backend's name, as the gateway was configured.
    pub backend: String,
    /// The client connection's bytes, both ways.
    pub stream: ByteStream,
    /// Gets one [`DialReply`] once the backend answered (or did not).
    pub reply: Sender<DialReply>,
}

/// The gateway's answer to a [`Dial`]: `{"connected":"127.0.0.1:6379",
/// "error":null}` or `{"connected":null,"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialReply {
    /// The backend address the gateway connected to.
    pub connected: Option<String>,
    /// Why it did not.
    pub error: Option<String>,
}

/// Named backends: `NAME=HOST:PORT`, comma-separated in one string, or one
/// per [`Backends::add`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backends(BTreeMap<String, String>);

impl Backends {
    /// No backends.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `name`, reached at `addr` (`HOST:PORT`).
    pub fn add(&mut self, name: impl Into<String>, addr: impl Into<String>) -> &mut Self {
        self.0.insert(name.into(), addr.into());
        self
    }

    /// The address of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl FromStr for Backends {
    type Err = String;

    /// Parses `NAME=HOST:PORT[,NAME=HOST:PORT...]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut b = Backends::new();
        for item in s.split(',').filter(|i| !i.is_empty()) {
            let (name, addr) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} is not NAME=HOST:PORT"))?;
            if name.is_empty() {
                return Err(format!("{item:?} has an empty backend name"));
            }
            match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => return Err(format!("{addr:?} (backend {name}) is not HOST:PORT")),
            }
            b.add(name, addr);
        }
        if b.0.is_empty() {
            return Err("no backend given".into());
        }
        Ok(b)
    }
}

impl fmt::Display for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(|(n, a)| format!("{n}={a}")).collect();
        f.write_str(&items.join(","))
    }
}

/// The gateway side: dials backends on behalf of its sessions' [`Dial`]s.
#[derive(Debug, Clone)]
pub struct Gateway {
    backends: Arc<Backends>,
    dial_timeout: Duration,
}

impl Gateway {
    /// A gateway exposing `backends`.
    pub fn new(backends: Backends) -> Self {
        Gateway {
            backends: Arc::new(backends),
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
        }
    }

    /// Sets how long a backend may take to accept a connection.
    #[must_use]
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    /// Accepts sessions from `listener` and serves each until it ends; runs
    /// until the listener fails repeatedly.
    pub async fn serve(&self, listener: &dyn Listen) -> Result<(), BoxError> {
        let mut failures = 0u32;
        loop {
            match listener.accept().await {
                Ok((session, peer)) => {
                    failures = 0;
                    tracing::info!(%peer, "gateway session");
                    let gw = self.clone();
                    tokio::spawn(async move { gw.serve_session(session).await });
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!("a connection failed before its session started: {e}");
                    if failures > 100 {
                        return Err(format!("the listener keeps failing: {e}").into());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Serves every channel of [`Dial`]s the peer opens on `session`, until
    /// the session ends.
    pub async fn serve_session(&self, session: Arc<dyn Session>) {
        loop {
            match session.accept::<Dial>().await {
                Ok(Some(dials)) => {
                    let gw = self.clone();
                    tokio::spawn(async move { gw.serve_channel(dials).await });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!("gateway session ended: {e}");
                    break;
                }
            }
        }
    }

    async fn serve_channel(&self, mut dials: Receiver<Dial>) {
        loop {
            match dials.recv().await {
                Ok(Some(dial)) => {
                    let gw = self.clone();
                    tokio::spawn(async move { gw.connect(dial).await });
                }
                Ok(None) => break,
                // The forwarder went away: routine for a gateway.
                Err(e @ libchan::ChannelError::SessionLost(_)) => {
                    tracing::info!("a forwarder's session ended: {e}");
                    break;
                }
                Err(e) => {
                    tracing::warn!("a channel of dial requests broke: {e}");
                    break;
                }
            }
        }
    }

    /// Connects one stream to its backend and copies until both directions
    /// end (or one fails, which then reaches the client as a broken stream).
    async fn connect(&self, dial: Dial) {
        let Dial {
            backend,
            mut stream,
            reply,
        } = dial;
        let Some(addr) = self.backends.get(&backend) else {
            let error = format!(
                "unknown backend {backend:?}; this gateway has: {}",
                self.backends.names().join(", ")
            );
            tracing::warn!("{error}");
            let _ = reply
                .send(DialReply {
                    connected: None,
                    error: Some(error),
                })
                .await;
            return;
        };
        let dialled = tokio::time::timeout(self.dial_timeout, TcpStream::connect(addr)).await;
        let mut upstream = match dialled {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let error = format!("backend {backend} ({addr}): {e}");
                tracing::warn!("{error}");
                let _ = reply
                    .send(DialReply {
                        connected: None,
                        error: Some(error),
                    })
                    .await;
                return;
            }
            Err(_) => {
                let error = format!(
                    "backend {backend} ({addr}) did not accept within {:?}",
                    self.dial_timeout
                );
                tracing::warn!("{error}");
                let _ = reply
                    .send(DialReply {
                        connected: None,
                        error: Some(error),
                    })
                    .await;
                return;
            }
        };
        let _ = upstream.set_nodelay(true);
        let _ = reply
            .send(DialReply {
                connected: Some(addr.to_string()),
                error: None,
            })
            .await;
        drop(reply);
        match tokio::io::copy_bidirectional_with_sizes(
            &mut stream,
            &mut upstream,
            COPY_BUFFER,
            COPY_BUFFER,
        )
        .await
        {
            Ok((up, down)) => tracing::debug!(backend, up, down, "connection finished"),
            // The stream is dropped without shutdown: the client's side sees
            // a broken connection, not a clean end.
            Err(e) => tracing::info!(backend, "connection broke: {e}"),
        }
    }
}

/// The session a forwarder uses now, and its channel of dial requests.
#[derive(Debug)]
struct Upstream {
    /// Kept so the session lives as long as it is in use.
    _session: Arc<dyn Session>,
    dials: Sender<Dial>,
}

/// The forwarding side: local TCP connections, each sent as a [`Dial`].
#[derive(Debug)]
pub struct Forwarder {
    backend: String,
    dialer: Option<Dialer>,
    current: Mutex<Option<Upstream>>,
}

impl Forwarder {
    /// Forwards to `backend` over `session`.
    pub fn new(session: Arc<dyn Session>, backend: impl Into<String>) -> Self {
        let dials = session.open::<Dial>().ok();
        Forwarder {
            backend: backend.into(),
            dialer: None,
            current: Mutex::new(dials.map(|dials| Upstream {
                _session: session,
                dials,
            })),
        }
    }

    /// Forwards to `backend` over sessions `dialer` makes: one at first,
    /// and a new one whenever the current one is lost.
    pub fn redialling(dialer: Dialer, backend: impl Into<String>) -> Self {
        Forwarder {
            backend: backend.into(),
            dialer: Some(dialer),
            current: Mutex::new(None),
        }
    }

    /// Accepts connections on `local` and forwards each; runs until the
    /// listener fails.
    pub async fn run(self, local: TcpListener) -> Result<(), BoxError> {
        let this = Arc::new(self);
        // Dial up front, so a wrong gateway address is reported at start.
        this.channel().await?;
        loop {
            let (conn, peer) = local.accept().await?;
            let this = this.clone();
            tokio::spawn(async move {
                if let Err(e) = this.forward(conn, peer).await {
                    tracing::warn!(%peer, "connection not forwarded: {e}");
                }
            });
        }
    }

    /// The channel for dial requests, redialling if the session is gone.
    async fn channel(&self) -> Result<Sender<Dial>, BoxError> {
        let mut current = self.current.lock().await;
        if let Some(up) = current.as_ref() {
            if !up.dials.is_closed() {
                return Ok(up.dials.clone());
            }
        }
        let Some(dialer) = &self.dialer else {
            return Err("the gateway session is gone".into());
        };
        if current.is_some() {
            tracing::warn!("the gateway session was lost; dialling again");
        }
        let session = dialer.connect().await?;
        let dials = session.open::<Dial>()?;
        *current = Some(Upstream {
            _session: session,
            dials: dials.clone(),
        });
        Ok(dials)
    }

    /// Sends one connection to the gateway and waits for its answer.
    pub async fn forward(&self, conn: TcpStream, peer: SocketAddr) -> Result<(), BoxError> {
        let _ = conn.set_nodelay(true);
        let dials = self.channel().await?;
        let (reply, mut answer) = libchan::pipe_with_capacity::<DialReply>(1);
        dials
            .send(Dial {
                backend: self.backend.clone(),
                stream: ByteStream::new(conn),
                reply,
            })
            .await?;
        match answer.recv().await {
            Ok(Some(DialReply {
                connected: Some(addr),
                ..
            })) => {
                tracing::info!(%peer, backend = self.backend, "forwarded to {addr}");
                Ok(())
            }
            Ok(Some(DialReply { error, .. })) => Err(error
                .unwrap_or_else(|| "the gateway refused without a reason".into())
                .into()),
            Ok(None) => Err("the gateway dropped the request unanswered".into()),
            Err(e) => Err(format!("the gateway session broke: {e}").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backends;

    #[test]
    fn backends_parse_name_host_port_lists() {
        let b: Backends = "redis=127.0.0.1:6379,pg=db.local:5432"
            .parse()
            .expect("valid");
        assert_eq!(b.get("redis"), Some("127.0.0.1:6379"));
        assert_eq!(b.get("pg"), Some("db.local:5432"));
        assert_eq!(b.names(), ["pg", "redis"]);
    }

    #[test]
    fn backends_reject_what_is_not_name_host_port() {
        for bad in ["", "redis", "=1.2.3.4:5", "r=host", "r=host:port", "r=:80"] {
            assert!(bad.parse::<Backends>().is_err(), "{bad:?} accepted");
        }
    }
}
