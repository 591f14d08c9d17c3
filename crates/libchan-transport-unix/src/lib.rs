//! # libchan-transport-unix: libchan over unix sockets, descriptors included
//!
//! Sessions over unix stream sockets, at filesystem paths
//! ([`connect`], [`Listener::bind`]) or Linux abstract names
//! ([`connect_abstract`], [`Listener::bind_abstract`]), or over a
//! socketpair handed to a child process ([`Handoff`], [`from_env`]). Each
//! connection runs the multiplexed libchan protocol (`libchan-mux`), so
//! everything the TCP transport does works here too; in addition, a
//! [`ByteStream`](libchan_core::ByteStream) backed by a file descriptor
//! ([`ByteStream::from_fd`](libchan_core::ByteStream::from_fd)) crosses the
//! session as the descriptor itself (SCM_RIGHTS): the receiver gets the same
//! socket, pipe or file, and libchan is out of the data path.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libchan_core::{ByteStream, SessionExt};
//! use libchan_codec_json::Json;
//! use libchan_transport_unix::{pair, Config};
//! use tokio::io::AsyncReadExt;
//!
//! let (client, server) = pair(Config::new(Json))?;
//! client.handshake().await?;
//! // A pipe whose read end travels as a descriptor.
//! let (mut write_end, read_end) = tokio::net::unix::pipe::pipe()?;
//! let files = client.open::<ByteStream>()?;
//! files.send(ByteStream::from_fd(read_end.into_blocking_fd()?)).await?;
//!
//! let mut rx = server.accept::<ByteStream>().await?.expect("a channel");
//! let stream = rx.recv().await?.expect("a stream");
//! assert!(stream.is_fd(), "the descriptor itself arrived");
//! tokio::io::AsyncWriteExt::write_all(&mut write_end, b"straight through the pipe").await?;
//! drop(write_end);
//! let mut fd = stream;
//! let mut got = String::new();
//! fd.read_to_string(&mut got).await?;
//! assert_eq!(got, "straight through the pipe");
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! * Everything `docs/transports/tcp.md` lists: per-channel order and flow
//!   control, graceful close, typed errors, bounded memory.
//! * Descriptors pass as themselves to a peer that accepts them (its HELLO
//!   announces `MAX_PENDING_FDS`, 256 by default here); to one that does
//!   not, or before its HELLO arrived, the same stream is proxied over the
//!   session instead. [`connect`] returns after the handshake, so a client
//!   passes descriptors from its first message; a server that sends first
//!   should `handshake().await`.
//! * Received descriptors are untrusted: at most `max_pending_fds` wait
//!   unclaimed (more are refused and closed), a read that brings more than
//!   fit is [`UnixError::AncillaryTruncated`], descriptors no OPEN claims
//!   end the session with a limit error, and every received descriptor is
//!   closed on every error path and when its message is dropped unread.
//! * The server sees who connected ([`UnixSession::peer_credentials`]:
//!   pid, uid, gid, from `SO_PEERCRED`) to authorise.
//! * Permissions of a socket file are the file system's: the listener
//!   creates it with the process's umask; set them (`std::fs::set_permissions`)
//!   or put it in a directory only the right users can reach.
//!
//! See `docs/transports/unix.md`.

#![deny(missing_docs)]

mod error;
mod link;
mod session;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libchan_mux::driver::spawn_link;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

pub use error::UnixError;
#[doc(no_inline)]
pub use libchan_mux::driver::SessionConfig as Config;
#[doc(no_inline)]
pub use libchan_mux::Role;
pub use link::SCM_MAX_FD;
pub use session::{PeerCredentials, UnixSession};

use error::path_text;
use link::UnixLink;

/// Default most sessions a [`Listener`] keeps at once: 1024, as for TCP.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

/// Starts a session over a connected socket.
fn start(
    stream: UnixStream,
    role: Role,
    config: Config,
    guard: impl Send + 'static,
) -> Result<UnixSession, UnixError> {
    start_with(stream, role, config, guard, SCM_MAX_FD)
}

