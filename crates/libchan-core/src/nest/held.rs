//! What an importer scope keeps of each end it resolved, so that the same
//! reference decoded twice in one message yields the same end (see
//! [`Importer`](super::Importer)).

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::scope::Held;
use super::ChannelRef;
use crate::byte_stream::{ByteStream, DuplexIo};
use crate::chan::state::Chan;
use crate::chan::{Receiver, Sender};
use crate::error::NestError;

fn handed_out(reference: ChannelRef) -> NestError {
    NestError::UnknownReference {
        kind: reference.kind.as_str(),
        id: reference.id,
    }
}

/// A sender: the scope keeps a clone, so a handle dropped by a failed
/// variant does not close the channel, and every later decoding gets a
/// clone.
pub(crate) fn sender<T: Send + 'static>(tx: Sender<T>) -> Box<dyn Held> {
    Box::new(HeldSender(tx))
}

struct HeldSender<T>(Sender<T>);

impl<T: Send + 'static> Held for HeldSender<T> {
    fn again(&mut self, _reference: ChannelRef) -> Result<Box<dyn Any>, NestError> {
        Ok(Box::new(self.0.clone()))
    }

    fn finish(self: Box<Self>) {}
}

/// A receiver: dropping the handed-out handle during the decode is only
/// noted by the channel, which lets the scope hand a new handle out.
pub(crate) fn receiver<T: Send + 'static>(rx: &Receiver<T>) -> Box<dyn Held> {
    rx.chan.begin_import_hold();
    Box::new(HeldReceiver(rx.chan.clone()))
}

struct HeldReceiver<T>(Arc<Chan<T>>);

impl<T: Send + 'static> Held for HeldReceiver<T> {
    fn again(&mut self, reference: ChannelRef) -> Result<Box<dyn Any>, NestError> {
        if !self.0.take_again() {
            return Err(handed_out(reference));
        }
        Ok(Box::new(Receiver::from_chan(self.0.clone())))
    }

    fn finish(self: Box<Self>) {
        self.0.end_import_hold();
    }
}

/// A byte stream: the handle handed out lends the IO, and gives it back
/// to the scope if it is dropped while the decode runs.
pub(crate) fn stream(stream: ByteStream) -> (ByteStream, Option<Box<dyn Held>>) {
    let Some(io) = stream.take_io() else {
        // Spent already: reading it reports so; nothing to keep.
        return (stream, None);
    };
    let home = Arc::new(Mutex::new(Home {
        back: None,
        open: true,
    }));
    (lend(io, &home), Some(Box::new(HeldStream(home))))
}

struct Home {
    /// The IO of a lent handle dropped while the decode ran.
    back: Option<Pin<Box<dyn DuplexIo>>>,
    /// The decode runs: a dropped handle gives its IO back.
    open: bool,
}

fn lock(home: &Mutex<Home>) -> MutexGuard<'_, Home> {
    // Nothing panics under this lock.
    home.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lend(io: Pin<Box<dyn DuplexIo>>, home: &Arc<Mutex<Home>>) -> ByteStream {
    ByteStream::from_pinned(Box::pin(Lent {
        io: Some(io),
        home: home.clone(),
    }))
}

struct HeldStream(Arc<Mutex<Home>>);

impl Held for HeldStream {
    fn again(&mut self, reference: ChannelRef) -> Result<Box<dyn Any>, NestError> {
        let io = lock(&self.0)
            .back
            .take()
            .ok_or_else(|| handed_out(reference))?;
        Ok(Box::new(lend(io, &self.0)))
    }

    fn finish(self: Box<Self>) {
        let unused = {
            let mut home = lock(&self.0);
            home.open = false;
            home.back.take()
        };
        // Dropped here, outside the lock, as the message would have.
        drop(unused);
    }
}

/// The IO of a byte stream handed out during a decode.
struct Lent {
    io: Option<Pin<Box<dyn DuplexIo>>>,
    home: Arc<Mutex<Home>>,
}

impl Lent {
    fn io(&mut self) -> Pin<&mut dyn DuplexIo> {
        self.io
            .as_mut()
            .expect("a lent stream holds its IO until dropped")
            .as_mut()
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut home = lock(&self.home);
        if home.open {
            home.back = self.io.take();
        }
    }
}

impl AsyncRead for Lent {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lent {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}
