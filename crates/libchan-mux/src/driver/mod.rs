//! The tokio driver: runs a [`Connection`](crate::Connection) over any
//! `AsyncRead + AsyncWrite` and implements libchan's session trait on it.
//!
//! Every byte-stream transport (tcp, unix, tls, websocket) hands its
//! connection to [`spawn`] and gets a [`MuxSession`]; none of them depends on
//! another. Two tasks run per connection: a reader that feeds the protocol
//! and delivers messages, and a writer that writes whatever the protocol
//! queued, many frames per write. Sending never hops to another task: a
//! `send` encodes on the caller's task and appends to the transmit buffer.

mod batch;
mod byte_stream;
mod callbacks;
mod codes;
mod deliver;
mod events;
mod export;
mod io;
mod link;
mod sink;
mod state;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use libchan_core::transport::{ExportedReceiver, IncomingEnd};
use libchan_core::{Codec, Initiator, LimitError, Session, SessionError, SessionId, SessionStats};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::{Connection as Proto, ErrorCode, Limits, Role, StreamId, StreamKind};
use deliver::Slot;
pub use link::{Link, LinkRead, LinkWrite, PassedFd, StreamLink};
use sink::MuxSink;
use state::Shared;

/// What a session speaks and its limits.
#[derive(Clone)]
pub struct SessionConfig {
    /// Codecs offered, in preference order (the dialer's order decides).
    pub codecs: Vec<Arc<dyn Codec>>,
    /// Protocol limits and timers; its `codecs` field is filled from
    /// [`codecs`](Self::codecs).
    pub limits: Limits,
    /// Capacity of the channels the session builds for ends that arrive
    /// (accepted channels, ends inside received messages): messages from
    /// local senders queued before `send` waits. Default
    /// [`DEFAULT_CAPACITY`](libchan_core::DEFAULT_CAPACITY).
    pub channel_capacity: usize,
    /// The longest a transport that dials (TCP, TLS over TCP) waits for the
    /// connection to be made, or `None` (the default) for the operating
    /// system's own limit. A connect that runs out fails with
    /// [`SessionError::Connect`] carrying an `io::ErrorKind::TimedOut`.
    pub connect_timeout: Option<std::time::Duration>,
}

impl SessionConfig {
    /// Default limits, speaking `codec` only.
    pub fn new(codec: impl Codec) -> Self {
        Self::with_codecs(vec![Arc::new(codec)])
    }

    /// Default limits, offering `codecs` in preference order.
    pub fn with_codecs(codecs: Vec<Arc<dyn Codec>>) -> Self {
        let names: Vec<String> = codecs.iter().map(|c| c.name().to_owned()).collect();
        SessionConfig {
            codecs,
            limits: Limits::new(names),
            channel_capacity: libchan_core::DEFAULT_CAPACITY,
            connect_timeout: None,
        }
    }

    /// Checks the limits (with the codec list filled in from
    /// [`codecs`](Self::codecs)), as starting a session would; transports
    /// call it before dialling or binding, so an invalid configuration is
    /// [`SessionError::Config`] (its source a [`ConfigError`](crate::ConfigError))
    /// and never a handshake failure after the connection was made.
    pub fn validate(&self) -> Result<(), SessionError> {
        self.checked_limits().map(drop)
    }

