//! Message types the cases send: nested ends at several depths.

use std::collections::BTreeMap;

use libchan_core::{ByteStream, Receiver, Sender};
use serde::{Deserialize, Serialize};

/// Ends inside an `Option` inside a `Vec` inside a struct, plus a map of
/// senders: every shape the brief names.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deep {
    /// A plain field, to check data survives beside the ends.
    pub label: String,
    /// Ends one level down.
    pub inner: Vec<Option<Inner>>,
    /// Senders as map values.
    pub by_name: BTreeMap<String, Sender<u64>>,
}

/// One level of nesting.
#[derive(Debug, Serialize, Deserialize)]
pub struct Inner {
    /// A sender the reader answers on.
    pub tx: Sender<u64>,
    /// A receiver the reader reads from.
    pub rx: Option<Receiver<String>>,
}

/// A numbered message, for ordering checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbered {
    /// Which channel it belongs to.
    pub channel: u32,
    /// Its position in that channel.
    pub seq: u32,
}

/// Carries one end home, for the no-forwarding-loop case.
#[derive(Debug, Serialize, Deserialize)]
pub struct Carry {
    /// The end being carried.
    pub tx: Sender<String>,
}

/// A byte stream with a label.
#[derive(Debug, Serialize, Deserialize)]
pub struct WithStream {
    /// What the stream is for.
    pub name: String,
    /// The stream.
    pub stream: ByteStream,
}

/// A payload of a chosen size, for flow-control checks.
#[derive(Debug, Serialize, Deserialize)]
pub struct Blob {
    /// The bytes.
    pub bytes: bytes::Bytes,
}

/// An untagged enum whose first variant takes ends and then fails (no
/// `number` field), so decoding a [`Untagged::Later`] resolves every
/// reference twice: once for the failed variant, once for the real one.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Untagged {
    /// Tried first, fails on the missing `number`.
    Earlier {
        /// Imported, then dropped with the variant.
        reply: Sender<String>,
        /// Imported, then dropped with the variant.
        feed: Receiver<u64>,
        /// Imported, then dropped with the variant.
        stream: ByteStream,
        /// Absent from a `Later`.
        number: u64,
    },
    /// What the message is.
    Later {
        /// A sender the reader answers on.
        reply: Sender<String>,
        /// A receiver the reader reads from.
        feed: Receiver<u64>,
        /// A byte stream to the writer's side.
        stream: ByteStream,
        /// Absent from an `Earlier`.
        text: String,
    },
}
