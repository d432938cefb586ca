//! The shop's end-to-end scenarios, run against each framework's binary as
//! a real process, by its package's tests (`gimlet_shop::scenarios!`):
//! through an HTTP client, and in headless Chromium.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    missing_docs,
    missing_debug_implementations
)]

pub mod browser;
pub mod harness;
pub mod in_browser;
pub mod scenarios;
