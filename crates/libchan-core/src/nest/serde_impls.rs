//! `Serialize`/`Deserialize` for channel ends: each end is written as the
//! [`ChannelRef`] the session's exporter gives it, and read back through the
//! importer.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::scope::{import_capacity, import_held};
use super::{export, held, ChannelRef, OutgoingEnd, RefKind};
use crate::chan::{Receiver, Sender};
use crate::codec::Payload;
use crate::error::NestError;
use crate::transport::{ExportedReceiver, ExportedSender, IncomingEnd};
use crate::ByteStream;

fn read_ref<'de, D: Deserializer<'de>>(d: D, kind: RefKind) -> Result<ChannelRef, D::Error> {
    let reference = ChannelRef::deserialize(d)?;
    if reference.kind != kind {
        return Err(D::Error::custom(NestError::WrongKind {
            expected: kind.as_str(),
            id: reference.id,
        }));
    }
    Ok(reference)
}

impl<T: Payload> Serialize for Sender<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let end = OutgoingEnd::Sender(ExportedSender::new(self.clone()));
        export(end, "Sender")
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

impl<'de, T: Payload> Deserialize<'de> for Sender<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let reference = read_ref(d, RefKind::Sender)?;
        import_held(reference, "sender", |end| {
            let tx = Sender::<T>::from_incoming_with_capacity(end, import_capacity())?;
            Ok((tx.clone(), Some(held::sender(tx))))
        })
        .map_err(D::Error::custom)
    }
}

impl<T: Payload> Serialize for Receiver<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let end = ExportedReceiver::from_shared(self).map_err(S::Error::custom)?;
        export(OutgoingEnd::Receiver(end), "Receiver")
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

impl<'de, T: Payload> Deserialize<'de> for Receiver<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let reference = read_ref(d, RefKind::Receiver)?;
        import_held(reference, "receiver", |end| {
            let rx = Receiver::<T>::from_incoming_with_capacity(end, import_capacity())?;
            let keep = held::receiver(&rx);
            Ok((rx, Some(keep)))
        })
        .map_err(D::Error::custom)
    }
}

impl Serialize for ByteStream {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let stream = self.take_all().ok_or_else(|| {
            S::Error::custom(NestError::Refused(
                "this byte stream was already sent".into(),
            ))
        })?;
        export(OutgoingEnd::Stream(stream), "ByteStream")
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ByteStream {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let reference = read_ref(d, RefKind::Stream)?;
        import_held(reference, "stream", |end| {
            let stream = match end {
                IncomingEnd::Stream(s) => s,
                IncomingEnd::Local(any) => {
                    any.downcast::<ByteStream>()
                        .map(|b| *b)
                        .map_err(|_| NestError::WrongKind {
                            expected: "stream",
                            id: reference.id,
                        })?
                }
                _ => {
                    return Err(NestError::WrongKind {
                        expected: "stream",
                        id: reference.id,
                    })
                }
            };
            Ok(held::stream(stream))
        })
        .map_err(D::Error::custom)
    }
}
