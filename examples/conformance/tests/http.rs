//! The HTTP suite: real requests from a client with a cookie jar, against
//! the conformance app listening on 127.0.0.1, on every framework × every
//! backend. Each scenario is written once and runs on every combination it
//! applies to (a few need a backend, one needs none).

#![allow(clippy::unwrap_used)]

mod common;
#[path = "http/concurrency.rs"]
mod concurrency;
#[path = "http/lifecycle.rs"]
mod lifecycle;
#[path = "http/metrics.rs"]
mod metrics;
#[path = "http/owners.rs"]
mod owners;

use common::{App, Framework, Store, start};
use concurrency::*;
use gimlet_core::Config;
use lifecycle::*;
use metrics::*;
use owners::*;

fn defaults(_: &mut Config) {}

fn whitelist(config: &mut Config) {
    config.clientside_keys = ["cs".to_owned(), "cs2".to_owned()].into();
}

fn revalidate_always(config: &mut Config) {
    whitelist(config);
    config.revalidate_after = std::time::Duration::ZERO;
}

fn commit_failed(config: &mut Config) {
    config.commit_failed_requests = true;
}

/// get/set/has/delete, and deleting a missing key (404).
async fn get_set_has_delete(app: App) {
    let b = app.browser();
    assert_eq!(b.ok("/set/foo/bar").await, "ok");
    assert_eq!(b.ok("/get/foo").await, "bar");
    assert_eq!(b.ok("/has/foo").await, "true");
    assert_eq!(b.ok("/has/nope").await, "false");
    assert_eq!(b.get("/get/nope").await.status, 404);
    assert_eq!(b.ok("/delete/foo").await, "ok");
    assert_eq!(b.get("/delete/foo").await.status, 404);
    assert_eq!(b.ok("/has/foo").await, "false");
    assert_eq!(b.get("/get/foo").await.status, 404);
}

/// Permanent keys live in their own cookie, which alone has a Max-Age.
async fn permanent_keys_and_their_two_cookies(app: App) {
    let b = app.browser();
    let n = b.get("/set/a/1").await;
    let n = n
        .cookie("gimlet-n")
        .expect("the transient cookie")
        .to_owned();
    let p = b.get("/set/b/2?permanent=1").await;
    let p = p
        .cookie("gimlet-p")
        .expect("the permanent cookie")
        .to_owned();
    assert!(!n.contains("Max-Age") && !n.contains("Expires"), "{n}");
    assert!(p.contains("Max-Age=2592000"), "{p}");
    assert_eq!(b.ok("/is_permanent/b").await, "true");
    assert_eq!(b.ok("/is_permanent/a").await, "false");
    assert_eq!(b.ok("/get/b?permanent=1").await, "2");
    assert_eq!(b.get("/get/a?permanent=1").await.status, 404);
}

/// HttpOnly everywhere, SameSite, Max-Age only on the permanent cookie,
/// Secure when configured: one cookie per reply that changes one channel.
async fn cookie_metadata(app: App) {
    let b = app.browser();
    let reply = b.get("/set/k/v?permanent=1").await;
    let reply2 = b.get("/set/j/v").await;
    for reply in [&reply, &reply2] {
        assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
        assert_eq!(reply.set_cookies.len(), 1, "{:?}", reply.set_cookies);
    }
    for cookie in reply.set_cookies.iter().chain(&reply2.set_cookies) {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    let secure = start(app.framework, app.store, |c| c.cookie.secure = true)
        .await
        .unwrap();
    let b = secure.browser();
    let bare = secure.bare();
    let first = b.get("/set/k/v?permanent=1").await;
    let second = b.get("/set/j/v").await;
    // A reqwest jar does not send `Secure` cookies over http: send them.
    let both = format!("{}; {}", first.cookie_header(), second.cookie_header());
    let cycled = bare.get_with_cookies("/cycle", &both).await;
    for (reply, count) in [(&first, 1), (&second, 1), (&cycled, 2)] {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.set_cookies.len(), count, "{:?}", reply.set_cookies);
        for cookie in &reply.set_cookies {
            assert!(cookie.contains("; Secure"), "{cookie}");
            assert!(cookie.starts_with("__Host-gimlet-"), "{cookie}");
        }
    }
}

