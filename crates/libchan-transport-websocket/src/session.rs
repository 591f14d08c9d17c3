//! The session a WebSocket connection gives: a libchan session plus what
//! the HTTP upgrade said.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Session, SessionError, SessionId, SessionStats};
use libchan_mux::driver::{spawn, MuxSession, SessionConfig};
use libchan_mux::Role;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::http::{Request, Response};
use tokio_tungstenite::WebSocketStream;

use crate::io::WsIo;

/// A libchan session over one WebSocket connection. Cheap to clone (all
/// clones are the same session). Implements [`Session`]: use
/// [`SessionExt`](libchan_core::SessionExt)'s `open`/`accept`.
///
/// Besides the session it keeps the HTTP upgrade: [`request`](Self::request)
/// (on the server, what the client sent: path, query, headers, cookies,
/// so a handler can tell who this is) and [`response`](Self::response)
/// (on the client, what the server answered).
///
/// Lifetime as for every libchan session: it ends on
/// [`close`](Session::close), when the peer goes away, or once every clone
/// is dropped and no channel or byte stream uses it any more.
#[derive(Clone)]
pub struct WsSession {
    mux: MuxSession,
    upgrade: Arc<Upgrade>,
}

struct Upgrade {
    request: Request<()>,
    response: Option<Response<()>>,
}

impl WsSession {
    /// Runs libchan over `ws` (a WebSocket whose opening handshake is done)
    /// and returns at once; the libchan handshake continues in the background.
    pub(crate) fn start<S>(
        ws: WebSocketStream<S>,
        role: Role,
        config: SessionConfig,
        request: Request<()>,
        response: Option<Response<()>>,
    ) -> Result<Self, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mux = spawn(WsIo::new(ws), role, config)?;
        Ok(WsSession {
            mux,
            upgrade: Arc::new(Upgrade { request, response }),
        })
    }

    /// The upgrade request. On the server: what the client sent (method,
    /// URI with path and query, headers including `Authorization` and
    /// `Cookie`). On the client: the request this side sent.
    pub fn request(&self) -> &Request<()> {
        &self.upgrade.request
    }

    /// On the client, the server's `101 Switching Protocols` answer (its
    /// headers, `Set-Cookie` for example). `None` on the server.
    pub fn response(&self) -> Option<&Response<()>> {
        self.upgrade.response.as_ref()
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
impl Session for WsSession {
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

    fn stats(&self) -> SessionStats {
        self.mux.stats()
    }

    async fn handshake(&self) -> Result<(), SessionError> {
        Session::handshake(&self.mux).await
    }

    fn channel_capacity(&self) -> usize {
        self.mux.channel_capacity()
    }
}

impl fmt::Debug for WsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSession")
            .field("mux", &self.mux)
            .field("uri", self.upgrade.request.uri())
            .finish()
    }
}
