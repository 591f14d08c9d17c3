//! The two tasks that move bytes: the reader feeds the protocol and acts on
//! its events, the writer writes whatever the protocol queued, many frames
//! per write.

use std::sync::Arc;
use std::time::Instant;

use libchan_core::{ChannelError, Initiator, LimitError, SessionError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::deliver::on_data;
use super::state::{ByteState, Effect, Shared, State};
use crate::{Error as ProtoError, ErrorCode, Event, StreamKind};

/// Bytes read per syscall.
const READ_CHUNK: usize = 64 * 1024;

/// Most bytes of replies to the peer's own frames (PING acknowledgements,
/// RESETs refusing its OPENs) that may wait unwritten because the peer does
/// not read. A peer that makes us queue more is ending the session: without
/// this cap, one that floods refused OPENs and never reads would grow our
/// memory as fast as it sends. 1 MiB is thousands of times what an honest
/// peer leaves pending.
const MAX_REPLY_BACKLOG: usize = 1 << 20;

/// Reads the connection until it ends, feeding the protocol.
pub(crate) async fn reader<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut rd: R) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let (deadline, ended) = {
            let st = shared.lock();
            (st.proto.poll_timeout(), st.end.is_some())
        };
        if ended {
            return;
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) => {
                    let clean = matches!(shared.ended(), Some(SessionError::Closed));
                    if !clean {
                        shared.end(SessionError::ConnectionLost(
                            "the peer closed the connection without ending the session".into(),
                        ));
                    }
                    return;
                }
                Ok(n) => {
                    let effects = {
                        let mut st = shared.lock();
                        let before = st.proto.transmit_len();
                        let _ = st.proto.handle_input(Instant::now(), &buf[..n]);
                        let replies = st.proto.transmit_len().saturating_sub(before);
                        st.reply_backlog = st.reply_backlog.saturating_add(replies);
                        if st.reply_backlog > MAX_REPLY_BACKLOG && st.end.is_none() {
                            let why = format!(
                                "the peer keeps sending but does not read our replies \
                                 ({} bytes pending, limit {MAX_REPLY_BACKLOG})",
                                st.reply_backlog
                            );
                            st.proto.goaway(ErrorCode::LIMIT_EXCEEDED, &why);
                            drop(st);
                            shared.end(SessionError::Limit(LimitError {
                                what: "reply backlog (bytes of replies the peer does not read)",
                                limit: MAX_REPLY_BACKLOG as u64,
                                actual: MAX_REPLY_BACKLOG as u64 + 1,
                            }));
                            return;
                        }
                        process_events(&shared, &mut st)
                    };
                    shared.writer_wake.notify_one();
                    shared.run(effects);
                    shared.close_if_idle();
                }
                Err(e) => {
                    shared.end(SessionError::from(e));
                    return;
                }
            },
            () = sleep => {
                let effects = {
                    let mut st = shared.lock();
                    st.proto.handle_timeout(Instant::now());
                    process_events(&shared, &mut st)
                };
                shared.writer_wake.notify_one();
                shared.run(effects);
            }
            () = shared.reader_wake.notified() => {
                let effects = {
                    let mut st = shared.lock();
                    process_events(&shared, &mut st)
                };
                shared.run(effects);
                shared.run_flush_queue();
            }
        }
    }
}

