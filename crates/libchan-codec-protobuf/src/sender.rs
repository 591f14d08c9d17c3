//! `SenderRef` and `ReceiverRef`: `libchan.Sender` and `libchan.Receiver`
//! fields as live channel ends.

use std::any::Any;

use libchan_core::nest::{OutgoingEnd, RefKind};
use libchan_core::transport::{ExportedReceiver, ExportedSender, IncomingEnd};
use libchan_core::{NestError, Payload, Receiver, Sender};

use crate::handle::{handle_impls, spent, Arrived, End, Shared};

/// A `libchan.Sender` field: a channel the reader of the message may send on.
///
/// The element type of the channel is not in the `.proto` schema, so the
/// handle is untyped: make one from a typed [`Sender`] with
/// [`new`](Self::new) (or `From`), and turn a received one back into a
/// typed sender with [`into_sender`](Self::into_sender).
///
/// ```
/// use libchan_codec_protobuf::{Proto, SenderRef};
///
/// # fn demo() -> Result<(), libchan_core::NestError> {
/// let (tx, _rx) = libchan_core::pipe::<Proto<String>>();
/// let field = SenderRef::new(tx);
/// // ... the message travels; on the other side:
/// let tx: libchan_core::Sender<Proto<String>> = field.into_sender()?;
/// # Ok(()) }
/// # demo().unwrap();
/// ```
///
/// Like every prost message it is `Clone`, `PartialEq` and `Default`: a
/// clone shares the end (whichever copy is converted or sent first takes
/// it), equality is identity, and the default is an empty handle that
/// encodes as an empty message. Over a session the sender is exported when
/// the message is encoded; the handle keeps it, so the same message may be
/// sent again. In memory the handle moves as it is.
///
/// A handle that *arrived* from a session must be converted with
/// [`into_sender`](Self::into_sender) (and wrapped again) before it can be
/// sent on: its type is only known once you name it. Dropping it unconverted
/// closes the channel, as dropping a typed sender would.
pub struct SenderRef(Shared<SenderEnd>);

handle_impls!(SenderRef);

impl SenderRef {
    /// Wraps a typed sender. `P` is the channel's element type: a
    /// [`Proto<T>`](crate::Proto) for protobuf messages.
    pub fn new<P: Payload>(sender: Sender<P>) -> Self {
        SenderRef(Shared::new(Some(SenderEnd::Local(Box::new(sender)))))
    }

    /// The typed sender this handle holds, taken out of it (and out of its
    /// clones).
    ///
    /// Fails with [`NestError::TypeMismatch`] if the end is a sender of
    /// another element type (checked here for ends that never left the
    /// process; over a session a message of the wrong type fails to decode
    /// on the receiving side instead), and with [`NestError::Refused`] if the
    /// handle is empty or its end was already taken or sent.
    pub fn into_sender<P: Payload>(self) -> Result<Sender<P>, NestError> {
        match self.0.take()? {
            SenderEnd::Local(local) => libchan_core::transport::sender_from_incoming(
                IncomingEnd::Local(local.into_any()),
                libchan_core::DEFAULT_CAPACITY,
            ),
            SenderEnd::Arrived(end) => match end.into_inner() {
                Some(end) => libchan_core::transport::sender_from_incoming(
                    end,
                    libchan_core::DEFAULT_CAPACITY,
                ),
                None => Err(NestError::Refused("the end was already taken".into())),
            },
        }
    }

    /// True if the handle holds no end.
    pub fn is_empty(&self) -> bool {
        self.0.lock().end.is_none()
    }
}

impl<P: Payload> From<Sender<P>> for SenderRef {
    fn from(sender: Sender<P>) -> Self {
        SenderRef::new(sender)
    }
}

pub(crate) enum SenderEnd {
    /// A typed sender made in this process (or moved here in memory).
    Local(Box<dyn LocalSender>),
    /// Resolved from a reference a session decoded; typed on conversion.
    Arrived(Arrived),
}

