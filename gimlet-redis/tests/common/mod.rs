//! The Redis servers the tests use: one server (`GIMLET_TEST_REDIS_URL`),
//! a cluster (`GIMLET_TEST_REDIS_CLUSTER_URL`), a primary behind Sentinel
//! (`GIMLET_TEST_REDIS_SENTINEL_URL`), a server over TLS
//! (`GIMLET_TEST_REDISS_URL`) and a cluster over TLS
//! (`GIMLET_TEST_REDISS_CLUSTER_URL`).

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

pub mod topology;

use gimlet_core::SessionId;
use gimlet_redis::RedisBackend;

pub const URL_VAR: &str = "GIMLET_TEST_REDIS_URL";
pub const CLUSTER_VAR: &str = "GIMLET_TEST_REDIS_CLUSTER_URL";
pub const SENTINEL_VAR: &str = "GIMLET_TEST_REDIS_SENTINEL_URL";
pub const TLS_VAR: &str = "GIMLET_TEST_REDISS_URL";
pub const TLS_CLUSTER_VAR: &str = "GIMLET_TEST_REDISS_CLUSTER_URL";

/// The single server's URL, or `None` after saying on stderr that the test
/// is skipped (a failure when servers are required).
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

/// [`backend`] on the server `var` names, if it is set.
pub fn backend_on(var: &str, test: &str) -> Option<RedisBackend> {
    gimlet_core::conformance::server_url(var, test).map(|url| backend(&url))
}

/// A function that opens an app server of its own on `url` (its own
/// pool, as another process would have), under a prefix of the caller's:
/// every app server it opens shares one store.
pub fn app_servers(url: &str) -> impl AsyncFn() -> gimlet_core::conformance::SharedBackend {
    let prefix = format!("gimlet-test:{}:", SessionId::generate().expect("rng"));
    let url = url.to_owned();
    async move || {
        let store = RedisBackend::from_url(&url).expect("url").prefix(&prefix);
        std::sync::Arc::new(store) as gimlet_core::conformance::SharedBackend
    }
}
