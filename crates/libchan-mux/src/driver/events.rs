//! Turning the protocol's events into work on the channels.
//!
//! Called under the session lock by the reader (after input and timers),
//! the writer (after taking the transmit buffer, which may unblock
//! streams) and handles (after a protocol call); the returned effects run
//! after unlocking. Events caused by input are always processed in the same
//! critical section as the input, so they keep their order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use libchan_core::{ChannelError, LimitError, SessionError};

use super::codes::{reset_code, reset_reason, session_error};
use super::deliver::on_data;
use super::export::abandon;
use super::state::{ByteState, Effect, Shared, State};
use crate::{Event, SendError, StreamId, StreamKind};

/// Acts on every pending protocol event; returns the work that must run
/// after unlocking.
pub(crate) fn process(shared: &Arc<Shared>, st: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    while let Some(event) = st.proto.poll_event() {
        match event {
            Event::Ready { codec, .. } => {
                st.ready = true;
                let chosen = shared.codecs.iter().find(|c| c.name() == codec).cloned();
                let Some(c) = chosen else {
                    effects.push(lost(
                        shared,
                        st,
                        SessionError::Handshake(libchan_core::HandshakeError::UnknownCodec(
                            codec.clone(),
                        )),
                    ));
                    return effects;
                };
                if shared.agreed.set(c).is_ok() {
                    // Offered alone, a codec is named from the start.
                    shared.span.record("codec", codec.as_str());
                }
                if st.end.is_none() {
                    shared.open_for_sends.store(true, Ordering::Release);
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
                if kind == StreamKind::Fd {
                    // Its descriptor came no later than this OPEN.
                    let Some(fd) = st.fds_in.pop_front() else {
                        effects.push(lost(
                            shared,
                            st,
                            SessionError::Protocol {
                                initiator: libchan_core::Initiator::Local,
                                code: crate::ErrorCode::PROTOCOL_ERROR.0,
                                reason: format!(
                                    "OPEN of descriptor stream {id} without a descriptor"
                                ),
                            },
                        ));
                        st.proto.goaway(
                            std::time::Instant::now(),
                            crate::ErrorCode::PROTOCOL_ERROR,
                            "a descriptor stream came without its descriptor",
                        );
                        return effects;
                    };
                    st.streams.entry(id).or_default().fd = Some(fd);
                    continue;
                }
                let entry = st.streams.entry(id).or_default();
                if kind == StreamKind::Bytes {
                    entry.bytes = Some(ByteState::default());
                }
                if top_level {
                    st.accept.push_back(id);
                    effects.push(Effect::WakeAccept);
                }
            }
            Event::FdRefused { .. } => {
                // Its descriptor is closed, not kept.
                if let Some(fd) = st.fds_in.pop_front() {
                    effects.push(Effect::Drop(Box::new(fd)));
                }
            }
            Event::Data { id, payload } => on_data(st, id, payload, &mut effects),
            Event::Credit { id } => on_credit(st, id, &mut effects),
            Event::Closed { id } => effects.push(Effect::PeerClosed(id)),
            Event::Reset { id, code, reason } => effects.push(Effect::PeerReset(id, code, reason)),
            Event::PingAck { .. } => {}
            Event::GoAway { .. } => {
                // The peer is closing: `accept` ends once its queue is empty,
                // `open` fails; open channels carry on.
                effects.push(Effect::WakeAccept);
            }
            Event::Drained => {
                effects.push(lost(shared, st, SessionError::Closed));
                return effects;
            }
            Event::Failed(err) => {
                effects.push(lost(shared, st, session_error(shared.role, &err)));
                return effects;
            }
        }
    }
    effects
}

/// Stream `id` may send again: a parked message goes first, then the
/// channel's queue or the byte stream's writer.
fn on_credit(st: &mut State, id: StreamId, effects: &mut Vec<Effect>) {
    let Some(entry) = st.streams.get_mut(&id) else {
        return;
    };
    if let Some(parked) = entry.parked.take() {
        match st.proto.send_data(id, &parked.payload) {
            Ok(()) => {
                if let Some(resolver) = parked.resolver {
                    effects.push(Effect::Resolve(resolver, Ok(())));
                }
            }
            Err(SendError::Blocked) => {
                if let Some(entry) = st.streams.get_mut(&id) {
                    entry.parked = Some(parked);
                }
                return;
            }
            Err(e) => {
                // Parked before the peer's HELLO, and larger than the limit
                // it then announced.
                let err = match e {
                    SendError::TooLarge { len, max } => ChannelError::Limit(LimitError {
                        what: "max_frame_size (the peer's MAX_FRAME_SIZE)",
                        limit: u64::from(max),
                        actual: len as u64,
                    }),
                    _ => ChannelError::Closed,
                };
                effects.extend(abandon(st, &parked.exports, &err));
                let unheard = match parked.resolver {
                    Some(resolver) => resolver.resolve(Err(err)),
                    None => Err(err),
                };
                if let Err(err) = unheard {
                    // Nobody waits for this message's outcome (it was sent
                    // from the queue): the channel breaks with the reason.
                    st.proto.reset(id, reset_code(&err), &reset_reason(&err));
                    if let Some(mut done) = st.remove_stream(id) {
                        if let Some(drain) = done.drain.take() {
                            effects.push(Effect::FailDrain(drain, err));
                        }
                        effects.push(Effect::Drop(Box::new(done)));
                    }
                    return;
                }
                // The `send` got the error; the channel lives on.
            }
        }
        let Some(entry) = st.streams.get_mut(&id) else {
            return;
        };
        entry.parked_flag.store(false, Ordering::Release);
        if entry.close_when_unparked {
            let _ = st.proto.close(id);
            if let Some(done) = st.remove_stream(id) {
                effects.push(Effect::Drop(Box::new(done)));
            }
            return;
        }
    }
    let Some(entry) = st.streams.get_mut(&id) else {
        return;
    };
    if let Some(d) = &entry.drain {
        effects.push(Effect::Pump(d.clone()));
    }
    if let Some(w) = entry.bytes.as_mut().and_then(|b| b.write_waker.take()) {
        effects.push(Effect::Wake(w));
    }
}

/// Marks the session ended from inside event processing; the returned
/// effect fails what must fail once the lock is released.
fn lost(shared: &Shared, st: &mut State, err: SessionError) -> Effect {
    let pending_end = err.clone();
    st.end.get_or_insert(err);
    shared.open_for_sends.store(false, Ordering::Release);
    Effect::End(pending_end)
}