/// A typed `Sender<P>`, with what a handle needs of `P`.
pub(crate) trait LocalSender: Send {
    fn exported(&self) -> ExportedSender;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<P: Payload> LocalSender for Sender<P> {
    fn exported(&self) -> ExportedSender {
        ExportedSender::new(self.clone())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl End for SenderEnd {
    const KIND: RefKind = RefKind::Sender;
    const WHAT: &'static str = "libchan.Sender";

    fn outgoing(slot: &mut Option<Self>) -> Result<OutgoingEnd, NestError> {
        match slot {
            // A sender is cloned out: the handle keeps its end.
            Some(SenderEnd::Local(local)) => Ok(OutgoingEnd::Sender(local.exported())),
            Some(SenderEnd::Arrived(_)) => Err(untyped(Self::WHAT, "into_sender", "SenderRef")),
            None => Err(spent(Self::WHAT)),
        }
    }

    fn arrived(end: IncomingEnd) -> Result<Self, NestError> {
        Ok(SenderEnd::Arrived(Arrived::new(end)))
    }

    fn describe(&self) -> &'static str {
        match self {
            SenderEnd::Local(_) => "local",
            SenderEnd::Arrived(_) => "arrived",
        }
    }
}

/// A `libchan.Receiver` field: a channel the reader of the message may
/// receive from.
///
/// The receiving twin of [`SenderRef`]: make one with [`new`](Self::new)
/// from a typed [`Receiver`], get the typed receiver back with
/// [`into_receiver`](Self::into_receiver). A receiver cannot be shared, so
/// sending the message moves the end out of the handle: a second send of
/// the same handle fails. Dropping an arrived handle unconverted cancels the
/// channel, as dropping a typed receiver would.
pub struct ReceiverRef(Shared<ReceiverEnd>);

handle_impls!(ReceiverRef);

impl ReceiverRef {
    /// Wraps a typed receiver. `P` is the channel's element type: a
    /// [`Proto<T>`](crate::Proto) for protobuf messages.
    pub fn new<P: Payload>(receiver: Receiver<P>) -> Self {
        ReceiverRef(Shared::new(Some(ReceiverEnd::Local(Box::new(receiver)))))
    }

    /// The typed receiver this handle holds, taken out of it (and out of its
    /// clones). Errors as [`SenderRef::into_sender`].
    pub fn into_receiver<P: Payload>(self) -> Result<Receiver<P>, NestError> {
        match self.0.take()? {
            ReceiverEnd::Local(local) => libchan_core::transport::receiver_from_incoming(
                IncomingEnd::Local(local.into_any()),
                libchan_core::DEFAULT_CAPACITY,
            ),
            ReceiverEnd::Arrived(end) => match end.into_inner() {
                Some(end) => libchan_core::transport::receiver_from_incoming(
                    end,
                    libchan_core::DEFAULT_CAPACITY,
                ),
                None => Err(NestError::Refused("the end was already taken".into())),
            },
        }
    }

    /// True if the handle holds no end.
    pub fn is_empty(&self) -> bool {
        self.0.lock().end.is_none()
    }
}

impl<P: Payload> From<Receiver<P>> for ReceiverRef {
    fn from(receiver: Receiver<P>) -> Self {
        ReceiverRef::new(receiver)
    }
}

pub(crate) enum ReceiverEnd {
    Local(Box<dyn LocalReceiver>),
    Arrived(Arrived),
}

/// A typed `Receiver<P>`, with what a handle needs of `P`.
pub(crate) trait LocalReceiver: Send {
    fn exported(self: Box<Self>) -> ExportedReceiver;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<P: Payload> LocalReceiver for Receiver<P> {
    fn exported(self: Box<Self>) -> ExportedReceiver {
        ExportedReceiver::new(*self)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl End for ReceiverEnd {
    const KIND: RefKind = RefKind::Receiver;
    const WHAT: &'static str = "libchan.Receiver";

    fn outgoing(slot: &mut Option<Self>) -> Result<OutgoingEnd, NestError> {
        match slot.take() {
            // A receiver moves: the handle is spent once the message is sent.
            Some(ReceiverEnd::Local(local)) => Ok(OutgoingEnd::Receiver(local.exported())),
            Some(arrived @ ReceiverEnd::Arrived(_)) => {
                *slot = Some(arrived);
                Err(untyped(Self::WHAT, "into_receiver", "ReceiverRef"))
            }
            None => Err(spent(Self::WHAT)),
        }
    }

    fn arrived(end: IncomingEnd) -> Result<Self, NestError> {
        Ok(ReceiverEnd::Arrived(Arrived::new(end)))
    }

    fn describe(&self) -> &'static str {
        match self {
            ReceiverEnd::Local(_) => "local",
            ReceiverEnd::Arrived(_) => "arrived",
        }
    }
}

fn untyped(what: &str, convert: &str, handle: &str) -> NestError {
    NestError::Refused(format!(
        "a {what} that arrived from a session must be typed before it is sent on: \
         call {handle}::{convert}::<P>() and wrap the result in a new {handle}"
    ))
}
