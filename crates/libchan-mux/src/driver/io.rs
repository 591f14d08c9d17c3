//! The two tasks that move bytes: the reader feeds the protocol and acts on
//! its events, the writer writes whatever the protocol queued, many frames
//! per write.

use std::sync::Arc;
use std::time::Instant;

use std::future::poll_fn;

use libchan_core::{LimitError, SessionError};
use tokio::io::ReadBuf;

use super::events;
use super::link::{LinkRead, LinkWrite, PassedFd};
use super::state::Shared;
use crate::ErrorCode;

/// Bytes read per syscall.
const READ_CHUNK: usize = 64 * 1024;

/// Most bytes of replies to the peer's own frames (PING acknowledgements,
/// RESETs refusing its OPENs) that may wait unwritten because the peer does
/// not read. A peer that makes us queue more is ending the session: without
/// this cap, one that floods refused OPENs and never reads would grow our
/// memory as fast as it sends. 1 MiB is thousands of times what an honest
/// peer leaves pending.
const MAX_REPLY_BACKLOG: usize = 1 << 20;

/// Reads the connection until it ends, feeding the protocol. After a
/// graceful close it keeps reading until the peer's end-of-stream (at most
/// the linger time), so that closing our socket with unread input does not
/// reset the connection under the peer's last reads.
pub(crate) async fn reader<R: LinkRead>(shared: Arc<Shared>, mut rd: R) {
    read_until_done(&shared, &mut rd).await;
    shared.finish();
}

