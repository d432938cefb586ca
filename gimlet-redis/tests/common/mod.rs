//! The Redis server the tests use, from `GIMLET_TEST_REDIS_URL`.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use gimlet_core::SessionId;
use gimlet_redis::RedisBackend;

pub const URL_VAR: &str = "GIMLET_TEST_REDIS_URL";

/// The server's URL, or `None` after saying on stderr that the test is
/// skipped (a failure when servers are required).
pub fn url(test: &str) -> Option<String> {
    gimlet_core::conformance::server_url(URL_VAR, test)
}

/// A backend with a prefix of its own, so parallel tests never share keys.
pub fn backend(url: &str) -> RedisBackend {
    let unique = SessionId::generate().expect("rng");
    RedisBackend::from_url(url)
        .expect("url")
        .prefix(format!("gimlet-test:{unique}:"))
}
