//! The shop's end-to-end scenarios, run against each framework's binary as
//! a real process, by its package's tests (`gimlet_shop::scenarios!`).

#![allow(clippy::unwrap_used, missing_docs, missing_debug_implementations)]

pub mod harness;
pub mod scenarios;