/// Writes what the protocol queued until the session ends, then flushes
/// the last frames (a GOAWAY) and shuts the connection down.
pub(crate) async fn writer<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut wr: W) {
    // Two buffers take turns: the protocol fills one while this task writes
    // the other, so steady state allocates nothing.
    let mut bytes = bytes::BytesMut::new();
    loop {
        bytes.clear();
        let (taken, ended) = {
            let mut st = shared.lock();
            (st.proto.poll_transmit_into(&mut bytes), st.end.is_some())
        };
        match taken {
            true => {
                // A write may wait forever on a peer that does not read. The
                // last frames of an ended session (its GOAWAY) get at most the
                // handshake timeout; a write under way when the session fails
                // is abandoned with the connection.
                let failed = shared.failed.notified();
                tokio::pin!(failed);
                failed.as_mut().enable();
                let result = if ended || shared.has_failed() {
                    tokio::time::timeout(shared.linger, wr.write_all(&bytes))
                        .await
                        .unwrap_or_else(|_| {
                            Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "the peer did not read the session's last frames",
                            ))
                        })
                } else {
                    tokio::select! {
                        r = wr.write_all(&bytes) => r,
                        () = &mut failed => return,
                    }
                };
                if let Err(e) = result {
                    shared.end(SessionError::from(e));
                    return;
                }
                // Whatever was written, the peer is reading: replies count
                // as delivered first (the check only needs a bound).
                let mut st = shared.lock();
                st.reply_backlog = st.reply_backlog.saturating_sub(bytes.len());
            }
            false if ended => {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                return;
            }
            false => {
                if let Err(e) = wr.flush().await {
                    shared.end(SessionError::from(e));
                    return;
                }
                shared.close_if_idle();
                shared.writer_wake.notified().await;
                // Let the tasks that woke us queue more frames first: one
                // write then carries many small messages.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Acts on every pending protocol event under the lock; returns the work
/// that must run after unlocking.
fn process_events(shared: &Arc<Shared>, st: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    while let Some(event) = st.proto.poll_event() {
        match event {
            Event::Ready { codec, .. } => {
                st.ready = true;
                let chosen = shared.codecs.iter().find(|c| c.name() == codec).cloned();
                match chosen {
                    Some(c) => {
                        let _ = shared.agreed.set(c);
                        if st.end.is_none() {
                            shared
                                .open_for_sends
                                .store(true, std::sync::atomic::Ordering::Release);
                        }
                    }
                    None => {
                        effects.push(lost(
                            shared,
                            st,
                            SessionError::Handshake(format!(
                                "the peer chose codec {codec:?}, which this side did not offer"
                            )),
                        ));
                        return effects;
                    }
                }
                effects.push(Effect::WakeAccept);
                for entry in st.streams.values() {
                    if let Some(d) = &entry.drain {
                        effects.push(Effect::Pump(d.clone()));
                    }
                }
            }
            Event::Opened {
                id,
                kind,
                top_level,
            } => {
                let entry = st.streams.entry(id).or_default();
                if kind == StreamKind::Bytes {
                    entry.bytes = Some(ByteState::default());
                }
                if top_level {
                    st.accept.push_back(id);
                    effects.push(Effect::WakeAccept);
                }
            }
            Event::Data { id, payload } => {
                if let Some(e) = on_data(st, id, payload) {
                    effects.push(e);
                }
            }
            Event::Credit { id } => {
                let Some(entry) = st.streams.get_mut(&id) else {
                    continue;
                };
                if let Some(parked) = entry.parked.take() {
                    match st.proto.send_data(id, &parked) {
                        Ok(()) => {}
                        Err(crate::SendError::Blocked) => {
                            if let Some(entry) = st.streams.get_mut(&id) {
                                entry.parked = Some(parked);
                            }
                            continue;
                        }
                        Err(e) => {
                            // Parked before the peer's HELLO, and larger than
                            // the limit it then announced: the send already
                            // returned, so the channel breaks with the reason.
                            let err = match e {
                                crate::SendError::TooLarge { len, max } => {
                                    ChannelError::Limit(LimitError {
                                        what: "max_message_size (the peer's MAX_FRAME_SIZE)",
                                        limit: u64::from(max),
                                        actual: len as u64,
                                    })
                                }
                                _ => ChannelError::Closed,
                            };
                            st.proto
                                .reset(id, ErrorCode::LIMIT_EXCEEDED, &err.to_string());
                            if let Some(mut done) = st.streams.remove(&id) {
                                if let Some(drain) = done.drain.take() {
                                    effects.push(Effect::FailDrain(drain, err));
                                }
                                effects.push(Effect::Drop(Box::new(done)));
                            }
                            continue;
                        }
                    }
                    let Some(entry) = st.streams.get_mut(&id) else {
                        continue;
                    };
                    entry
                        .parked_flag
                        .store(false, std::sync::atomic::Ordering::Release);
                    if entry.close_when_unparked {
                        let _ = st.proto.close(id);
                        if let Some(done) = st.streams.remove(&id) {
                            effects.push(Effect::Drop(Box::new(done)));
                        }
                        continue;
                    }
                }
                let Some(entry) = st.streams.get_mut(&id) else {
                    continue;
                };
                if let Some(d) = &entry.drain {
                    effects.push(Effect::Pump(d.clone()));
                }
                if let Some(w) = entry.bytes.as_mut().and_then(|b| b.write_waker.take()) {
                    effects.push(Effect::Wake(w));
                }
            }
            Event::Closed { id } => effects.push(Effect::PeerClosed(id)),
            Event::Reset { id, code, reason } => effects.push(Effect::PeerReset(id, code, reason)),
            Event::PingAck { .. } => {}
            Event::GoAway { .. } => {
                effects.push(lost(shared, st, SessionError::Closed));
                return effects;
            }
            Event::Failed(err) => {
                effects.push(lost(shared, st, session_error(shared, &err)));
                return effects;
            }
        }
    }
    effects
}

/// Marks the session ended from inside event processing; the returned
/// effect fails every stream once the lock is released.
fn lost(shared: &Shared, st: &mut State, err: SessionError) -> Effect {
    // `Shared::end` takes the lock itself; record the error now so nothing
    // new starts, and let the effect do the rest.
    let pending_end = err.clone();
    st.end.get_or_insert(err);
    shared
        .open_for_sends
        .store(false, std::sync::atomic::Ordering::Release);
    Effect::End(pending_end)
}

/// Maps a protocol failure to the error users see.
fn session_error(shared: &Shared, err: &ProtoError) -> SessionError {
    match err {
        ProtoError::CodecMismatch { dialer, acceptor } => {
            let (local, remote) = match shared.role {
                crate::Role::Dialer => (dialer.clone(), acceptor.clone()),
                crate::Role::Acceptor => (acceptor.clone(), dialer.clone()),
            };
            SessionError::CodecMismatch { local, remote }
        }
        ProtoError::BadMagic
        | ProtoError::VersionMismatch { .. }
        | ProtoError::RoleConflict(_)
        | ProtoError::HandshakeTimeout(_) => SessionError::Handshake(err.to_string()),
        ProtoError::Remote { code, reason } => SessionError::Protocol {
            initiator: Initiator::Remote,
            code: code.0,
            reason: reason.clone(),
        },
        ProtoError::KeepaliveTimeout(_) => SessionError::ConnectionLost(err.to_string()),
        other => SessionError::Protocol {
            initiator: Initiator::Local,
            code: other.code().0,
            reason: other.to_string(),
        },
    }
}
