//! The HTTP scenarios of the session lifecycle: revocation of copied
//! cookies, healing of lost records, failed requests, caching headers,
//! error bodies, and a session's own lifetime. `http.rs` runs them on every framework and backend.

use crate::common::App;

/// With `revalidate_after = 0`, a copy of the cookies taken before a
/// logout reaches nothing afterwards, clientside data included. Without a
/// backend cookies cannot be revoked: the copy keeps working, as documented.
pub(crate) async fn a_copied_cookie_reaches_nothing_after_logout(app: App) {
    let b = app.browser();
    b.ok("/set/cs/7").await;
    b.ok("/set/p/1?permanent=1&clientside=1").await;
    if app.store.has_backend() {
        b.ok("/set/foo/bar").await;
    }
    let bare = app.bare();
    let copy = {
        let one = bare.get("/set/cs/8").await.cookie_header();
        let two = bare
            .get_with_cookies("/set/p/2?permanent=1&clientside=1", &one)
            .await;
        format!("{one}; {}", two.cookie_header())
    };
    assert_eq!(bare.get_with_cookies("/get/cs", &copy).await.body, "8");
    // The copy's owner logs out with a jar that holds the same cookies.
    let logout = bare.get_with_cookies("/invalidate", &copy).await;
    assert_eq!(logout.status, 200);
    assert_eq!(logout.set_cookies.len(), 2, "{:?}", logout.set_cookies);
    let after = bare.get_with_cookies("/get/cs", &copy).await;
    if app.store.has_backend() {
        assert_eq!(after.status, 404, "{}", after.body);
        assert_eq!(bare.get_with_cookies("/get/p", &copy).await.status, 404);
        assert_eq!(bare.get_with_cookies("/len", &copy).await.body, "0");
        let write = bare.get_with_cookies("/set/cs/9", &copy).await;
        assert_eq!(write.status, 200);
        let fresh = write.cookie_header();
        assert_eq!(bare.get_with_cookies("/iter", &fresh).await.body, "cs");
    } else {
        assert_eq!(after.body, "8", "cookies alone cannot be revoked");
    }
    // The other browser's session is untouched.
    assert_eq!(b.ok("/get/cs").await, "7");
}

/// The records behind a browser's cookies are lost: its next write
/// succeeds (no 409), and later reads see only the new values.
pub(crate) async fn a_lost_record_heals_on_the_next_request(app: App) {
    let b = app.bare();
    let first = b.get("/set/foo/bar").await.cookie_header();
    let both = format!(
        "{first}; {}",
        b.get_with_cookies("/set/cs/1?permanent=1&clientside=1", &first)
            .await
            .cookie_header()
    );
    app.lose_records(&both).await;
    let write = b.get_with_cookies("/set/new/1", &both).await;
    assert_eq!(write.status, 200, "{}", write.body);
    let healed = write.cookie_header();
    assert!(!healed.is_empty(), "{:?}", write.set_cookies);
    assert_eq!(b.get_with_cookies("/get/new", &healed).await.body, "1");
    assert_eq!(b.get_with_cookies("/get/foo", &healed).await.status, 404);
    assert_eq!(b.get_with_cookies("/iter", &healed).await.body, "new");
    // A server read with the lost cookies finds them gone: it sees
    // nothing, clientside data included, and drops them.
    let read = b.get_with_cookies("/iter", &both).await;
    assert_eq!(read.body, "");
    assert_eq!(read.set_cookies.len(), 2, "{:?}", read.set_cookies);
    assert!(read.set_cookies.iter().all(|c| c.contains("Max-Age=0")));
}

/// A request answered with a 5xx commits nothing: no write, no cookie.
pub(crate) async fn a_failed_request_commits_nothing(app: App) {
    let b = app.browser();
    b.ok("/set/a/1").await;
    app.reset_counts();
    for path in ["/set_then_fail/a/2", "/set_then_fail/c/3?clientside=1"] {
        let reply = b.get(path).await;
        assert_eq!(reply.status, 500, "{path}");
        assert_eq!(reply.body, "failed on purpose");
        assert!(
            reply.set_cookies.is_empty(),
            "{path}: {:?}",
            reply.set_cookies
        );
    }
    assert_eq!(app.counts().commits, 0);
    assert_eq!(b.ok("/get/a").await, "1");
    assert_eq!(b.get("/get/c").await.status, 404);
    // A brand-new session that fails leaves no cookie either.
    let reply = app.bare().get("/set_then_fail/x/1").await;
    assert!(reply.set_cookies.is_empty(), "{:?}", reply.set_cookies);
}

