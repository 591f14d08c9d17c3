//! The thread-local exporter/importer scope.

use std::cell::RefCell;

use super::{ChannelRef, Exporter, Importer, OutgoingEnd};
use crate::error::NestError;
use crate::transport::IncomingEnd;

thread_local! {
    static EXPORTER: RefCell<Option<Box<dyn Exporter>>> = const { RefCell::new(None) };
    static IMPORTER: RefCell<Option<Box<dyn Importer>>> = const { RefCell::new(None) };
}

/// Runs `f` (a synchronous encode) with `exporter` installed for this thread,
/// then hands the exporter back with `f`'s result. Scopes nest: an outer
/// exporter is restored afterwards.
pub fn with_exporter<R>(
    exporter: Box<dyn Exporter>,
    f: impl FnOnce() -> R,
) -> (R, Box<dyn Exporter>) {
    let outer = EXPORTER.with(|c| c.replace(Some(exporter)));
    let result = f();
    let exporter = EXPORTER.with(|c| c.replace(outer));
    (
        result,
        exporter.expect("the exporter scope was restored by the same thread"),
    )
}

/// Runs `f` (a synchronous decode) with `importer` installed for this thread.
pub fn with_importer<R>(
    importer: Box<dyn Importer>,
    f: impl FnOnce() -> R,
) -> (R, Box<dyn Importer>) {
    let outer = IMPORTER.with(|c| c.replace(Some(importer)));
    let result = f();
    let importer = IMPORTER.with(|c| c.replace(outer));
    (
        result,
        importer.expect("the importer scope was restored by the same thread"),
    )
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