/// Whitelisted keys stay in the cookie: no backend call, and no batch ever
/// carries them, even next to server-side data.
async fn clientside_keys_never_reach_the_backend(app: App) {
    let b = app.browser();
    if app.store.has_backend() {
        b.ok("/set/server/1").await;
    }
    app.reset_counts();
    assert_eq!(b.ok("/set/cs/7").await, "ok");
    assert_eq!(b.ok("/get/cs").await, "7");
    assert_eq!(b.ok("/is_clientside/cs").await, "true");
    assert_eq!(app.counts().round_trips(), 0, "{:?}", app.counts());
    // A new permanent channel: one write creates its empty record, which
    // makes its cookie revocable.
    assert_eq!(b.ok("/set/cs/8?permanent=1").await, "ok");
    let expected = u64::from(app.store.has_backend());
    assert_eq!(app.counts().commits as u64, expected, "{:?}", app.counts());
    app.reset_counts();
    assert_eq!(b.get("/get/cs2").await.status, 404, "unset whitelisted key");
    assert_eq!(app.counts().round_trips(), 0, "{:?}", app.counts());
    assert_eq!(b.ok("/delete/cs").await, "ok");
    assert_eq!(app.counts().round_trips(), 0);
    b.ok("/iter").await;
    assert!(!app.keys_written().iter().any(|k| k.starts_with("cs")));
}

/// A key moves from the cookie to the backend, and is found only there.
async fn a_key_moves_from_clientside_to_server_side(app: App) {
    let b = app.browser();
    b.ok("/set/foo/bar?clientside=1").await;
    assert_eq!(b.ok("/is_clientside/foo").await, "true");
    b.ok("/set/foo/baz?clientside=0").await;
    assert_eq!(b.ok("/is_clientside/foo").await, "false");
    assert_eq!(b.ok("/get/foo").await, "baz");
    assert_eq!(b.get("/get/foo?clientside=1").await.status, 404);
    assert_eq!(b.ok("/get/foo?clientside=0").await, "baz");
    assert_eq!(b.ok("/len").await, "1");
}

/// iter and len span both channels and both sides; the id is 32 hex
/// characters and stable; the timestamp is the creation time.
async fn iter_len_id_and_timestamp(app: App) {
    let b = app.browser();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    b.ok("/set/b/1").await;
    b.ok("/set/a/1?permanent=1").await;
    b.ok("/set/c/1?clientside=1").await;
    assert_eq!(b.ok("/len").await, "3");
    assert_eq!(b.ok("/iter").await, "a\nb\nc");
    let id = b.ok("/id").await;
    assert_eq!(id.len(), 32);
    assert!(
        id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{id}"
    );
    assert_eq!(b.ok("/id").await, id);
    let timestamp: u64 = b.ok("/timestamp").await.parse().unwrap();
    assert!(
        timestamp >= before && timestamp <= before + 5,
        "{timestamp}"
    );
    assert_eq!(b.ok("/timestamp").await, timestamp.to_string());
}

/// append mutates a stored list and saves it.
async fn append_and_flatten(app: App) {
    let b = app.browser();
    b.ok("/append/l/itsy").await;
    b.ok("/append/l/bitsy").await;
    assert_eq!(b.ok("/flatten/l").await, "itsy:bitsy");
    assert_eq!(b.get("/flatten/nope").await.status, 404);
}

/// With no backend, a server-side key is refused (400) and the session
/// keeps what it had.
async fn no_backend_refuses_a_server_side_key(app: App) {
    let b = app.browser();
    b.ok("/set/kept/1").await;
    let reply = b.get("/set/k/v?clientside=0").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("needs a session backend"),
        "{}",
        reply.body
    );
    assert_eq!(b.ok("/get/kept").await, "1");
}