    /// The limits the protocol gets, checked.
    fn checked_limits(&self) -> Result<Limits, SessionError> {
        let mut limits = self.limits.clone();
        limits.codecs = self.codecs.iter().map(|c| c.name().to_owned()).collect();
        limits.validate().map_err(SessionError::config)?;
        Ok(limits)
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field(
                "codecs",
                &self.codecs.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .field("channel_capacity", &self.channel_capacity)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A libchan session over one connection. Cheap to clone (all clones are
/// the same session). Implements [`Session`]: use
/// [`SessionExt`](libchan_core::SessionExt)'s `open`/`accept`.
///
/// The connection ends when [`close`](Session::close) or
/// [`abort`](Session::abort) is called, when the peer closes or goes away,
/// or once every clone of the session is dropped: that starts the same
/// graceful close as `close` (channels already open finish first; the
/// peer's unaccepted channels are cancelled, since nobody can accept them).
pub struct MuxSession {
    shared: Arc<Shared>,
    /// Counts the clones; the last one going away lets the session close
    /// when idle.
    _handle: Arc<Handle>,
}

impl Clone for MuxSession {
    fn clone(&self) -> Self {
        MuxSession {
            shared: self.shared.clone(),
            _handle: self._handle.clone(),
        }
    }
}

/// Shared by the clones of one `MuxSession`.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        let shared = &self.0;
        shared
            .orphaned
            .store(true, std::sync::atomic::Ordering::Release);
        // Nobody can accept the peer's waiting channels any more.
        let cancelled = shared.call(|st| {
            let waiting: Vec<StreamId> = st.accept.drain(..).collect();
            let mut dead = Vec::new();
            for id in waiting {
                if st.end.is_none() {
                    st.proto.reset(
                        id,
                        ErrorCode::CANCEL,
                        "nobody accepts channels on this session",
                    );
                }
                dead.extend(st.remove_stream(id));
            }
            dead
        });
        drop(cancelled);
        shared.start_close("every handle of the session was dropped");
    }
}

/// Starts a session over `io` (already connected) and returns at once: the
/// handshake runs in the background and channels can be opened meanwhile.
///
/// Must be called within a tokio runtime. Fails only on an invalid
/// configuration ([`SessionError::Config`]; see [`SessionConfig::validate`]).
pub fn spawn<IO>(io: IO, role: Role, config: SessionConfig) -> Result<MuxSession, SessionError>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn_link(StreamLink(io), role, config, ())
}

/// [`spawn`], holding `guard` until the connection is finished (read and
/// write ended): a listener's slot, say, that bounds concurrent sessions.
pub fn spawn_guarded<IO>(
    io: IO,
    role: Role,
    config: SessionConfig,
    guard: impl Send + 'static,
) -> Result<MuxSession, SessionError>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn_link(StreamLink(io), role, config, guard)
}

/// Starts a session over any [`Link`] (a connection that may pass file
/// descriptors), holding `guard` until the connection is finished.
///
/// Over a link that passes descriptors, this side announces its
/// `max_pending_fds` and sends fd-backed byte streams as descriptors to a
/// peer that accepts them; over any other it announces 0.
pub fn spawn_link<L: Link>(
    link: L,
    role: Role,
    config: SessionConfig,
    guard: impl Send + 'static,
) -> Result<MuxSession, SessionError> {
    let mut limits = config.checked_limits()?;
    let passes_fds = link.passes_fds();
    if !passes_fds {
        limits.max_pending_fds = 0;
    }
    let proto = Proto::new(role, limits.clone(), Instant::now()).map_err(SessionError::config)?;
    let shared = Shared::new(role, config.codecs, proto, &limits, passes_fds);
    shared.channel_capacity.store(
        config.channel_capacity.max(1),
        std::sync::atomic::Ordering::Relaxed,
    );
    *shared
        .guard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Box::new(guard));
    let (rd, wr) = link.split();
    tokio::spawn(io::reader(shared.clone(), rd).instrument(shared.span.clone()));
    tokio::spawn(io::writer(shared.clone(), wr).instrument(shared.span.clone()));
    Ok(MuxSession {
        _handle: Arc::new(Handle(shared.clone())),
        shared,
    })
}

impl MuxSession {
    /// Names the peer (its address, or what else identifies it) in this
    /// session's tracing span, so every event of the session carries it.
    /// Transports call it once the peer is known.
    pub fn record_peer(&self, peer: impl fmt::Display) {
        self.shared
            .span
            .record("peer", tracing::field::display(peer));
    }

