//! A WebSocket connection seen as a byte stream, so the mux driver can run
//! libchan's protocol over it.
//!
//! Writing: each `poll_write` becomes one binary message (the driver writes
//! a whole batch of frames at once, so a batch is one message, cut at
//! [`MAX_OUTGOING_MESSAGE`]). Reading: the payloads of binary messages are
//! concatenated; message boundaries carry no meaning. Anything else the
//! peer does at the WebSocket level is either handled here (pings) or
//! turned into an [`std::io::Error`] whose inner error is a typed
//! [`Error`], which ends the session with it.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_util::Sink;
use libchan_mux::driver::SessionConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::Error;

/// Largest binary message this side sends: 256 KiB. A write batch larger
/// than this is split. Every libchan peer accepts it, since the smallest
/// limit a peer can have is `MIN_MAX_FRAME_SIZE` (1 KiB) plus
/// [`MESSAGE_HEADROOM`]; a few large frames still fit in one message, so
/// per-message overhead stays negligible at 64 KiB payloads.
pub(crate) const MAX_OUTGOING_MESSAGE: usize = 256 << 10;

/// What a WebSocket message may carry beyond one libchan frame of the
/// session's largest size: 256 KiB, room for the frame's header and the
/// small frames batched beside it. Message boundaries do not follow frame
/// boundaries, so this is what one peer-controlled message may make the
/// WebSocket layer buffer above `max_frame_size`.
pub(crate) const MESSAGE_HEADROOM: usize = 256 << 10;

/// The WebSocket limits that go with a session's limits: a message (and
/// a single WebSocket frame) may be at most the session's largest libchan
/// frame plus [`MESSAGE_HEADROOM`], so the WebSocket layer never buffers
/// much more for a peer than the libchan layer would.
pub(crate) fn websocket_config(config: &SessionConfig) -> WebSocketConfig {
    let max = max_message_size(config);
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// The largest incoming WebSocket message a session with `config` accepts.
pub(crate) fn max_message_size(config: &SessionConfig) -> usize {
    (config.limits.max_frame_size as usize).saturating_add(MESSAGE_HEADROOM)
}

/// A [`WebSocketStream`] as `AsyncRead + AsyncWrite`.
#[derive(Debug)]
pub(crate) struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    pending: Bytes,
    /// What our close frame says when the writer shuts down: normal
    /// closure, unless the read side caught the peer misbehaving.
    close: CloseFrame,
    /// The close frame was handed to tungstenite.
    close_queued: bool,
    /// The close frame was flushed (or could not be).
    close_flushed: bool,
    /// The peer's close code and reason, once its close frame was read:
    /// later writes fail with the same error, so the session ends with it
    /// whichever of its tasks notices first.
    closed_by_peer: Option<(u16, String)>,
}

impl<S> WsIo<S> {
    pub(crate) fn new(ws: WebSocketStream<S>) -> Self {
        WsIo {
            ws,
            pending: Bytes::new(),
            close: CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from_static("libchan session ended"),
            },
            close_queued: false,
            close_flushed: false,
            closed_by_peer: None,
        }
    }

    /// The error a close frame from the peer ends the session with.
    fn closed_error(&self) -> Option<io::Error> {
        self.closed_by_peer.as_ref().map(|(code, reason)| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                Error::ClosedByPeer {
                    code: *code,
                    reason: reason.clone(),
                },
            )
        })
    }

    /// Records the close code that answers a violation, and returns the
    /// error that ends the session.
    fn violation(&mut self, code: CloseCode, reason: &'static str, err: Error) -> io::Error {
        self.close = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        io::Error::new(io::ErrorKind::InvalidData, err)
    }

    /// Turns a tungstenite read error into the error the session ends with.
    fn read_error(&mut self, err: tungstenite::Error) -> io::Error {
        match err {
            tungstenite::Error::Io(e) => e,
            tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => self
                .violation(
                    CloseCode::Size,
                    "message too large",
                    Error::MessageTooLarge {
                        size,
                        max: max_size,
                    },
                ),
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                io::Error::new(io::ErrorKind::UnexpectedEof, Error::Reset)
            }
            tungstenite::Error::Protocol(p) => {
                self.violation(CloseCode::Protocol, "protocol error", Error::Protocol(p))
            }
            tungstenite::Error::Utf8(_) => {
                // Only text messages are checked for UTF-8: a text message
                // is already wrong, whatever its bytes.
                self.violation(
                    CloseCode::Unsupported,
                    "binary messages only",
                    Error::TextMessage,
                )
            }
            other => io::Error::other(Error::WebSocket(other)),
        }
    }
}

