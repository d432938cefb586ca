//! A small shop on Gimlet sessions: log in, keep a cart, log out.
//!
//! What lives where:
//!
//! - `user_id` and `cart_id` are on the clientside whitelist: they travel in
//!   the signed cookie, so the page knows who you are without a backend call;
//! - the cart's contents (`cart_items`) live server-side, loaded only on the
//!   pages that show them;
//! - login calls `cycle_id()` (a session id planted before the login is
//!   worth nothing after it), and logout calls `invalidate()`, which ends
//!   every copy of the session's cookies within `revalidate_after` (five
//!   minutes by default; `GIMLET_REVALIDATE_AFTER=0` checks on every
//!   request);
//! - every form carries the session's CSRF token.
//!
//! The pages are written once here; each binary (`shop-axum`,
//! `shop-actix`, `shop-rocket`) is only its framework's glue.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod pages;
pub mod setup;
