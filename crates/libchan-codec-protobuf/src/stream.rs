//! `ByteStreamRef`: a `libchan.ByteStream` field as a live byte stream.

use libchan_core::nest::{OutgoingEnd, RefKind};
use libchan_core::transport::IncomingEnd;
use libchan_core::{ByteStream, NestError};

use crate::handle::{handle_impls, spent, Arrived, End, Shared};

/// A `libchan.ByteStream` field: a duplex byte stream travelling with the
/// message.
///
/// Make one with [`new`](Self::new) (or `From`) from a [`ByteStream`]
/// (`ByteStream::pair()` gives two connected ends: keep one, send the
/// other); get the stream out of a received handle with
/// [`into_stream`](Self::into_stream). Byte streams are untyped, so a
/// stream that arrived can be sent on as it is. Sending the message moves
/// the stream out of the handle.
pub struct ByteStreamRef(Shared<ByteStream>);

handle_impls!(ByteStreamRef);

impl ByteStreamRef {
    /// Wraps a byte stream.
    pub fn new(stream: ByteStream) -> Self {
        ByteStreamRef(Shared::new(Some(stream)))
    }

    /// The byte stream this handle holds, taken out of it (and out of its
    /// clones). Fails with [`NestError::Refused`] if the handle is empty or
    /// its stream was already taken or sent.
    pub fn into_stream(self) -> Result<ByteStream, NestError> {
        self.0.take()
    }

    /// True if the handle holds no stream.
    pub fn is_empty(&self) -> bool {
        self.0.lock().end.is_none()
    }
}

impl From<ByteStream> for ByteStreamRef {
    fn from(stream: ByteStream) -> Self {
        ByteStreamRef::new(stream)
    }
}

impl End for ByteStream {
    const KIND: RefKind = RefKind::Stream;
    const WHAT: &'static str = "libchan.ByteStream";

    fn outgoing(slot: &mut Option<Self>) -> Result<OutgoingEnd, NestError> {
        slot.take()
            .map(OutgoingEnd::Stream)
            .ok_or_else(|| spent(Self::WHAT))
    }

    fn arrived(end: IncomingEnd) -> Result<Self, NestError> {
        let wrong = || NestError::TypeMismatch {
            expected: std::any::type_name::<ByteStream>(),
        };
        match end {
            IncomingEnd::Stream(stream) => Ok(stream),
            IncomingEnd::Local(any) => any
                .downcast::<ByteStream>()
                .map(|b| *b)
                .map_err(|_| wrong()),
            other => {
                // A channel end where a stream was expected: close it properly.
                drop(Arrived::new(other));
                Err(wrong())
            }
        }
    }

    fn describe(&self) -> &'static str {
        "stream"
    }
}