    /// Waits until the handshake finished and returns the agreed codec's
    /// name, or the error that ended the session (bad magic, version or
    /// codec mismatch, handshake timeout, lost connection).
    pub async fn handshake(&self) -> Result<String, SessionError> {
        loop {
            let notified = self.shared.accept_wake.notified();
            {
                let st = self.shared.lock();
                if let Some(e) = &st.end {
                    return Err(e.clone());
                }
                if st.ready {
                    if let Some(c) = self.shared.agreed.get() {
                        return Ok(c.name().to_owned());
                    }
                }
            }
            notified.await;
        }
    }

    /// Which side of the connection this is.
    pub fn role(&self) -> Role {
        self.shared.role
    }
}

#[async_trait]
impl Session for MuxSession {
    fn id(&self) -> SessionId {
        self.shared.id
    }

    fn open_end(&self, end: ExportedReceiver) -> Result<(), SessionError> {
        let id = {
            let mut st = self.shared.lock();
            if let Some(e) = &st.end {
                return Err(e.clone());
            }
            let id = st
                .proto
                .open(StreamKind::OpenerSends, true)
                .map_err(|e| match e {
                    crate::StreamError::Closing => SessionError::Closed,
                    crate::StreamError::StreamLimit { max } => SessionError::Limit(LimitError {
                        what: "max_streams (the peer's MAX_STREAMS)",
                        limit: max,
                        actual: max + 1,
                    }),
                    other => SessionError::Protocol {
                        initiator: libchan_core::Initiator::Local,
                        code: ErrorCode::INTERNAL_ERROR.0,
                        reason: other.to_string(),
                    },
                })?;
            st.streams.entry(id).or_default();
            id
        };
        self.shared.writer_wake.notify_one();
        end.attach(Arc::new(MuxSink::new(&self.shared, id)));
        Ok(())
    }

    async fn accept_end(&self) -> Result<Option<IncomingEnd>, SessionError> {
        loop {
            let notified = self.shared.accept_wake.notified();
            {
                let mut st = self.shared.lock();
                if let Some(id) = st.accept.pop_front() {
                    // Accepting claims a slot: credit flows once a feed is attached.
                    return Ok(Some(IncomingEnd::Inbound(Box::new(Slot {
                        shared: self.shared.clone(),
                        id,
                        attached: false,
                    }))));
                }
                match &st.end {
                    Some(SessionError::Closed) => return Ok(None),
                    Some(e) => return Err(e.clone()),
                    None if st.proto.is_closing() => return Ok(None),
                    None => {}
                }
            }
            notified.await;
        }
    }

    async fn close(&self) -> Result<(), SessionError> {
        self.shared.start_close("session closed");
        loop {
            let notified = self.shared.accept_wake.notified();
            {
                let st = self.shared.lock();
                if st.done {
                    return match &st.end {
                        None | Some(SessionError::Closed) => Ok(()),
                        Some(e) => Err(e.clone()),
                    };
                }
            }
            notified.await;
        }
    }

    fn abort(&self, reason: &str) {
        self.shared.call(|st| {
            st.proto.goaway(Instant::now(), ErrorCode::ABORTED, reason);
        });
        self.shared.end(SessionError::Aborted {
            initiator: Initiator::Local,
            reason: reason.to_owned(),
        });
    }

    async fn handshake(&self) -> Result<(), SessionError> {
        MuxSession::handshake(self).await.map(drop)
    }

    fn channel_capacity(&self) -> usize {
        self.shared
            .channel_capacity
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn stats(&self) -> SessionStats {
        let st = self.shared.lock();
        let mut stats = SessionStats::default();
        stats.streams = st.proto.stream_count();
        stats.forwarders = st.streams.values().filter(|e| e.forwarder).count();
        stats.pending_accepts = st.accept.len();
        stats.buffered_in = st.proto.session_buffered();
        stats.buffered_out = st.proto.transmit_len() as u64;
        let moved = st.proto.counters();
        stats.bytes_in = moved.bytes_in;
        stats.bytes_out = moved.bytes_out;
        stats.messages_in = moved.messages_in;
        stats.messages_out = moved.messages_out;
        stats
    }
}

impl fmt::Debug for MuxSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MuxSession")
            .field("id", &self.shared.id)
            .field("role", &self.shared.role)
            .finish()
    }
}
