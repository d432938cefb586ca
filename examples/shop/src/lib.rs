//! A small shop on Gimlet sessions: log in, keep a cart, see your devices,
//! log out (here or everywhere).
//!
//! What lives where:
//!
//! - `user_id` and `cart_id` are on the clientside whitelist, with the
//!   CSRF token and the flash messages: they travel in the signed cookie,
//!   so the page knows who you are without a backend call. `user_id` goes
//!   in the permanent cookie with "remember me", in the transient one
//!   without; `cart_id` is permanent;
//! - the cart's contents (`cart_items`) live server-side with the permanent
//!   channel, loaded only on the pages that show them, and added to with
//!   `update`, so that two tabs adding at once both land;
//! - login calls `session.login(name)`: it records that the session is the
//!   user's (so it shows under "your devices" and can be ended from another
//!   browser) and moves it under new ids (a session id planted before the
//!   login is worth nothing after it);
//! - logout calls `session.logout()`; "Log out everywhere" calls
//!   `session.logout_everywhere(user)`, and "Log out other devices"
//!   `session.logout_other_devices(user)`. An ended session's copies stop
//!   being served on every app server within about 25 ms;
//! - a form whose CSRF token no longer matches (its session ended) gets a
//!   page that says so, with the way back;
//! - every form carries the session's CSRF token;
//! - the footer of every page shows what its request did with the session:
//!   the activity, the backend round trips and what each paid for, where
//!   each key lives, and the size of each cookie (see [`footer`]).
//!
//! The pages are written once here ([`pages`], [`devices`]); each binary
//! (`shop-axum`, `shop-actix`, `shop-rocket`) is only its framework's glue.
//! The pages need nothing but the session.

#![allow(clippy::print_stdout)]

pub mod devices;
#[cfg(feature = "e2e")]
pub mod e2e;
pub mod footer;
pub mod html;
pub mod pages;
pub mod setup;
pub mod when;
