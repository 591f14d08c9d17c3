//! A session over TLS, and how one is established: the TLS handshake, the
//! ALPN check, then the libchan handshake, all within one deadline.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Session, SessionError, SessionId, SessionStats};
use libchan_mux::driver::{spawn, MuxSession, SessionConfig};
use libchan_mux::Role;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::error::Remote;
use crate::{ClientTls, PeerIdentity, ServerTls, TlsError, TlsInfo, ALPN};

/// A libchan session over a TLS connection: a [`MuxSession`] (it derefs to
/// one, and implements [`Session`] by delegating to it) plus what the TLS
/// handshake established ([`tls`](Self::tls), [`peer_identity`](Self::peer_identity)).
///
/// Cheap to clone; all clones are the same session. Both handshakes (TLS
/// and libchan) have finished by the time you hold one.
#[derive(Clone)]
pub struct TlsSession {
    inner: MuxSession,
    tls: Arc<TlsInfo>,
}

impl TlsSession {
    /// The peer's verified certificate identity: always `Some` on the
    /// client (the server's); on the server, `Some` when the client
    /// presented a certificate (always, when client certificates are
    /// required).
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.tls.peer_identity.as_ref()
    }

    /// Everything the TLS handshake settled.
    pub fn tls(&self) -> &TlsInfo {
        &self.tls
    }

    /// The libchan session inside.
    pub fn mux(&self) -> &MuxSession {
        &self.inner
    }

    /// Gives up the TLS details and keeps the libchan session.
    pub fn into_mux(self) -> MuxSession {
        self.inner
    }
}

impl Deref for TlsSession {
    type Target = MuxSession;

    fn deref(&self) -> &MuxSession {
        &self.inner
    }
}

#[async_trait]
impl Session for TlsSession {
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

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("session", &self.inner)
            .field("peer_addr", &self.tls.peer_addr)
            .field("server_name", &self.tls.server_name)
            .field(
                "peer",
                &self
                    .tls
                    .peer_identity
                    .as_ref()
                    .and_then(PeerIdentity::subject),
            )
            .finish()
    }
}

/// The TLS client handshake over `io`, then the libchan session.
pub(crate) async fn dial<IO>(
    io: IO,
    server_name: &str,
    tls: &ClientTls,
    config: SessionConfig,
    peer_addr: Option<SocketAddr>,
    deadline: Instant,
) -> Result<TlsSession, TlsError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let remote = Remote::new(peer_addr, Some(server_name.to_owned()));
    let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
        TlsError::Config(format!(
            "invalid server name {server_name:?} (a DNS name or an IP address): {e}"
        ))
    })?;
    let timeout = config.limits.handshake_timeout;
    let connector = tokio_rustls::TlsConnector::from(tls.config().clone());
    let stream = match tokio::time::timeout_at(deadline, connector.connect(name, io)).await {
        Err(_) => return Err(TlsError::HandshakeTimeout { remote, timeout }),
        Ok(Err(e)) => return Err(TlsError::io(&remote, e)),
        Ok(Ok(stream)) => stream,
    };
    let (_, conn) = stream.get_ref();
    check_alpn(conn.alpn_protocol(), &remote)?;
    let info = TlsInfo::from_connection(conn, Some(server_name.to_owned()), peer_addr);
    start(stream, Role::Dialer, config, info, remote, deadline).await
}

/// The TLS server handshake over `io`, then the libchan session.
pub(crate) async fn serve<IO>(
    io: IO,
    tls: &ServerTls,
    config: SessionConfig,
    peer_addr: Option<SocketAddr>,
    deadline: Instant,
) -> Result<TlsSession, TlsError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut remote = Remote::new(peer_addr, None);
    let timeout = config.limits.handshake_timeout;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config().clone());
    let stream = match tokio::time::timeout_at(deadline, acceptor.accept(io)).await {
        Err(_) => return Err(TlsError::HandshakeTimeout { remote, timeout }),
        Ok(Err(e)) => return Err(TlsError::io(&remote, e)),
        Ok(Ok(stream)) => stream,
    };
    let (_, conn) = stream.get_ref();
    let sni = conn.server_name().map(str::to_owned);
    remote.server_name = sni.clone();
    check_alpn(conn.alpn_protocol(), &remote)?;
    let info = TlsInfo::from_connection(conn, sni, peer_addr);
    start(stream, Role::Acceptor, config, info, remote, deadline).await
}

/// Both sides insist on libchan's ALPN protocol: a peer that offered none
/// (or that a lenient server let through) is not a libchan peer.
fn check_alpn(negotiated: Option<&[u8]>, remote: &Remote) -> Result<(), TlsError> {
    match negotiated {
        Some(p) if p == ALPN => Ok(()),
        other => Err(TlsError::AlpnMismatch {
            remote: remote.clone(),
            rejected_by: libchan_core::Initiator::Local,
            negotiated: other.map(|p| String::from_utf8_lossy(p).into_owned()),
        }),
    }
}

/// Runs the libchan session over the established TLS stream and waits for
/// its handshake, so that a peer refusing us after the TLS handshake (a
/// TLS 1.3 server rejecting the client's certificate sends its alert only
/// then) is an error here, not a session that breaks at first use.
///
/// A peer that completed the handshake, sent something and went away at
/// once is a session that was established and then lost: it is returned,
/// so that what the peer sent is still delivered before the loss.
async fn start<S>(
    stream: S,
    role: Role,
    config: SessionConfig,
    info: TlsInfo,
    remote: Remote,
    deadline: Instant,
) -> Result<TlsSession, TlsError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let timeout = config.limits.handshake_timeout;
    let spoke = Arc::new(AtomicBool::new(false));
    let stream = Watched {
        inner: stream,
        spoke: spoke.clone(),
    };
    let session = spawn(stream, role, config).map_err(|e| TlsError::Session {
        remote: remote.clone(),
        source: e,
    })?;
    session.record_peer(&remote);
    let established = TlsSession {
        inner: session.clone(),
        tls: Arc::new(info),
    };
    match tokio::time::timeout_at(deadline, session.handshake()).await {
        Ok(Ok(_codec)) => Ok(established),
        Ok(Err(SessionError::Closed | SessionError::ConnectionLost(_) | SessionError::Io(_)))
            if spoke.load(Ordering::Acquire) =>
        {
            Ok(established)
        }
        // The session's own handshake timer started after ours and fires no
        // earlier: a failure at the deadline is the deadline.
        Ok(Err(SessionError::Handshake(_))) if Instant::now() >= deadline => {
            session.abort("the handshake timed out");
            Err(TlsError::HandshakeTimeout { remote, timeout })
        }
        Ok(Err(e)) => {
            session.abort("the handshake failed");
            Err(TlsError::session(&remote, e))
        }
        Err(_) => {
            session.abort("the handshake timed out");
            Err(TlsError::HandshakeTimeout { remote, timeout })
        }
    }
}

/// The TLS stream, noting when the first application data from the peer
/// arrives: from then on the peer has accepted us (alerts come instead of
/// data) and the session exists, whatever happens next.
struct Watched<S> {
    inner: S,
    spoke: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.spoke.store(true, Ordering::Release);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
