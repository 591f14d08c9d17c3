//! The in-memory session pair.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use libchan_core::transport::{Breaker, ExportedReceiver, IncomingEnd};
use libchan_core::{ChannelError, LimitError, Session, SessionError, SessionId, SessionStats};
use tokio::sync::Notify;

/// Limits of an in-memory pair.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Top-level channels that may wait for `accept` on one side before
    /// `open` on the other fails. Default 4096: far above any sane burst,
    /// low enough that a peer that never accepts cannot grow memory forever.
    pub max_pending_accepts: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_pending_accepts: 4096,
        }
    }
}

/// One side of an in-memory session pair; see [`pair`].
pub struct InmemSession {
    id: SessionId,
    link: Arc<Link>,
    /// Index of this side's inbox in `link.sides`; the peer's is `1 - side`.
    side: usize,
}

/// Creates two connected sessions: `(dialer, acceptor)`.
pub fn pair() -> (InmemSession, InmemSession) {
    pair_with_config(Config::default())
}

/// [`pair`] with explicit limits.
pub fn pair_with_config(config: Config) -> (InmemSession, InmemSession) {
    let link = Arc::new(Link {
        config,
        state: Mutex::new(LinkState {
            inboxes: [VecDeque::new(), VecDeque::new()],
            closed: false,
            lost: None,
            breakers: Vec::new(),
        }),
        notify: [Notify::new(), Notify::new()],
    });
    (
        InmemSession {
            id: libchan_core::transport::new_session_id(),
            link: link.clone(),
            side: 0,
        },
        InmemSession {
            id: libchan_core::transport::new_session_id(),
            link,
            side: 1,
        },
    )
}

struct Link {
    config: Config,
    state: Mutex<LinkState>,
    /// Woken when side `i`'s inbox gains a channel or the link ends.
    notify: [Notify; 2],
}

struct LinkState {
    inboxes: [VecDeque<Box<dyn Any + Send>>; 2],
    closed: bool,
    lost: Option<SessionError>,
    /// Every top-level channel opened over the link, to break on abort.
    breakers: Vec<Breaker>,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_both(&self) {
        for n in &self.notify {
            n.notify_waiters();
            n.notify_one();
        }
    }
}

impl InmemSession {
    /// Breaks the pair as a lost connection would: both sides' `accept`
    /// fail, and every top-level channel opened over the pair breaks with
    /// `err`.
    fn break_link(&self, err: SessionError) {
        let breakers = {
            let mut st = self.link.lock();
            if st.lost.is_none() {
                st.lost = Some(err.clone());
            }
            st.inboxes = [VecDeque::new(), VecDeque::new()];
            std::mem::take(&mut st.breakers)
        };
        for b in breakers {
            b.break_with(ChannelError::SessionLost(err.clone()));
        }
        self.link.wake_both();
    }
}

#[async_trait]
impl Session for InmemSession {
    fn id(&self) -> SessionId {
        self.id
    }

    fn open_end(&self, end: ExportedReceiver) -> Result<(), SessionError> {
        let peer = 1 - self.side;
        {
            let mut st = self.link.lock();
            if let Some(e) = &st.lost {
                return Err(e.clone());
            }
            if st.closed {
                return Err(SessionError::Closed);
            }
            let pending = st.inboxes[peer].len();
            if pending >= self.link.config.max_pending_accepts {
                return Err(SessionError::Limit(LimitError {
                    what: "max_pending_accepts",
                    limit: self.link.config.max_pending_accepts as u64,
                    actual: pending as u64 + 1,
                }));
            }
            if let Some(b) = end.breaker() {
                // Keep the list proportional to the live channels.
                if st.breakers.len() >= 64 && st.breakers.len().is_power_of_two() {
                    st.breakers.retain(Breaker::is_alive);
                }
                st.breakers.push(b);
            }
            st.inboxes[peer].push_back(end.into_any());
        }
        self.link.notify[peer].notify_one();
        Ok(())
    }

    async fn accept_end(&self) -> Result<Option<IncomingEnd>, SessionError> {
        loop {
            let notified = self.link.notify[self.side].notified();
            {
                let mut st = self.link.lock();
                if let Some(e) = &st.lost {
                    return Err(e.clone());
                }
                if let Some(end) = st.inboxes[self.side].pop_front() {
                    return Ok(Some(IncomingEnd::Local(end)));
                }
                if st.closed {
                    return Ok(None);
                }
            }
            notified.await;
        }
    }

    async fn close(&self) -> Result<(), SessionError> {
        let lost = {
            let mut st = self.link.lock();
            st.closed = true;
            st.lost.clone()
        };
        self.link.wake_both();
        lost.map_or(Ok(()), Err)
    }

    /// Nothing to agree on in memory: `Ok` at once, or the error that
    /// broke the pair.
    async fn handshake(&self) -> Result<(), SessionError> {
        self.link.lock().lost.clone().map_or(Ok(()), Err)
    }

    fn abort(&self, reason: &str) {
        self.break_link(SessionError::Aborted {
            initiator: libchan_core::Initiator::Local,
            reason: reason.to_owned(),
        });
    }

    fn stats(&self) -> SessionStats {
        let mut stats = SessionStats::default();
        stats.pending_accepts = self.link.lock().inboxes[self.side].len();
        stats
    }
}

impl Drop for InmemSession {
    /// A side that goes away closes the pair cleanly: the peer's `accept`
    /// returns `None` once it took what was opened before. Channels opened
    /// over the pair live on: they do not depend on the sessions.
    fn drop(&mut self) {
        self.link.lock().closed = true;
        self.link.wake_both();
    }
}

impl fmt::Debug for InmemSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InmemSession")
            .field("id", &self.id)
            .field("side", &self.side)
            .finish()
    }
}