fn start_with(
    stream: UnixStream,
    role: Role,
    config: Config,
    guard: impl Send + 'static,
    fds_per_read: usize,
) -> Result<UnixSession, UnixError> {
    let peer = stream.peer_cred().ok().map(PeerCredentials::from);
    let link = UnixLink {
        stream,
        fds_per_read: fds_per_read.max(1),
    };
    let mux = spawn_link(link, role, config, guard)?;
    if let Some(c) = &peer {
        match c.pid {
            Some(pid) => mux.record_peer(format_args!("unix pid {pid} uid {}", c.uid)),
            None => mux.record_peer(format_args!("unix uid {}", c.uid)),
        }
    }
    Ok(UnixSession { mux, peer })
}

/// Connects to the socket at `path` and starts a session as the dialer;
/// returns once the handshake is done (so descriptors pass from the first
/// message).
pub async fn connect(path: impl AsRef<Path>, config: Config) -> Result<UnixSession, UnixError> {
    let path = path.as_ref();
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| UnixError::Connect {
            address: path_text(path),
            source,
        })?;
    let session = start(stream, Role::Dialer, config, ())?;
    session.mux.handshake().await?;
    Ok(session)
}

/// Connects to the Linux abstract socket `name` (no file; shown as
/// `@name`), as [`connect`] does.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub async fn connect_abstract(
    name: impl AsRef<[u8]>,
    config: Config,
) -> Result<UnixSession, UnixError> {
    use std::os::linux::net::SocketAddrExt;
    let name = name.as_ref();
    let address = format!("@{}", String::from_utf8_lossy(name));
    let connect = || -> std::io::Result<UnixStream> {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        let std = std::os::unix::net::UnixStream::connect_addr(&addr)?;
        std.set_nonblocking(true)?;
        UnixStream::from_std(std)
    };
    let stream = connect().map_err(|source| UnixError::Connect { address, source })?;
    let session = start(stream, Role::Dialer, config, ())?;
    session.mux.handshake().await?;
    Ok(session)
}

/// Two connected sessions over a socketpair in this process:
/// `(dialer, acceptor)`.
pub fn pair(config: Config) -> Result<(UnixSession, UnixSession), UnixError> {
    let (a, b) = UnixStream::pair()?;
    Ok((
        start(a, Role::Dialer, config.clone(), ())?,
        start(b, Role::Acceptor, config, ())?,
    ))
}

/// Starts a session as `role` over a connected std socket (one end of a
/// socketpair, say).
pub fn from_std(
    stream: std::os::unix::net::UnixStream,
    role: Role,
    config: Config,
) -> Result<UnixSession, UnixError> {
    stream.set_nonblocking(true)?;
    start(UnixStream::from_std(stream)?, role, config, ())
}

/// [`from_std`] with room for only `fds_per_read` descriptors per read
/// (default [`SCM_MAX_FD`], all one `sendmsg` can carry): a read that
/// brings more fails the session with [`UnixError::AncillaryTruncated`].
pub fn from_std_with_fds_per_read(
    stream: std::os::unix::net::UnixStream,
    role: Role,
    config: Config,
    fds_per_read: usize,
) -> Result<UnixSession, UnixError> {
    stream.set_nonblocking(true)?;
    start_with(
        UnixStream::from_std(stream)?,
        role,
        config,
        (),
        fds_per_read,
    )
}

/// One end of a socketpair prepared for a child process: the child
/// inherits the other end and finds its number in an environment variable
/// (see [`from_env`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use libchan_codec_json::Json;
/// use libchan_mux::Role;
/// use libchan_transport_unix::{from_std, Config, Handoff};
///
/// let mut cmd = std::process::Command::new("my-worker");
/// let handoff = Handoff::new(&mut cmd, "LIBCHAN_FD")?;
/// let child = cmd.spawn()?;
/// let session = from_std(handoff.spawned(), Role::Dialer, Config::new(Json))?;
/// // ... and in the worker: from_env("LIBCHAN_FD", Role::Acceptor, config)
/// # drop((child, session)); Ok(()) }
/// ```
#[derive(Debug)]
pub struct Handoff {
    parent: std::os::unix::net::UnixStream,
    child: OwnedFd,
}

impl Handoff {
    /// Makes a socketpair, marks one end to be inherited by `cmd`'s child
    /// (not close-on-exec) and sets `var` in its environment to that
    /// end's number.
    pub fn new(cmd: &mut std::process::Command, var: &str) -> std::io::Result<Handoff> {
        let (parent, child) = std::os::unix::net::UnixStream::pair()?;
        let child = OwnedFd::from(child);
        rustix::io::fcntl_setfd(&child, rustix::io::FdFlags::empty())?;
        cmd.env(var, child.as_raw_fd().to_string());
        Ok(Handoff { parent, child })
    }

