//! The cookie format: how a channel's state becomes a cookie value and back
//! (the codec and the payload layout), the clientside map a cookie carries,
//! the values verified before (remembered by their bytes), the jar that
//! finds Gimlet's cookies in a request and writes their `Set-Cookie` values,
//! and the watch that warns when `Secure` cookies meet plain HTTP.
//!
//! Public for tools and tests that read or forge cookies (fuzzing, the
//! benchmarks, the test vectors); an application never needs it.

mod clientside;
mod codec;
mod jar;
pub(crate) mod payload;
mod transport;
mod verified;

pub(crate) use clientside::{ClientsideMap, OVERFLOWED};
pub use codec::{CookieCodec, DecodeError, VerifiedCookie};
pub(crate) use jar::{CookieJar, Named, expire, parse_token, valid_domain, valid_name, valid_path};
pub use payload::{CookiePayload, payload_len};
pub(crate) use payload::{Entries, Header, bound};
pub(crate) use transport::TransportWatch;
pub(crate) use verified::VerifiedCookies;
