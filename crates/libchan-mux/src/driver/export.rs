//! The session's exporter: turns the ends inside a message being encoded
//! into streams, and undoes that if the message is not sent.

use std::sync::Arc;

use libchan_core::nest::{ChannelRef, Exporter, OutgoingEnd, RefKind};
use libchan_core::transport::DrainHandle;
use libchan_core::{ByteStream, ByteStreamError, ChannelError, Initiator, NestError};

use super::byte_stream::{bridge, MuxByteStream};
use super::callbacks::{CancelOnGone, StreamCredit};
use super::sink::MuxSink;
use super::state::{ByteState, Effect, Shared, State};
use crate::{ErrorCode, StreamId, StreamKind};

/// Installed while a message is encoded: each end in it becomes a stream.
#[derive(Default)]
pub(crate) struct SessionExporter {
    /// The session of the message being encoded; `None` while the
    /// allocation waits in the thread's cache (so it keeps no session alive).
    shared: Option<Arc<Shared>>,
    /// Streams opened for this message (undone if it is not sent).
    opened: Vec<StreamId>,
    /// Receivers that now drain onto new streams: pumped once the message
    /// that names them is queued.
    drains: Vec<StreamId>,
    /// Descriptors this message passes.
    fds: u64,
}

impl SessionExporter {
    pub(crate) fn bind(&mut self, shared: &Arc<Shared>) {
        self.shared = Some(shared.clone());
    }

    pub(crate) fn opened(&self) -> &[StreamId] {
        &self.opened
    }

    fn shared(&self) -> &Arc<Shared> {
        self.shared
            .as_ref()
            .expect("an exporter in scope is bound to the session encoding")
    }

    fn open(&mut self, kind: StreamKind) -> Result<StreamId, NestError> {
        let shared = self.shared().clone();
        let mut st = shared.lock();
        if let Some(e) = &st.end {
            return Err(NestError::Refused(format!("the session has ended: {e}")));
        }
        let id = st
            .proto
            .open(kind, false)
            .map_err(|e| NestError::Refused(e.to_string()))?;
        let entry = st.streams.entry(id).or_default();
        if kind == StreamKind::Bytes {
            entry.bytes = Some(ByteState::default());
        }
        drop(st);
        self.opened.push(id);
        Ok(id)
    }

    /// The message was queued or parked (`failed` is `None`): pump the new
    /// drains. Or it failed: fail every end it carried with that error.
    /// Hands the emptied exporter back for reuse.
    pub(crate) fn finish(mut self: Box<Self>, failed: Option<&ChannelError>) -> Box<Self> {
        if let Some(shared) = self.shared.take() {
            if !self.opened.is_empty() {
                match failed {
                    None => {
                        let drains: Vec<DrainHandle> = {
                            let st = shared.lock();
                            self.drains
                                .iter()
                                .filter_map(|id| st.streams.get(id).and_then(|e| e.drain.clone()))
                                .collect()
                        };
                        for d in drains {
                            d.pump();
                        }
                    }
                    Some(err) => {
                        let effects = abandon(&mut shared.lock(), &self.opened, err);
                        shared.writer_wake.notify_one();
                        shared.run(effects);
                    }
                }
            }
        }
        self.opened.clear();
        self.drains.clear();
        self.fds = 0;
        self
    }

    /// Passes `stream`'s descriptor as is, if the link and the peer allow
    /// it and this message has not used up the peer's limit; else gives the
    /// stream back to be proxied.
    #[cfg(unix)]
    fn pass_fd(&mut self, stream: ByteStream) -> Result<Result<StreamId, ByteStream>, NestError> {
        let shared = self.shared().clone();
        if !shared.passes_fds || !stream.is_fd() {
            return Ok(Err(stream));
        }
        let mut st = shared.lock();
        if let Some(e) = &st.end {
            return Err(NestError::Refused(format!("the session has ended: {e}")));
        }
        if self.fds >= st.proto.peer_max_fds() {
            // The peer cannot receive descriptors (or not so many in one
            // message): the same stream travels proxied instead.
            return Ok(Err(stream));
        }
        let Some(fd) = libchan_core::transport::take_fd(&stream) else {
            return Ok(Err(stream));
        };
        let id = st
            .proto
            .open(StreamKind::Fd, false)
            .map_err(|e| NestError::Refused(e.to_string()))?;
        st.fds_out.push(fd);
        drop(st);
        self.fds += 1;
        Ok(Ok(id))
    }
}

