//! The HTTP/2 transport's errors, and the HTTP answer that refuses a
//! session request.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use libchan_core::{Initiator, SessionError};

/// What went wrong in the HTTP/2 layer.
///
/// Returned directly by [`connect`](crate::connect),
/// [`Listener::accept`](crate::Listener::accept) and friends while a session
/// is set up. Once a session runs, the variants marked *session* end it:
/// the session's error is then [`SessionError::Io`] whose
/// [`std::io::Error`] carries this error as its inner error, and
/// [`Error::find`] digs it out of a session or channel error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL or request cannot start a session (not `http://` or
    /// `https://`, no host, a header HTTP/2 forbids).
    #[error("invalid HTTP/2 request: {0}")]
    InvalidRequest(String),
    /// An `https://` URL, but the connector has no TLS configuration.
    #[error(
        "https:// needs a TLS configuration: use Connector::with_tls or \
         Connector::with_root_certificates"
    )]
    TlsNotConfigured,
    /// The TCP connection could not be made.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The `host:port` dialled.
        addr: String,
        /// What the socket reported.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (bad certificate, the peer is not speaking
    /// TLS).
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] io::Error),
    /// TLS worked but the two sides did not agree on HTTP/2 through ALPN
    /// (`h2`): `negotiated` is what was agreed instead, `None` for nothing.
    #[error("the TLS peer did not agree to HTTP/2 (ALPN h2); negotiated {}", alpn_name(.negotiated))]
    AlpnMismatch {
        /// The protocol ALPN settled on, if any.
        negotiated: Option<Vec<u8>>,
    },
    /// Connecting, TLS, the HTTP/2 handshake and the session request
    /// together took longer than the session's handshake timeout
    /// (`SessionConfig::limits.handshake_timeout`); the connection was
    /// dropped. A peer that sends nothing (slowloris) ends here.
    #[error("the HTTP/2 session request did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    /// Client side: the server (or a proxy in front of it) answered the
    /// session request with this status instead of `200` (401 for a bad
    /// token, 404 for a wrong path, 502 from a proxy whose backend is down).
    #[error("the server refused the session: HTTP {status}{}", body_suffix(.body))]
    Refused {
        /// The status the server answered with.
        status: StatusCode,
        /// The start of the response body, if any (lossy UTF-8, at most
        /// 4 KiB).
        body: Option<String>,
    },
    /// Server side: this side's request check refused the request, and the
    /// client was answered with the rejection's status.
    #[error("the session request was rejected: {0}")]
    Rejected(Rejection),
    /// The HTTP/2 connection could not be set up (the peer does not speak
    /// HTTP/2, a malformed preface, SETTINGS refused).
    #[error("HTTP/2 handshake failed: {0}")]
    Handshake(#[source] h2::Error),
    /// *Session*: the HTTP/2 stream carrying the session was reset
    /// (`RST_STREAM`), by the peer or a proxy (`initiator: Remote`) or by
    /// this side's HTTP/2 library (`Local`). Only this session breaks;
    /// other streams of the connection carry on.
    #[error("the HTTP/2 stream carrying the session was reset by the {initiator} ({reason:?})")]
    StreamReset {
        /// The `RST_STREAM` error code.
        reason: h2::Reason,
        /// Who reset it.
        initiator: Initiator,
    },
    /// *Session*: the HTTP/2 connection ended with `GOAWAY` carrying an
    /// error code (or a graceful `GOAWAY` that the stream did not survive),
    /// sent by the `initiator`. Every session on the connection breaks.
    #[error("the HTTP/2 connection was shut down by the {initiator} with GOAWAY ({reason:?})")]
    GoAway {
        /// The `GOAWAY` error code.
        reason: h2::Reason,
        /// Who sent it.
        initiator: Initiator,
    },
    /// *Session*: another HTTP/2 failure (a protocol violation by the peer,
    /// a library error).
    #[error("HTTP/2 failure: {0}")]
    Http2(#[source] h2::Error),
    /// *Session*, when mounted in an HTTP server: the request body failed
    /// (the server library's own error).
    #[error("the request body failed: {0}")]
    Body(#[source] libchan_core::BoxError),
    /// The libchan session could not start over the stream.
    #[error(transparent)]
    Session(#[from] SessionError),
}

fn alpn_name(alpn: &Option<Vec<u8>>) -> String {
    match alpn {
        Some(p) => format!("{:?}", String::from_utf8_lossy(p)),
        None => "nothing".to_owned(),
    }
}

fn body_suffix(body: &Option<String>) -> String {
    match body {
        Some(b) if !b.is_empty() => format!(": {b}"),
        _ => String::new(),
    }
}

impl Error {
    /// Classifies an error of the h2 library met while a session runs: a
    /// stream reset, a `GOAWAY`, an IO failure of the connection, or
    /// anything else.
    pub(crate) fn from_h2(err: h2::Error) -> Error {
        let initiator = if err.is_remote() {
            Initiator::Remote
        } else {
            Initiator::Local
        };
        match err.reason() {
            Some(reason) if err.is_reset() => Error::StreamReset { reason, initiator },
            Some(reason) if err.is_go_away() => Error::GoAway { reason, initiator },
            _ => Error::Http2(err),
        }
    }

    /// Wraps a session-ending error for the mux driver: an IO error whose
    /// inner error is this one, except that an IO failure of the
    /// connection stays the IO error it is.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Http2(e) if e.is_io() => None,
            Error::StreamReset { .. } => Some(io::ErrorKind::ConnectionReset),
            Error::GoAway { .. } => Some(io::ErrorKind::ConnectionAborted),
            _ => Some(io::ErrorKind::Other),
        };
        match (kind, self) {
            (None, Error::Http2(e)) => e
                .into_io()
                .unwrap_or_else(|| io::Error::other("HTTP/2 connection failed")),
            (kind, err) => io::Error::new(kind.unwrap_or(io::ErrorKind::Other), err),
        }
    }

    /// Finds the HTTP/2 transport error behind `err`, which may be this
    /// error itself, a [`SessionError`] or a channel error whose session
    /// ended because of it, or anything else whose `source` chain leads
    /// there.
    ///
    /// ```
    /// # fn demo(err: libchan_core::ChannelError) {
    /// use libchan_transport_http2::Error;
    /// if let Some(Error::StreamReset { reason, .. }) = Error::find(&err) {
    ///     eprintln!("a proxy reset the session's stream: {reason:?}");
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

/// The HTTP answer that refuses a session request: a status (401, 403,
/// 404, ...) and a short text body.
///
/// Returned by a request check ([`Server::check_request`](crate::Server::check_request));
/// [`Rejection::response`] builds the same answer for an HTTP server that
/// routes requests itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status the client gets. Never a 2xx.
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

    /// The HTTP response that carries this rejection: its status, a
    /// `text/plain` body with the reason.
    pub fn response(&self) -> http::Response<crate::ResponseBody> {
        let mut response = http::Response::new(crate::ResponseBody::text(self.reason.clone()));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
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
        let io = Error::StreamReset {
            reason: h2::Reason::CANCEL,
            initiator: Initiator::Remote,
        }
        .into_io();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        let session = SessionError::from(io);
        let channel = ChannelError::SessionLost(session.clone());
        for err in [
            &session as &(dyn std::error::Error + 'static),
            &channel as &(dyn std::error::Error + 'static),
        ] {
            match Error::find(err) {
                Some(Error::StreamReset { reason, initiator }) => {
                    assert_eq!(*reason, h2::Reason::CANCEL);
                    assert_eq!(*initiator, Initiator::Remote);
                }
                other => panic!("expected StreamReset, got {other:?}"),
            }
        }
        let unrelated = SessionError::ConnectionLost(libchan_core::ConnectionLoss::Closed);
        assert!(Error::find(&unrelated).is_none());
    }

    #[test]
    fn a_rejection_never_has_a_success_status() {
        assert_eq!(
            Rejection::new(StatusCode::OK, "no").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let r = Rejection::unauthorized("a token is required");
        assert_eq!(r.response().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.to_string(), "HTTP 401 Unauthorized: a token is required");
    }
}