/// Sink errors while writing: tungstenite's IO errors pass through, the
/// rest (writing after a close) become errors of their own kind.
fn write_error(err: tungstenite::Error) -> io::Error {
    match err {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket is closed")
        }
        other => io::Error::other(Error::WebSocket(other)),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            // Reading also writes tungstenite's queued replies (pongs, the
            // answer to a close), so pings are answered without us.
            let next = ready!(Pin::new(&mut this.ws).poll_next(cx));
            match next {
                // The closing handshake completed: the end of the stream.
                None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(payload))) => this.pending = payload,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(this.violation(
                        CloseCode::Unsupported,
                        "binary messages only",
                        Error::TextMessage,
                    )))
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = match frame {
                        Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                        None => (u16::from(CloseCode::Status), String::new()),
                    };
                    this.closed_by_peer = Some((code, reason));
                    let err = this.closed_error().expect("recorded just above");
                    return Poll::Ready(Err(err));
                }
                Some(Err(e)) => return Poll::Ready(Err(this.read_error(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.closed_error() {
            return Poll::Ready(Err(err));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut ws = Pin::new(&mut self.ws);
        ready!(ws.as_mut().poll_ready(cx)).map_err(write_error)?;
        let n = buf.len().min(MAX_OUTGOING_MESSAGE);
        ws.start_send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
            .map_err(write_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Flushing still sends tungstenite's answer to a peer's close.
        let flushed = ready!(Pin::new(&mut self.ws).poll_flush(cx));
        Poll::Ready(match self.closed_error() {
            Some(err) => Err(err),
            None => flushed.map_err(write_error),
        })
    }

    /// Sends our close frame (normal closure, or the code naming the
    /// peer's violation), flushes it, and shuts the underlying stream down
    /// (a TLS close_notify, a TCP FIN). Errors past the close frame are
    /// ignored: the session is over either way.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.close_queued {
            let mut ws = Pin::new(&mut this.ws);
            if ready!(ws.as_mut().poll_ready(cx)).is_ok() {
                // Fails when a close was already sent or received; then
                // tungstenite's own reply is what goes out.
                let _ = ws.start_send(Message::Close(Some(this.close.clone())));
            }
            this.close_queued = true;
        }
        if !this.close_flushed {
            let _ = ready!(Pin::new(&mut this.ws).poll_flush(cx));
            this.close_flushed = true;
        }
        let _ = ready!(Pin::new(this.ws.get_mut()).poll_shutdown(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use libchan_codec_json::Json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    async fn pair() -> (
        WsIo<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        pair_with(&small_frames()).await
    }

    /// The smallest frame limit, so an oversize message fits in the pipe.
    fn small_frames() -> SessionConfig {
        let mut config = SessionConfig::new(Json);
        config.limits.max_frame_size = libchan_mux::config::MIN_MAX_FRAME_SIZE;
        config
    }

    async fn pair_with(
        config: &SessionConfig,
    ) -> (
        WsIo<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let cfg = websocket_config(config);
        let ours = WebSocketStream::from_raw_socket(a, Role::Client, Some(cfg)).await;
        let theirs = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (WsIo::new(ours), theirs)
    }

    fn inner(err: &io::Error) -> &Error {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("a typed WebSocket error inside the io::Error")
    }

    #[tokio::test]
    async fn reads_concatenate_binary_payloads_and_skip_pings() {
        let (mut io, mut peer) = pair().await;
        peer.send(Message::binary(&b"lib"[..])).await.expect("send");
        peer.send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .expect("ping");
        peer.send(Message::binary(&b"chan"[..]))
            .await
            .expect("send");
        let mut got = [0u8; 7];
        io.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"libchan");
        // The ping was answered while reading.
        let pong = peer.next().await.expect("a frame").expect("ok");
        assert_eq!(pong, Message::Pong(Bytes::from_static(b"p")));
    }

    #[tokio::test]
    async fn each_write_is_one_binary_message_cut_at_the_outgoing_limit() {
        let (mut io, mut peer) = pair().await;
        io.write_all(b"one batch").await.expect("write");
        io.flush().await.expect("flush");
        let msg = peer.next().await.expect("msg").expect("ok");
        assert_eq!(msg, Message::binary(&b"one batch"[..]));
        let big = vec![7u8; MAX_OUTGOING_MESSAGE + 10];
        io.write_all(&big).await.expect("write");
        io.flush().await.expect("flush");
        let first = peer.next().await.expect("msg").expect("ok");
        let second = peer.next().await.expect("msg").expect("ok");
        assert_eq!(first.len(), MAX_OUTGOING_MESSAGE);
        assert_eq!(second.len(), 10);
    }

    #[tokio::test]
    async fn a_text_message_is_a_typed_error_answered_with_close_1003() {
        let (mut io, mut peer) = pair().await;
        peer.send(Message::text("hello")).await.expect("send");
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.expect_err("text is refused");
        assert!(matches!(inner(&err), Error::TextMessage), "got {err:?}");
        io.shutdown().await.expect("shutdown");
        match peer.next().await.expect("close").expect("ok") {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Unsupported),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_oversize_message_is_a_typed_error_answered_with_close_1009() {
        let (mut io, mut peer) = pair().await;
        let max = max_message_size(&small_frames());
        peer.send(Message::binary(vec![0u8; max + 1]))
            .await
            .expect("send");
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.expect_err("too large");
        match inner(&err) {
            Error::MessageTooLarge { size, max: limit } => {
                assert_eq!(*limit, max);
                assert!(*size > max);
            }
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
        io.shutdown().await.expect("shutdown");
        match peer.next().await.expect("close").expect("ok") {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Size),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_close_from_the_peer_carries_its_code_and_reason() {
        let (mut io, mut peer) = pair().await;
        peer.send(Message::Close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "restarting".into(),
        })))
        .await
        .expect("close");
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.expect_err("closed");
        match inner(&err) {
            Error::ClosedByPeer { code, reason } => {
                assert_eq!(*code, 1001);
                assert_eq!(reason, "restarting");
            }
            other => panic!("expected ClosedByPeer, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn writes_after_the_peers_close_fail_with_the_same_error() {
        let (mut io, mut peer) = pair().await;
        peer.send(Message::Close(Some(CloseFrame {
            code: CloseCode::Again,
            reason: "later".into(),
        })))
        .await
        .expect("close");
        let mut buf = [0u8; 8];
        io.read(&mut buf).await.expect_err("closed");
        let err = io.write_all(b"late").await.expect_err("closed");
        assert!(
            matches!(inner(&err), Error::ClosedByPeer { code: 1013, .. }),
            "got {err:?}"
        );
    }

    #[tokio::test]
    async fn shutdown_sends_a_normal_closure() {
        let (mut io, mut peer) = pair().await;
        io.shutdown().await.expect("shutdown");
        match peer.next().await.expect("close").expect("ok") {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Normal),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