/// A mangled cookie counts as absent: a fresh session.
async fn a_mangled_cookie_gives_a_fresh_session(app: App) {
    let bare = app.bare();
    let set = bare.get("/set/foo/bar").await;
    let header = set.cookie_header();
    assert_eq!(bare.get_with_cookies("/get/foo", &header).await.body, "bar");
    let (name, value) = header.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let mangled = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let reply = bare.get_with_cookies("/get/foo", &mangled).await;
    assert_eq!(reply.status, 404);
    assert_eq!(bare.get_with_cookies("/len", &mangled).await.body, "0");
}

/// invalidate empties the session and sends removal cookies; the old
/// cookies reach nothing afterwards.
async fn invalidate_gives_an_empty_session_and_a_new_cookie(app: App) {
    let b = app.browser();
    b.ok("/set/foo/bar").await;
    b.ok("/set/p/1?permanent=1").await;
    let old_id = b.ok("/id").await;
    let bare = app.bare();
    let old = {
        let first = bare.get("/set/x/1").await;
        first.cookie_header()
    };
    let reply = b.get("/invalidate").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.set_cookies.len(), 2, "{:?}", reply.set_cookies);
    assert!(reply.set_cookies.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(b.ok("/len").await, "0");
    assert_eq!(b.get("/get/foo").await.status, 404);
    assert_ne!(b.ok("/id").await, old_id);
    // Another session's cookie is untouched by this logout.
    assert_eq!(bare.get_with_cookies("/get/x", &old).await.body, "1");
}

/// `/hello` does not touch the session: no call, no cookie.
async fn hello_makes_no_backend_call_and_sends_no_cookie(app: App) {
    let b = app.browser();
    let fresh = b.get("/hello").await;
    assert_eq!(fresh.body, "hello");
    assert!(fresh.set_cookies.is_empty());
    b.ok("/set/foo/bar").await;
    b.ok("/set/p/1?permanent=1").await;
    app.reset_counts();
    let reply = b.get("/hello").await;
    assert!(reply.set_cookies.is_empty(), "{:?}", reply.set_cookies);
    assert_eq!(app.counts().round_trips(), 0);
}

/// Reads answer what was stored and send no Set-Cookie.
async fn read_only_requests_send_no_set_cookie(app: App) {
    let b = app.browser();
    b.ok("/set/foo/bar").await;
    b.ok("/set/c/1?clientside=1&permanent=1").await;
    for (path, status, body) in [
        ("/get/foo", 200, "bar"),
        ("/has/foo", 200, "true"),
        ("/get/c", 200, "1"),
        ("/iter", 200, "c\nfoo"),
        ("/len", 200, "2"),
        ("/is_permanent/c", 200, "true"),
        ("/get/none", 404, "not found"),
    ] {
        let reply = b.get(path).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, body),
            "{path}"
        );
        assert!(
            reply.set_cookies.is_empty(),
            "{path}: {:?}",
            reply.set_cookies
        );
    }
}

/// cycle keeps the data under a new id; the old cookie no longer reaches
/// the server data.
async fn cycle_keeps_the_data_under_a_new_id(app: App) {
    let bare = app.bare();
    let first = bare.get("/set/foo/bar").await.cookie_header();
    let perm = bare
        .get_with_cookies("/set/p/1?permanent=1", &first)
        .await
        .cookie_header();
    let old = format!("{first}; {perm}");
    let old_id = bare.get_with_cookies("/id", &old).await.body;
    let cycled = bare.get_with_cookies("/cycle", &old).await;
    assert_eq!(cycled.status, 200, "{}", cycled.body);
    let new = cycled.cookie_header();
    assert_eq!(cycled.set_cookies.len(), 2, "{:?}", cycled.set_cookies);
    let new_id = bare.get_with_cookies("/id", &new).await.body;
    assert_ne!(new_id, old_id);
    assert_eq!(bare.get_with_cookies("/get/foo", &new).await.body, "bar");
    assert_eq!(bare.get_with_cookies("/get/p", &new).await.body, "1");
    if app.store.has_backend() {
        assert_eq!(bare.get_with_cookies("/get/foo", &old).await.status, 404);
    }
}

