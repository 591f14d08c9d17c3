//! The WebSocket transport's errors, and the HTTP answer that refuses an
//! upgrade.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use libchan_core::SessionError;
use tokio_tungstenite::tungstenite::{self, error::ProtocolError, http::StatusCode};

/// What went wrong in the WebSocket layer.
///
/// Returned directly by [`connect`](crate::connect), [`accept`](crate::accept)
/// and friends while the connection is set up. Once a session runs, the
/// variants marked *session* end it: the session's error is then
/// [`SessionError::Io`] whose [`std::io::Error`] carries this error as its
/// inner error. [`Error::find`] digs it out of a session or channel error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL or request cannot open a WebSocket (not `ws://` or `wss://`,
    /// no host, a header that is not valid HTTP).
    #[error("invalid WebSocket request: {0}")]
    InvalidRequest(String),
    /// A `wss://` URL, but the connector has no TLS configuration.
    #[error(
        "wss:// needs a TLS configuration: use Connector::with_tls or \
         Connector::with_root_certificates"
    )]
    TlsNotConfigured,
    /// The TCP connection could not be made.
    #[error("could not connect to {addr}")]
    Connect {
        /// The `host:port` dialled.
        addr: String,
        /// What the socket reported.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (bad certificate, no common protocol, the
    /// peer is not speaking TLS).
    #[error("TLS handshake failed")]
    Tls(#[source] io::Error),
    /// Connecting, the TLS handshake and the HTTP upgrade together took
    /// longer than the session's handshake timeout
    /// (`SessionConfig::limits.handshake_timeout`); the connection was
    /// dropped. A peer that sends its request slowly (slowloris) ends here.
    #[error("the WebSocket opening handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    /// Client side: the server answered the upgrade with this HTTP status
    /// instead of `101 Switching Protocols` (for example 401 for a bad token).
    #[error("the server refused the WebSocket upgrade: HTTP {status}{}", body_suffix(.body))]
    Refused {
        /// The status the server answered with.
        status: StatusCode,
        /// The response body, if the server sent one (lossy UTF-8).
        body: Option<String>,
    },
    /// Server side: this side's request check refused the upgrade, and the
    /// client was answered with the rejection's status.
    #[error("the upgrade request was rejected: {0}")]
    Rejected(Rejection),
    /// The HTTP upgrade itself failed: not a WebSocket request, a malformed
    /// request or response, an unexpected header.
    #[error("WebSocket handshake failed")]
    Handshake(#[source] tungstenite::Error),
    /// *Session*: the peer sent a text message. libchan's frames travel in
    /// binary messages only; the session ends and the peer gets close code
    /// 1003 (unsupported data).
    #[error("the peer sent a text message; libchan travels in binary messages only")]
    TextMessage,
    /// *Session*: the peer sent a message (or a WebSocket frame) larger than
    /// this session accepts: its `max_frame_size` plus a fixed headroom.
    /// The peer gets close code 1009 (message too big).
    #[error("the peer sent a WebSocket message of {size} bytes or more, over the limit of {max}")]
    MessageTooLarge {
        /// The size seen when the limit was crossed.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// *Session*: the peer closed the WebSocket before the libchan session
    /// ended (a clean libchan close says goodbye inside the session first).
    /// A close that arrives in the middle of a fragmented message ends up
    /// here too: the partial message is dropped.
    #[error("the peer closed the WebSocket with code {code}{} before the libchan session ended", reason_suffix(.reason))]
    ClosedByPeer {
        /// The close code (1000 normal, 1001 going away, ...; 1005 when
        /// the close frame carried none).
        code: u16,
        /// The reason the peer gave, possibly empty.
        reason: String,
    },
    /// *Session*: the connection ended without a WebSocket close frame
    /// (the peer crashed, or a proxy cut the connection).
    #[error("the WebSocket connection ended without a closing handshake")]
    Reset,
    /// *Session*: the peer broke the WebSocket protocol (bad framing,
    /// reserved bits, an unmasked client frame). The peer gets close code
    /// 1002 (protocol error).
    #[error("WebSocket protocol violation by the peer")]
    Protocol(#[source] ProtocolError),
    /// *Session*: another failure reported by the WebSocket library.
    #[error("WebSocket failure")]
    WebSocket(#[source] tungstenite::Error),
    /// The libchan session could not start over the WebSocket.
    #[error(transparent)]
    Session(#[from] SessionError),
}

fn body_suffix(body: &Option<String>) -> String {
    match body {
        Some(b) if !b.is_empty() => format!(": {b}"),
        _ => String::new(),
    }
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

impl Error {
    /// Finds the WebSocket error behind `err`, which may be this error
    /// itself, a [`SessionError`] or a channel error whose session ended
    /// because of it, or anything else whose `source` chain leads there.
    ///
    /// ```
    /// # fn demo(err: libchan_core::ChannelError) {
    /// use libchan_transport_websocket::Error;
    /// if let Some(Error::ClosedByPeer { code, reason }) = Error::find(&err) {
    ///     eprintln!("the server went away with code {code}: {reason}");
    /// }
    /// # }
    /// ```
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<Error>() {
                return Some(found);
            }
            // `io::Error::source` skips its inner error, so look inside.
            let io = e
                .downcast_ref::<io::Error>()
                .or_else(|| e.downcast_ref::<Arc<io::Error>>().map(|a| &**a));
            if let Some(found) = io
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<Error>())
            {
                return Some(found);
            }
            current = e.source();
        }
        None
    }
}

/// The HTTP answer that refuses an upgrade request: a status (401, 403,
/// 404, ...) and a short text body.
///
/// Returned by a request check ([`Server::check_request`](crate::Server::check_request)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status the client gets. Must not be a 2xx.
    pub status: StatusCode,
    /// A short reason, sent as the response body and kept in
    /// [`Error::Rejected`] on this side.
    pub reason: String,
}

impl Rejection {
    /// Refuses with `status` and `reason`. A 2xx status is answered as
    /// 500, since it would not refuse anything.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        let status = if status.is_success() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        Rejection {
            status,
            reason: reason.into(),
        }
    }

    /// 401 Unauthorized: missing or bad credentials.
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason)
    }

    /// 403 Forbidden: valid credentials, not allowed.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason)
    }

    /// 404 Not Found: no libchan endpoint at this path.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libchan_core::ChannelError;

    #[test]
    fn find_digs_through_session_and_channel_errors() {
        let io = io::Error::new(
            io::ErrorKind::ConnectionAborted,
            Error::ClosedByPeer {
                code: 1001,
                reason: "bye".into(),
            },
        );
        let session = SessionError::from(io);
        let channel = ChannelError::SessionLost(session.clone());
        for err in [
            &session as &(dyn std::error::Error + 'static),
            &channel as &(dyn std::error::Error + 'static),
        ] {
            match Error::find(err) {
                Some(Error::ClosedByPeer { code: 1001, reason }) => assert_eq!(reason, "bye"),
                other => panic!("expected ClosedByPeer, got {other:?}"),
            }
        }
        let unrelated = SessionError::ConnectionLost(libchan_core::ConnectionLoss::Closed);
        assert!(Error::find(&unrelated).is_none());
    }

    #[test]
    fn display_names_the_address_and_does_not_repeat_the_source() {
        let errors = [
            Error::Connect {
                addr: "db.internal:443".into(),
                source: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
            },
            Error::Tls(io::Error::other("bad certificate")),
            Error::Session(SessionError::Io(Arc::new(io::Error::other("reset")))),
        ];
        for err in &errors {
            let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
            while let Some(e) = current {
                if let Some(source) = e.source() {
                    assert!(
                        !e.to_string().contains(&source.to_string()),
                        "{e} repeats {source}"
                    );
                }
                current = e.source();
            }
        }
        assert!(errors[0].to_string().contains("db.internal:443"));
    }

    #[test]
    fn a_rejection_never_has_a_success_status() {
        assert_eq!(
            Rejection::new(StatusCode::OK, "no").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            Rejection::unauthorized("x").status,
            StatusCode::UNAUTHORIZED
        );
    }
}