/// Reads once: the number of bytes (0 at end-of-stream), and any
/// descriptors that came with them appended to `fds`.
async fn read_some<R: LinkRead>(
    rd: &mut R,
    buf: &mut [u8],
    fds: &mut Vec<PassedFd>,
) -> std::io::Result<usize> {
    poll_fn(|cx| {
        let mut rb = ReadBuf::new(buf);
        match rd.poll_read(cx, &mut rb, fds) {
            std::task::Poll::Ready(Ok(())) => std::task::Poll::Ready(Ok(rb.filled().len())),
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(e)),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
    .await
}

/// Writes all of `bytes`, the descriptors going with the first byte.
async fn write_all<W: LinkWrite>(
    wr: &mut W,
    mut bytes: &[u8],
    fds: &mut Vec<PassedFd>,
) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = poll_fn(|cx| wr.poll_write(cx, bytes, fds)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

async fn read_until_done<R: LinkRead>(shared: &Arc<Shared>, rd: &mut R) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut fds = Vec::new();
    let mut drained_until: Option<tokio::time::Instant> = None;
    loop {
        let (deadline, end) = {
            let st = shared.lock();
            (st.proto.poll_timeout(), st.end.clone())
        };
        match end {
            None => {}
            Some(SessionError::Closed) => {
                drained_until.get_or_insert_with(|| tokio::time::Instant::now() + shared.linger);
            }
            Some(_) => return,
        }
        let wake_at = drained_until.or(deadline.map(Into::into));
        let sleep = async {
            match wake_at {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = read_some(rd, &mut buf, &mut fds) => match read {
                Ok(0) => {
                    if drained_until.is_none() {
                        shared.end(SessionError::ConnectionLost(
                            libchan_core::ConnectionLoss::Closed,
                        ));
                    }
                    return;
                }
                Ok(_) if drained_until.is_some() => {}
                Ok(n) => {
                    if !feed(shared, &buf[..n], &mut fds) {
                        return;
                    }
                }
                Err(e) => {
                    if drained_until.is_none() {
                        shared.end(SessionError::from(e));
                    }
                    return;
                }
            },
            () = sleep => {
                if drained_until.is_some() {
                    // The peer never closed its side; we are done anyway.
                    return;
                }
                let effects = {
                    let mut st = shared.lock();
                    st.proto.handle_timeout(Instant::now());
                    events::process(shared, &mut st)
                };
                shared.writer_wake.notify_one();
                shared.run(effects);
            }
            () = shared.reader_wake.notified() => {}
        }
    }
}

/// Feeds bytes read (and the descriptors that came with them) to the
/// protocol and acts on the events; false once the session must stop
/// reading.
fn feed(shared: &Arc<Shared>, bytes: &[u8], fds: &mut Vec<PassedFd>) -> bool {
    let effects = {
        let mut st = shared.lock();
        if !fds.is_empty() {
            st.fds_in.extend(fds.drain(..));
            if st.fds_in.len() > shared.max_fds_in {
                let why = format!(
                    "the peer passed {} file descriptors that no OPEN claims (limit {})",
                    st.fds_in.len(),
                    shared.max_fds_in
                );
                tracing::warn!("ending the session: {why}");
                st.proto
                    .goaway(Instant::now(), ErrorCode::LIMIT_EXCEEDED, &why);
                let limit = shared.max_fds_in as u64;
                let actual = st.fds_in.len() as u64;
                st.fds_in.clear();
                drop(st);
                shared.end(SessionError::Limit(LimitError {
                    what: "max_pending_fds (descriptors passed without an OPEN)",
                    limit,
                    actual,
                }));
                return false;
            }
        }
        shared.spare_payload.give_to(&mut st.proto);
        let before = st.proto.transmit_len();
        let _ = st.proto.handle_input(Instant::now(), bytes);
        let replies = st.proto.transmit_len().saturating_sub(before);
        st.reply_backlog = st.reply_backlog.saturating_add(replies);
        if st.reply_backlog > MAX_REPLY_BACKLOG && st.end.is_none() {
            let why = format!(
                "the peer keeps sending but does not read our replies \
                 ({} bytes pending, limit {MAX_REPLY_BACKLOG})",
                st.reply_backlog
            );
            tracing::warn!("ending the session: {why}");
            st.proto
                .goaway(Instant::now(), ErrorCode::LIMIT_EXCEEDED, &why);
            drop(st);
            shared.end(SessionError::Limit(LimitError {
                what: "reply backlog (bytes of replies the peer does not read)",
                limit: MAX_REPLY_BACKLOG as u64,
                actual: MAX_REPLY_BACKLOG as u64 + 1,
            }));
            return false;
        }
        events::process(shared, &mut st)
    };
    shared.writer_wake.notify_one();
    shared.run(effects);
    true
}

/// Writes what the protocol queued until the session ends, then flushes
/// the last frames and shuts the connection's write half down.
pub(crate) async fn writer<W: LinkWrite>(shared: Arc<Shared>, mut wr: W) {
    // Two buffers take turns: the protocol fills one while this task writes
    // the other, so steady state allocates nothing.
    let mut bytes = bytes::BytesMut::new();
    let mut fds = Vec::new();
    loop {
        bytes.clear();
        let (taken, ended, effects) = {
            let mut st = shared.lock();
            let taken = st.proto.poll_transmit_into(&mut bytes);
            // The descriptors of OPENs in this buffer go with its first
            // byte, so they never arrive after their OPEN.
            fds.append(&mut st.fds_out);
            // Taking the buffer may unblock streams that waited for room.
            let effects = events::process(&shared, &mut st);
            (taken, st.end.is_some(), effects)
        };
        shared.run(effects);
        if taken {
            // A write may wait forever on a peer that does not read. The
            // last frames of an ended session get at most the linger time;
            // a write under way when the session fails is abandoned.
            let failed = shared.failed.notified();
            tokio::pin!(failed);
            failed.as_mut().enable();
            let result = if ended || shared.has_failed() {
                tokio::time::timeout(shared.linger, write_all(&mut wr, &bytes, &mut fds))
                    .await
                    .unwrap_or_else(|_| {
                        Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the peer did not read the session's last frames",
                        ))
                    })
            } else {
                tokio::select! {
                    r = write_all(&mut wr, &bytes, &mut fds) => r,
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
        } else if ended {
            let _ = tokio::time::timeout(shared.linger, async {
                let _ = poll_fn(|cx| wr.poll_flush(cx)).await;
                let _ = poll_fn(|cx| wr.poll_shutdown(cx)).await;
            })
            .await;
            return;
        } else {
            if let Err(e) = poll_fn(|cx| wr.poll_flush(cx)).await {
                shared.end(SessionError::from(e));
                return;
            }
            if shared.lock().proto.transmit_len() > 0 {
                // The events just processed queued frames (a parked message
                // that may go now): write them before sleeping.
                continue;
            }
            shared.writer_wake.notified().await;
            // Let the tasks that woke us queue more frames first: one
            // write then carries many small messages.
            tokio::task::yield_now().await;
        }
    }
}