/// A `gimlet-n` value presented as `gimlet-p` is rejected.
async fn a_transient_cookie_presented_as_permanent_is_rejected(app: App) {
    let bare = app.bare();
    let reply = bare.get("/set/k/v?clientside=1").await;
    let value = reply
        .cookie("gimlet-n")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let swapped = format!("gimlet-p={value}");
    assert_eq!(bare.get_with_cookies("/get/k", &swapped).await.status, 404);
    assert_eq!(
        bare.get_with_cookies("/get/k", &format!("gimlet-n={value}"))
            .await
            .body,
        "v"
    );
}

/// An oversized clientside value is a clean 400, and the session survives.
async fn an_oversized_clientside_value_is_refused_cleanly(app: App) {
    let b = app.browser();
    b.ok("/set/small/kept?clientside=1").await;
    let big = "x".repeat(4000);
    let reply = b.get(&format!("/set/big/{big}?clientside=1")).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("cookie"), "{}", reply.body);
    assert!(reply.set_cookies.is_empty());
    assert_eq!(b.ok("/get/small").await, "kept");
    assert_eq!(b.get("/get/big").await.status, 404);
}

/// Flash queues, duplicates, peek and pop.
async fn flash_messages(app: App) {
    let b = app.browser();
    b.ok("/flash/one").await;
    b.ok("/flash/two").await;
    b.ok("/flash/one?allow_duplicate=0").await;
    b.ok("/flash/bad?queue=errors").await;
    assert_eq!(b.ok("/peek_flash").await, "one\ntwo");
    assert_eq!(b.ok("/pop_flash").await, "one\ntwo");
    assert_eq!(b.ok("/pop_flash").await, "");
    assert_eq!(b.ok("/pop_flash?queue=errors").await, "bad");
}

/// The CSRF token is stable and verifies exactly.
async fn csrf_token(app: App) {
    let b = app.browser();
    let token = b.ok("/csrf").await;
    assert_eq!(token.len(), 64);
    assert_eq!(b.ok("/csrf").await, token);
    assert_eq!(b.ok(&format!("/csrf/verify/{token}")).await, "true");
    assert_eq!(b.ok("/csrf/verify/forged").await, "false");
}

/// clear removes every key.
async fn clear_removes_every_key(app: App) {
    let b = app.browser();
    b.ok("/set/a/1").await;
    b.ok("/set/b/1?permanent=1").await;
    b.ok("/set/c/1?clientside=1").await;
    assert_eq!(b.ok("/clear").await, "ok");
    assert_eq!(b.ok("/len").await, "0");
}

/// Backend calls per route on an established session, as the I/O rules of
/// docs/sessions.md promise them.
async fn backend_calls_per_route(app: App) {
    let b = app.browser();
    b.ok("/set/foo/bar").await;
    b.ok("/set/p/1?permanent=1").await;
    b.ok("/set/cs/1").await;
    // (route, loads, commits)
    let expected: &[(&str, usize, usize)] = &[
        ("/hello", 0, 0),
        ("/get/cs", 0, 0),
        ("/set/cs/2", 0, 0),
        ("/get/foo", 1, 0),
        ("/has/nope", 1, 0),
        ("/set/foo/baz", 0, 1),
        ("/set/new/1", 0, 1),
        ("/delete/foo", 1, 1),
        ("/iter", 1, 0),
        ("/len", 1, 0),
        ("/append/l/x", 1, 1),
        ("/id", 0, 0),
        ("/cycle", 1, 1),
        ("/invalidate", 0, 1),
    ];
    for &(route, loads, commits) in expected {
        app.reset_counts();
        b.ok(route).await;
        let counts = app.counts();
        assert_eq!((counts.loads, counts.commits), (loads, commits), "{route}");
    }
}

macro_rules! scenarios {
    ($framework:expr, $store:expr; $($scenario:ident => $config:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(app) = start($framework, $store, $config).await {
                    crate::$scenario(app).await;
                }
            }
        )*
    };
}

