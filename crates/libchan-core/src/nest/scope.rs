//! The thread-local exporter/importer scope.

use std::any::Any;
use std::cell::RefCell;

use super::{ChannelRef, Exporter, Importer, OutgoingEnd};
use crate::error::NestError;
use crate::transport::IncomingEnd;

thread_local! {
    static EXPORTER: RefCell<Option<Box<dyn Exporter>>> = const { RefCell::new(None) };
    static IMPORTER: RefCell<Option<Box<dyn Importer>>> = const { RefCell::new(None) };
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
pub fn with_importer_boxed<I: Importer, R>(importer: Box<I>, f: impl FnOnce() -> R) -> (R, Box<I>) {
    let outer = IMPORTER.with(|c| c.replace(Some(importer)));
    let result = f();
    let back: Box<dyn Any> = IMPORTER
        .with(|c| c.replace(outer))
        .expect("the importer scope is restored by the thread that set it");
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
