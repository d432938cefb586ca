//! A small shop on Gimlet sessions: log in, keep a cart, see your devices,
//! log out (here or everywhere).
//!
//! What lives where:
//!
//! - `user_id` and `cart_id` are on the clientside whitelist, with the
//!   CSRF token and the flash messages: they travel in the signed cookie,
//!   so the page knows who you are without a backend call;
//! - the cart's contents (`cart_items`) live server-side, loaded only on the
//!   pages that show them;
//! - login calls `set_owner(name)`: it records that the session is the
//!   user's (so it shows under "your devices" and can be ended from another
//!   browser) and, like `cycle_id()`, moves it under new ids (a session id
//!   planted before the login is worth nothing after it);
//! - logout calls `invalidate()`; "Log out everywhere" calls
//!   `Gimlet::end_sessions_of(user, None)` and then `invalidate()`, and "Log
//!   out other devices" `end_sessions_of(user, Some(&session))`. An ended
//!   session's copies stop being served within `revalidate_after` (five
//!   minutes by default; `GIMLET_REVALIDATE_AFTER=0` checks on every
//!   request);
//! - every form carries the session's CSRF token;
//! - the footer of every page shows what its request did with the session:
//!   the activity, the backend round trips and what each paid for, where
//!   each key lives, and the size of each cookie (see [`footer`]).
//!
//! The pages are written once here ([`pages`], [`devices`]); each binary
//! (`shop-axum`, `shop-actix`, `shop-rocket`) is only its framework's glue.
//! The owner index's calls go through `session.gimlet()`, so the pages need
//! nothing but the session.

#![allow(clippy::print_stdout)]

pub mod devices;
#[cfg(feature = "e2e")]
pub mod e2e;
pub mod footer;
pub mod html;
pub mod pages;
pub mod setup;
pub mod when;