    /// Call once the child is spawned: closes this process's copy of the
    /// child's end (so the child's exit is seen as the connection ending)
    /// and returns this process's end.
    pub fn spawned(self) -> std::os::unix::net::UnixStream {
        drop(self.child);
        self.parent
    }
}

/// In a child process: the session over the socket its parent left open
/// for it (see [`Handoff`]), whose number is in `var`.
///
/// Checks that the number names an open unix stream socket before taking
/// it, and removes `var` from the environment, so the descriptor is taken
/// once.
#[allow(unsafe_code)]
pub fn from_env(var: &str, role: Role, config: Config) -> Result<UnixSession, UnixError> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    let bad = |reason: &str| UnixError::Inherited {
        var: var.to_owned(),
        reason: reason.to_owned(),
    };
    let value = std::env::var(var).map_err(|_| bad("not set"))?;
    let raw: i32 = value.parse().map_err(|_| bad("not a descriptor number"))?;
    if raw < 0 {
        return Err(bad("not a descriptor number"));
    }
    {
        // SAFETY: borrowing does not take ownership; `fcntl_getfd` only
        // asks the kernel whether the number is an open descriptor, and
        // fails harmlessly (EBADF) if it is not.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        rustix::io::fcntl_getfd(borrowed).map_err(|_| bad("not an open descriptor"))?;
        let stat = rustix::fs::fstat(borrowed).map_err(|_| bad("not an open descriptor"))?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
            return Err(bad("not a socket"));
        }
        let kind = rustix::net::sockopt::socket_type(borrowed).map_err(|_| bad("not a socket"))?;
        if kind != rustix::net::SocketType::STREAM {
            return Err(bad("not a stream socket"));
        }
    }
    std::env::remove_var(var);
    // SAFETY: the number names an open stream socket that the parent left
    // for this process (the variable says so, and was just removed so it
    // is taken once); nothing else in this process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    from_std(std::os::unix::net::UnixStream::from(fd), role, config)
}

/// Accepts unix socket connections, one session each, at most
/// [`max_sessions`](Self::with_max_sessions) at once.
#[derive(Debug)]
pub struct Listener {
    inner: UnixListener,
    config: Config,
    slots: Arc<Semaphore>,
    /// The socket file this listener created, removed when it is dropped.
    path: Option<PathBuf>,
}

impl Listener {
    /// Listens at `path` (a socket file is created there; it must not
    /// exist). The file is removed when the listener is dropped.
    pub fn bind(path: impl AsRef<Path>, config: Config) -> Result<Self, UnixError> {
        let path = path.as_ref();
        let inner = UnixListener::bind(path).map_err(|source| UnixError::Bind {
            address: path_text(path),
            source,
        })?;
        Ok(Listener {
            inner,
            config,
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_SESSIONS)),
            path: Some(path.to_path_buf()),
        })
    }

    /// Listens at the Linux abstract name `name` (no file).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn bind_abstract(name: impl AsRef<[u8]>, config: Config) -> Result<Self, UnixError> {
        use std::os::linux::net::SocketAddrExt;
        let name = name.as_ref();
        let address = format!("@{}", String::from_utf8_lossy(name));
        let bind = || -> std::io::Result<UnixListener> {
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            let std = std::os::unix::net::UnixListener::bind_addr(&addr)?;
            std.set_nonblocking(true)?;
            UnixListener::from_std(std)
        };
        let inner = bind().map_err(|source| UnixError::Bind { address, source })?;
        Ok(Listener {
            inner,
            config,
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_SESSIONS)),
            path: None,
        })
    }

    /// Keeps at most `max` sessions (at least 1) at once; beyond it,
    /// [`accept`](Self::accept) waits until one ends.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(max.max(1)));
        self
    }

    /// Waits for the next connection and starts its session as the
    /// acceptor. Cancel-safe. An error concerns one connection: keep
    /// accepting after it.
    pub async fn accept(&self) -> Result<UnixSession, UnixError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the listener never closes its semaphore");
        let (stream, _) = self.inner.accept().await.map_err(UnixError::Accept)?;
        start(stream, Role::Acceptor, self.config.clone(), slot)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<tokio::net::unix::SocketAddr> {
        self.inner.local_addr()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}
