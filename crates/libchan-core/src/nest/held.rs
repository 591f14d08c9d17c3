//! What an importer scope keeps of each end it resolved, so that the same
//! reference decoded twice in one message yields the same end (see
//! [`Importer`](super::Importer)).

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::scope::Held;
use super::ChannelRef;
use crate::byte_stream::{ByteStream, Lender};
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

/// A byte stream: the handle handed out is lent, and gives its backing
/// (IO or file descriptor, as it was) back to the scope if it is dropped
/// while the decode runs.
pub(crate) fn stream(stream: ByteStream) -> (ByteStream, Option<Box<dyn Held>>) {
    let Some(inner) = stream.take_all() else {
        // Spent already: reading it reports so; nothing to keep.
        return (stream, None);
    };
    let home = Arc::new(Home(Mutex::new(HomeState {
        back: None,
        open: true,
    })));
    (inner.lent(home.clone()), Some(Box::new(HeldStream(home))))
}

struct Home(Mutex<HomeState>);

struct HomeState {
    /// A lent handle dropped while the decode ran.
    back: Option<ByteStream>,
    /// The decode runs: a dropped handle gives its backing back.
    open: bool,
}

impl Home {
    fn lock(&self) -> MutexGuard<'_, HomeState> {
        // Nothing panics under this lock.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Lender for Home {
    fn give_back(&self, stream: ByteStream) -> Option<ByteStream> {
        let mut home = self.lock();
        if home.open {
            home.back = Some(stream);
            None
        } else {
            Some(stream)
        }
    }
}

struct HeldStream(Arc<Home>);

impl Held for HeldStream {
    fn again(&mut self, reference: ChannelRef) -> Result<Box<dyn Any>, NestError> {
        let back = self
            .0
            .lock()
            .back
            .take()
            .ok_or_else(|| handed_out(reference))?;
        Ok(Box::new(back.lent(self.0.clone())))
    }

    fn finish(self: Box<Self>) {
        let unused = {
            let mut home = self.0.lock();
            home.open = false;
            home.back.take()
        };
        // Dropped here, outside the lock, as the message would have.
        drop(unused);
    }
}
