//! Errors of the unix transport.

use std::io;
use std::path::PathBuf;

use libchan_core::SessionError;

/// Why a unix session could not be made, or broke for a unix reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnixError {
    /// Connecting to the socket failed (no such file, no listener,
    /// permission denied...).
    #[error("could not connect to unix socket {address}")]
    Connect {
        /// The path, or `@name` for an abstract name.
        address: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Binding the listening socket failed.
    #[error("could not listen on unix socket {address}")]
    Bind {
        /// The path, or `@name` for an abstract name.
        address: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Accepting a connection failed (too many open files, say): this
    /// concerns one connection; keep accepting.
    #[error("could not accept a connection")]
    Accept(#[source] io::Error),
    /// A descriptor inherited by number (`from_env`) is not a connected
    /// unix stream socket, or the variable does not hold a number.
    #[error("inherited descriptor from ${var}: {reason}")]
    Inherited {
        /// The environment variable read.
        var: String,
        /// What was wrong.
        reason: String,
    },
    /// The peer passed more descriptors in one read than there was room
    /// for (`MSG_CTRUNC`): the kernel closed those that did not fit, and
    /// the ones that did were closed here. The session ends.
    #[error("the peer passed more file descriptors at once than this side accepts (MSG_CTRUNC)")]
    AncillaryTruncated,
    /// Another socket operation failed.
    #[error("unix socket: {0}")]
    Io(#[from] io::Error),
    /// The libchan session failed (handshake, configuration).
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<UnixError> for io::Error {
    fn from(e: UnixError) -> Self {
        match e {
            UnixError::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

/// The address text errors show for `path`.
pub(crate) fn path_text(path: &std::path::Path) -> String {
    PathBuf::from(path).display().to_string()
}