/// One module per framework, holding one module per store: every scenario
/// on every framework × store, named `axum::redis::get_set_has_delete`.
macro_rules! matrix {
    (frameworks { $($fw:ident => $framework:expr),* $(,)? } stores $stores:tt) => {
        $(
            mod $fw {
                use super::*;
                stores!($framework, $stores);
            }
        )*
    };
}

/// Every scenario on one framework, one module per store.
macro_rules! stores {
    ($framework:expr, { $($module:ident => $store:expr, $kind:ident;)* }) => {
        $(
            mod $module {
                use super::*;
                scenarios!($framework, $store;
                    get_set_has_delete => defaults,
                    permanent_keys_and_their_two_cookies => defaults,
                    cookie_metadata => defaults,
                    clientside_keys_never_reach_the_backend => whitelist,
                    iter_len_id_and_timestamp => defaults,
                    append_and_flatten => defaults,
                    a_mangled_cookie_gives_a_fresh_session => defaults,
                    invalidate_gives_an_empty_session_and_a_new_cookie => defaults,
                    hello_makes_no_backend_call_and_sends_no_cookie => defaults,
                    read_only_requests_send_no_set_cookie => defaults,
                    cycle_keeps_the_data_under_a_new_id => defaults,
                    a_transient_cookie_presented_as_permanent_is_rejected => defaults,
                    an_oversized_clientside_value_is_refused_cleanly => defaults,
                    a_session_s_own_lifetime_sets_max_age_and_expiry => defaults,
                    metrics_are_served_in_prometheus_text => defaults,
                    flash_messages => defaults,
                    csrf_token => defaults,
                    clear_removes_every_key => defaults,
                    a_copied_cookie_reaches_nothing_after_logout => revalidate_always,
                    a_failed_request_commits_nothing => defaults,
                    failed_requests_commit_when_configured => commit_failed,
                    session_responses_are_private_and_vary_on_cookie => defaults,
                    error_bodies_are_generic => defaults,
                );
                only!($kind, $framework, $store);
            }
        )*
    };
}

/// The scenarios that apply to one kind of store only: generated for it
/// alone, so that every test that runs checks something.
macro_rules! only {
    (cookies, $framework:expr, $store:expr) => {
        scenarios!($framework, $store;
            no_backend_refuses_a_server_side_key => defaults,
            owners_need_an_owner_index => defaults,
        );
    };
    (server, $framework:expr, $store:expr) => {
        only!(stored, $framework, $store);
        scenarios!($framework, $store;
            log_out_everywhere => revalidate_always,
            ending_one_owner_leaves_the_others => revalidate_always,
        );
    };
    (server_without_index, $framework:expr, $store:expr) => {
        only!(stored, $framework, $store);
        scenarios!($framework, $store;
            owners_need_an_owner_index => defaults,
        );
    };
    // What every store with a backend runs.
    (stored, $framework:expr, $store:expr) => {
        scenarios!($framework, $store;
            a_key_moves_from_clientside_to_server_side => defaults,
            fifty_concurrent_requests_all_survive => defaults,
            fifty_concurrent_appends_to_one_key_all_survive => defaults,
            backend_calls_per_route => whitelist,
            a_lost_record_heals_on_the_next_request => defaults,
            a_logout_in_a_failed_request_still_takes_effect => defaults,
        );
    };
}

matrix! {
    frameworks {
        axum => Framework::Axum,
        actix => Framework::Actix,
        rocket => Framework::Rocket,
    }
    stores {
        none => Store::None, cookies;
        memory => Store::Memory, server;
        sqlite => Store::Sqlite, server;
        redis => Store::Redis, server;
        rediscluster => Store::RedisCluster, server;
        redissentinel => Store::RedisSentinel, server;
        rediss => Store::Rediss, server;
        redisscluster => Store::RedissCluster, server;
        postgres => Store::Postgres, server;
        mysql => Store::MySql, server;
        memcached => Store::Memcached, server_without_index;
        memcachedring => Store::MemcachedRing, server_without_index;
    }
}
