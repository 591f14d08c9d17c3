//! A unix session: the mux session plus who is at the other end.

use std::fmt;
use std::ops::Deref;

use async_trait::async_trait;
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Session, SessionError, SessionId, SessionStats};
use libchan_mux::driver::MuxSession;

/// The process at the other end of a unix socket, as the kernel saw it
/// when the connection was made (`SO_PEERCRED`): what a server checks to
/// authorise a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id, where the system reports one.
    pub pid: Option<i32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

impl From<tokio::net::unix::UCred> for PeerCredentials {
    fn from(c: tokio::net::unix::UCred) -> Self {
        PeerCredentials {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        }
    }
}

/// A libchan session over a unix stream socket.
///
/// Implements [`Session`] (use [`SessionExt`](libchan_core::SessionExt)'s
/// `open`/`accept`) and derefs to the [`MuxSession`] inside. Cheap to
/// clone: clones are the same session.
#[derive(Clone)]
pub struct UnixSession {
    pub(crate) mux: MuxSession,
    pub(crate) peer: Option<PeerCredentials>,
}

impl UnixSession {
    /// Who is at the other end (`SO_PEERCRED`), if the system said.
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        self.peer
    }

    /// The mux session inside.
    pub fn mux(&self) -> &MuxSession {
        &self.mux
    }
}

impl Deref for UnixSession {
    type Target = MuxSession;

    fn deref(&self) -> &MuxSession {
        &self.mux
    }
}

#[async_trait]
impl Session for UnixSession {
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

impl fmt::Debug for UnixSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSession")
            .field("mux", &self.mux)
            .field("peer", &self.peer)
            .finish()
    }
}