/// A logout in a request that then fails still takes effect: the records
/// are deleted and the cookies removed, so a copy of them reaches nothing
/// at once; nothing else of the request commits.
pub(crate) async fn a_logout_in_a_failed_request_still_takes_effect(app: App) {
    let b = app.browser();
    b.ok("/set/cart/gin").await;
    let copy = b.get("/set/user/ada?clientside=1").await.cookie_header();
    assert!(!copy.is_empty());
    let reply = b.get("/invalidate_then_fail").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.body, "failed on purpose");
    assert!(
        !reply.set_cookies.is_empty() && reply.set_cookies.iter().all(|c| c.contains("Max-Age=0")),
        "{:?}",
        reply.set_cookies
    );
    // A server read through the copy finds the record gone.
    assert_eq!(b.get_with_cookies("/get/cart", &copy).await.status, 404);
    assert_eq!(b.get_with_cookies("/iter", &copy).await.body, "");
}

/// `commit_failed_requests` turns commits of failed requests back on.
pub(crate) async fn failed_requests_commit_when_configured(app: App) {
    let b = app.browser();
    let reply = b.get("/set_then_fail/a/2").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.set_cookies.len(), 1, "{:?}", reply.set_cookies);
    assert_eq!(b.ok("/get/a").await, "2");
}

/// A response that sets a session cookie is private; one that used the
/// session varies on `Cookie`; one that did not use it gets neither.
pub(crate) async fn session_responses_are_private_and_vary_on_cookie(app: App) {
    let b = app.browser();
    let set = b.get("/set/a/1").await;
    assert_eq!(set.set_cookies.len(), 1);
    assert_eq!(set.header("cache-control"), "private");
    assert_eq!(set.header("vary"), "Cookie");
    let read = b.get("/get/a").await;
    assert!(read.set_cookies.is_empty());
    assert_eq!(read.header("cache-control"), "");
    assert_eq!(read.header("vary"), "Cookie");
    let hello = b.get("/hello").await;
    assert_eq!(hello.header("cache-control"), "");
    assert_eq!(hello.header("vary"), "");
}

/// Error bodies are short and generic: no key name, no size.
pub(crate) async fn error_bodies_are_generic(app: App) {
    let b = app.browser();
    let big = "x".repeat(4000);
    let reply = b
        .get(&format!("/set/secret_key_name/{big}?clientside=1"))
        .await;
    assert_eq!(reply.status, 400);
    assert!(!reply.body.contains("secret_key_name"), "{}", reply.body);
    assert!(!reply.body.contains("4096"), "{}", reply.body);
    assert!(reply.body.len() < 60, "{}", reply.body);
}

/// The `Max-Age` of `reply`'s cookie `name`, if it sets one.
fn max_age(reply: &crate::common::Reply, name: &str) -> Option<u64> {
    let cookie = reply.cookie(name)?;
    let value = cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))?;
    Some(value.parse().expect("a number of seconds"))
}

/// `/set_expiry/{seconds}` gives the session its own idle lifetime: the
/// permanent cookie's `Max-Age` and the records' expiry follow it at once
/// and through a cycle; a lifetime over the configured maximum (400 days)
/// is a 400 that changes nothing.
pub(crate) async fn a_session_s_own_lifetime_sets_max_age_and_expiry(app: App) {
    let b = app.browser();
    b.ok("/set/p/1?permanent=1").await;
    b.ok("/set/t/1").await;
    for route in ["/set_expiry/600", "/cycle"] {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reply = b.get(route).await;
        assert_eq!(reply.status, 200, "{route}: {}", reply.body);
        assert_eq!(max_age(&reply, "gimlet-p"), Some(600), "{route}");
        assert_eq!(max_age(&reply, "gimlet-n"), None, "{route}");
        if app.store.has_backend() {
            let expiries = app.expiries_written();
            assert_eq!(expiries.len(), 2, "{route}: both records");
            for expiry in expiries {
                assert!(
                    (now + 600..=now + 605).contains(&expiry),
                    "{route}: {expiry}"
                );
            }
        }
    }
    let too_long = b.get("/set_expiry/34560001").await;
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    assert!(
        too_long.set_cookies.is_empty(),
        "{:?}",
        too_long.set_cookies
    );
    assert_eq!(b.get("/set_expiry/ten").await.status, 400);
    assert_eq!(b.ok("/get/p").await, "1");
    assert_eq!(b.ok("/get/t").await, "1");
}
