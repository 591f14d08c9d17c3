//! The transport cases. Each takes a [`Harness`] and panics
//! with a message naming the broken promise. The list of cases lives in
//! one place, the crate's `__for_each_case!` macro.

mod basic;
mod byte_streams;
mod ending;
mod limits;
mod nesting;
mod scale;

pub use basic::*;
pub use byte_streams::*;
pub use ending::*;
pub use limits::*;
pub use nesting::*;
pub use scale::*;

use crate::Harness;

/// Runs every case in turn against `harness`.
pub async fn run_all<H: Harness>(harness: &H) {
    crate::__for_each_case!(__run_cases; harness);
}
