//! The thread-local exporter/importer scope.

use std::any::Any;
use std::cell::RefCell;

use super::{ChannelRef, Exporter, Importer, OutgoingEnd};
use crate::error::NestError;

use crate::transport::IncomingEnd;

thread_local! {
    static EXPORTER: RefCell<Option<Box<dyn Exporter>>> = const { RefCell::new(None) };
    static IMPORTER: RefCell<Option<Box<dyn Importer>>> = const { RefCell::new(None) };
    /// The ends resolved so far in the current importer scope.
    static IMPORTED: RefCell<Vec<(ChannelRef, Box<dyn Held>)>> = const { RefCell::new(Vec::new()) };
}

/// An end resolved during one decode, kept until the decode ends so that
/// a second decoding of the same reference (serde's untagged enums try
/// their variants in turn over buffered input) gets the same end instead
/// of claiming the reference again.
pub(crate) trait Held {
    /// The end again, as a boxed typed handle: a sender's clone, or a
    /// receiver or byte stream whose earlier handle was dropped during
    /// this decode. Fails while an earlier receiver or byte stream handle
    /// is still alive: a reference names one end, handed out once.
    fn again(&mut self, reference: ChannelRef) -> Result<Box<dyn Any>, NestError>;

    /// The decode is over: an end whose every handle was dropped meanwhile
    /// is given up now (as if the message had dropped it).
    fn finish(self: Box<Self>);
}

/// Resolves `reference` once per importer scope: the first time through
/// the importer (`first` builds the typed handle and what the scope keeps
/// of it), later times from what the scope kept. Outside a scope it is
/// a plain import.
pub(crate) fn import_held<V: 'static>(
    reference: ChannelRef,
    what: &'static str,
    first: impl FnOnce(IncomingEnd) -> Result<(V, Option<Box<dyn Held>>), NestError>,
) -> Result<V, NestError> {
    let again = IMPORTED.with(|held| {
        let mut held = held.borrow_mut();
        held.iter_mut()
            .find(|(r, _)| *r == reference)
            .map(|(_, h)| h.again(reference))
    });
    if let Some(end) = again {
        return end?
            .downcast::<V>()
            .map(|b| *b)
            .map_err(|_| NestError::TypeMismatch {
                expected: std::any::type_name::<V>(),
            });
    }
    let end = import(reference, what)?;
    let (value, keep) = first(end)?;
    if let Some(keep) = keep {
        let in_scope = IMPORTER.with(|c| c.borrow().is_some());
        if in_scope {
            IMPORTED.with(|held| held.borrow_mut().push((reference, keep)));
        } else {
            keep.finish();
        }
    }
    Ok(value)
}

/// The capacity for channels that arrive in the message being decoded:
/// the installed importer's [`Importer::channel_capacity`].
pub(crate) fn import_capacity() -> usize {
    IMPORTER.with(|c| {
        c.borrow()
            .as_ref()
            .map_or(crate::DEFAULT_CAPACITY, |i| i.channel_capacity())
    })
}

/// Runs `f` (a synchronous encode) with `exporter` installed for this thread,
/// then hands the exporter back with `f`'s result, so it can act on what was
/// exported. Scopes nest: an outer exporter is restored afterwards.
pub fn with_exporter<E: Exporter, R>(exporter: E, f: impl FnOnce() -> R) -> (R, E) {
    let (result, exporter) = with_exporter_boxed(Box::new(exporter), f);
    (result, *exporter)
}

/// [`with_exporter`] for an exporter already boxed, handed back boxed, so a
/// session can reuse one allocation for every message it encodes.
pub fn with_exporter_boxed<E: Exporter, R>(exporter: Box<E>, f: impl FnOnce() -> R) -> (R, Box<E>) {
    let outer = EXPORTER.with(|c| c.replace(Some(exporter)));
    let result = f();
    let back: Box<dyn Any> = EXPORTER
        .with(|c| c.replace(outer))
        .expect("the exporter scope is restored by the thread that set it");
    let exporter = back
        .downcast::<E>()
        .expect("the scope hands back the exporter it was given");
    (result, exporter)
}

/// Runs `f` (a synchronous decode) with `importer` installed for this thread,
/// then hands the importer back with `f`'s result.
pub fn with_importer<I: Importer, R>(importer: I, f: impl FnOnce() -> R) -> (R, I) {
    let (result, importer) = with_importer_boxed(Box::new(importer), f);
    (result, *importer)
}

/// [`with_importer`] for an importer already boxed, handed back boxed.
///
/// Within the scope, decoding a reference a second time yields the end it
/// resolved to the first time (see [`Importer`]); ends whose every handle
/// was dropped before the scope ends are given up when it ends.
pub fn with_importer_boxed<I: Importer, R>(importer: Box<I>, f: impl FnOnce() -> R) -> (R, Box<I>) {
    let outer = IMPORTER.with(|c| c.replace(Some(importer)));
    let outer_held = IMPORTED.with(|h| std::mem::take(&mut *h.borrow_mut()));
    let result = f();
    let held = IMPORTED.with(|h| std::mem::replace(&mut *h.borrow_mut(), outer_held));
    let back: Box<dyn Any> = IMPORTER
        .with(|c| c.replace(outer))
        .expect("the importer scope is restored by the thread that set it");
    for (_, h) in held {
        h.finish();
    }
    let importer = back
        .downcast::<I>()
        .expect("the scope hands back the importer it was given");
    (result, importer)
}

/// Exports `end` through the current thread's exporter.
///
/// For codecs outside serde; serde codecs never call it directly. `what`
/// names the end for the error raised outside any scope.
pub fn export(end: OutgoingEnd, what: &'static str) -> Result<ChannelRef, NestError> {
    // Take the exporter out while it runs, so a re-entrant call sees no
    // scope instead of a double borrow.
    let taken = EXPORTER.with(|c| c.borrow_mut().take());
    let Some(mut exporter) = taken else {
        return Err(NestError::NoSession(what));
    };
    let result = exporter.export(end);
    EXPORTER.with(|c| *c.borrow_mut() = Some(exporter));
    result
}

/// Imports `reference` through the current thread's importer.
pub fn import(reference: ChannelRef, what: &'static str) -> Result<IncomingEnd, NestError> {
    let taken = IMPORTER.with(|c| c.borrow_mut().take());
    let Some(mut importer) = taken else {
        return Err(NestError::NoSession(what));
    };
    let result = importer.import(reference);
    IMPORTER.with(|c| *c.borrow_mut() = Some(importer));
    result
}