/// The message that named `ids` will never be sent: cancel their streams
/// and fail the channels behind them with `err` (a reply channel's
/// receiver then learns why its request went nowhere).
pub(crate) fn abandon(st: &mut State, ids: &[StreamId], err: &ChannelError) -> Vec<Effect> {
    let mut effects = Vec::new();
    for &id in ids {
        st.proto
            .reset(id, ErrorCode::CANCEL, "the message naming it was not sent");
        let Some(mut entry) = st.remove_stream(id) else {
            continue;
        };
        if let Some(drain) = entry.drain.take() {
            effects.push(Effect::FailDrain(drain, err.clone()));
        }
        if let Some(feed) = entry.feed.take() {
            effects.push(Effect::FailFeed(feed, err.clone()));
        }
        if let Some(mut bytes) = entry.bytes.take() {
            effects.extend(bytes.wakers().into_iter().flatten().map(Effect::Wake));
        }
        effects.push(Effect::Drop(Box::new(entry)));
    }
    effects
}

impl Exporter for SessionExporter {
    fn export(&mut self, end: OutgoingEnd) -> Result<ChannelRef, NestError> {
        match end {
            OutgoingEnd::Sender(sender) => {
                if let Some((session, stream)) = sender.drained_by() {
                    if session == self.shared().id {
                        // The peer's own end going home: name its stream.
                        return Ok(ChannelRef {
                            kind: RefKind::Sender,
                            id: stream,
                        });
                    }
                }
                let forwarding = sender.drained_by().is_some();
                let id = self.open(StreamKind::OpenerReceives)?;
                let feed = Arc::new(sender.into_feed());
                let shared = self.shared().clone();
                let watch = CancelOnGone::watch(&shared, id, &feed);
                let mut st = shared.lock();
                if let Some(entry) = st.streams.get_mut(&id) {
                    entry.feed = Some(feed);
                    entry.watch = Some(watch);
                    entry.credit = Some(StreamCredit::sink(&shared, id));
                    entry.forwarder = forwarding;
                }
                Ok(ChannelRef {
                    kind: RefKind::Sender,
                    id: id.0,
                })
            }
            OutgoingEnd::Receiver(receiver) => {
                let id = self.open(StreamKind::OpenerSends)?;
                receiver.attach(Arc::new(MuxSink::new(self.shared(), id)));
                self.drains.push(id);
                Ok(ChannelRef {
                    kind: RefKind::Receiver,
                    id: id.0,
                })
            }
            OutgoingEnd::Stream(stream) => {
                #[cfg(unix)]
                let stream = match self.pass_fd(stream)? {
                    Ok(id) => {
                        return Ok(ChannelRef {
                            kind: RefKind::Stream,
                            id: id.0,
                        })
                    }
                    Err(stream) => stream,
                };
                let id = self.open(StreamKind::Bytes)?;
                spawn_bridge(stream, MuxByteStream::new(self.shared(), id));
                Ok(ChannelRef {
                    kind: RefKind::Stream,
                    id: id.0,
                })
            }
            other => Err(NestError::Refused(format!(
                "this session cannot carry {other:?}"
            ))),
        }
    }
}

fn spawn_bridge(local: ByteStream, remote: MuxByteStream) {
    tokio::spawn(bridge(local, remote));
}

/// The error a byte stream's handle reports when its message was not sent.
pub(crate) fn not_sent() -> ByteStreamError {
    ByteStreamError::Cancelled {
        initiator: Initiator::Local,
    }
}
