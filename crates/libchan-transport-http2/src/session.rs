//! The session an HTTP/2 stream carries: a libchan session plus the
//! request that opened it and the response that accepted it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::{Request, Response};
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Session, SessionError, SessionId, SessionStats};
use libchan_mux::driver::{spawn_guarded, MuxSession, SessionConfig};
use libchan_mux::Role;
use tokio::io::{AsyncRead, AsyncWrite};

/// A libchan session over one HTTP/2 stream (one request whose body and
/// response body carry the whole session). Cheap to clone (all
/// clones are the same session). Implements [`Session`]: use
/// [`SessionExt`](libchan_core::SessionExt)'s `open`/`accept`.
///
/// Besides the session it keeps the HTTP exchange that opened it:
/// [`request`](Self::request) (on the server, what the client sent: path,
/// query, headers such as `Authorization`, so a handler can tell who this
/// is) and [`response`](Self::response) (on the client, what the server
/// answered).
///
/// Lifetime as for every libchan session: it ends on
/// [`close`](Session::close), when the peer goes away, or once every clone
/// is dropped and no channel or byte stream uses it any more.
#[derive(Clone)]
pub struct H2Session {
    mux: MuxSession,
    exchange: Arc<Exchange>,
}

struct Exchange {
    request: Request<()>,
    response: Option<Response<()>>,
}

impl H2Session {
    /// Runs libchan over `io` (the stream's two bodies) and returns at
    /// once; the libchan handshake continues in the background.
    pub(crate) fn start<S>(
        io: S,
        role: Role,
        config: SessionConfig,
        request: Request<()>,
        response: Option<Response<()>>,
    ) -> Result<Self, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start_guarded(io, role, config, request, response, ())
    }

    /// [`start`](Self::start), holding `guard` (a listener's slot) until
    /// the session's stream is finished.
    pub(crate) fn start_guarded<S>(
        io: S,
        role: Role,
        config: SessionConfig,
        request: Request<()>,
        response: Option<Response<()>>,
        guard: impl Send + 'static,
    ) -> Result<Self, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mux = spawn_guarded(io, role, config, guard)?;
        Ok(H2Session {
            mux,
            exchange: Arc::new(Exchange { request, response }),
        })
    }

    /// The request that opened the session. On the server: what the
    /// client (or the proxy in front of it) sent: method, URI with path and
    /// query, headers including `Authorization`, `Cookie` and any a proxy
    /// added (`X-Forwarded-For`). On the client: the request this side sent.
    pub fn request(&self) -> &Request<()> {
        &self.exchange.request
    }

    /// On the client, the server's `200` answer (its headers, `Set-Cookie`
    /// for example). `None` on the server.
    pub fn response(&self) -> Option<&Response<()>> {
        self.exchange.response.as_ref()
    }

    /// Waits until the libchan handshake finished and returns the agreed
    /// codec's name, or the error that ended the session (see
    /// [`MuxSession::handshake`]).
    pub async fn handshake(&self) -> Result<String, SessionError> {
        self.mux.handshake().await
    }

    /// Which side of the libchan session this is: the client that dialled
    /// is the dialer, the server the acceptor.
    pub fn role(&self) -> Role {
        self.mux.role()
    }

    /// The underlying multiplexed session.
    pub fn mux(&self) -> &MuxSession {
        &self.mux
    }
}

#[async_trait]
impl Session for H2Session {
    fn id(&self) -> SessionId {
        self.mux.id()
    }

    fn open_end(&self, end: ExportedReceiver) -> Result<(), SessionError> {
        self.mux.open_end(end)
    }

    async fn accept_end(&self) -> Result<Option<IncomingEnd>, SessionError> {
        self.mux.accept_end().await
    }

    async fn close(&self) -> Result<(), SessionError> {
        self.mux.close().await
    }

    fn abort(&self, reason: &str) {
        self.mux.abort(reason);
    }

    async fn handshake(&self) -> Result<(), SessionError> {
        Session::handshake(&self.mux).await
    }

    fn channel_capacity(&self) -> usize {
        self.mux.channel_capacity()
    }

    fn stats(&self) -> SessionStats {
        self.mux.stats()
    }
}

impl fmt::Debug for H2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Session")
            .field("mux", &self.mux)
            .field("uri", self.exchange.request.uri())
            .finish()
    }
}
