//! The HTTP scenarios of log out everywhere: `/owner`, `/sessions_of` and
//! `/end_sessions_of`. `http.rs` runs them on every framework and backend.

use crate::common::App;

/// A name no other scenario uses.
fn user() -> String {
    format!("u{}", gimlet_core::SessionId::generate().unwrap())
}

/// Two browsers log in as one user (one had a session before); each one's
/// data, clientside included, is gone once the user's sessions are ended
/// (with `revalidate_after = 0`), and the browsers can log in again.
pub(crate) async fn log_out_everywhere(app: App) {
    let name = user();
    let (owner, list, end) = (
        format!("/owner/{name}"),
        format!("/sessions_of/{name}"),
        format!("/end_sessions_of/{name}"),
    );
    let (phone, laptop) = (app.browser(), app.browser());
    phone.ok("/set/cart/gin").await;
    for (browser, cs) in [(&phone, "1"), (&laptop, "2")] {
        assert_eq!(browser.ok(&owner).await, "ok");
        browser.ok(&format!("/set/cs/{cs}")).await;
        browser.ok("/set/cart/lime").await;
    }
    assert_eq!(phone.ok(&list).await, "2");
    assert_eq!(phone.ok("/get/cart").await, "lime");
    // Naming the same owner again is a login all the same: new ids, so
    // a new cookie, and still two sessions.
    let again = phone.get(&owner).await;
    assert_eq!(
        (again.status, again.set_cookies.len()),
        (200, 1),
        "{again:?}"
    );
    assert_eq!(phone.ok(&list).await, "2");
    assert_eq!(phone.ok("/get/cart").await, "lime");

    assert_eq!(laptop.ok(&end).await, "2");
    for browser in [&phone, &laptop] {
        assert_eq!(browser.get("/get/cs").await.status, 404);
        assert_eq!(browser.get("/get/cart").await.status, 404);
    }
    assert_eq!(laptop.ok(&list).await, "0");
    assert_eq!(laptop.ok(&end).await, "0");
    assert_eq!(phone.ok(&owner).await, "ok");
    assert_eq!(laptop.ok(&list).await, "1");
}

/// Another owner's sessions are not touched, and a session can change
/// owners.
pub(crate) async fn ending_one_owner_leaves_the_others(app: App) {
    let (ada, bob) = (user(), user());
    let (a, b) = (app.browser(), app.browser());
    a.ok(&format!("/owner/{ada}")).await;
    a.ok("/set/k/a").await;
    b.ok(&format!("/owner/{bob}")).await;
    b.ok("/set/k/b").await;
    assert_eq!(a.ok(&format!("/end_sessions_of/{bob}")).await, "1");
    assert_eq!(a.ok("/get/k").await, "a");
    assert_eq!(b.get("/get/k").await.status, 404);
    a.ok(&format!("/owner/{bob}")).await;
    assert_eq!(a.ok(&format!("/sessions_of/{ada}")).await, "0");
    assert_eq!(a.ok(&format!("/sessions_of/{bob}")).await, "1");
    assert_eq!(a.ok("/get/k").await, "a", "the data moved with the session");
}

/// Without a backend, or on one that keeps no owner index (memcached),
/// the owner routes are a usage error.
pub(crate) async fn owners_need_an_owner_index(app: App) {
    let b = app.browser();
    assert_eq!(b.get("/owner/ada").await.status, 400);
    assert_eq!(b.get("/sessions_of/ada").await.status, 400);
    assert_eq!(b.get("/end_sessions_of/ada").await.status, 400);
}
