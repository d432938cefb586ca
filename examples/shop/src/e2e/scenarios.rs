//! The shop, as a user sees it: log in, fill a cart, log out; two
//! browsers of one user, logged out everywhere from one; and the footer's
//! account of each page. On SQLite in a file, the embedded default.

use super::harness::{Browser, cookie_bytes, csrf, devices, start};

/// Copies of a logged-out cookie must die at once in these tests.
const CHECK_EVERY_TIME: [(&str, &str); 1] = [("GIMLET_REVALIDATE_AFTER", "0")];

#[doc(hidden)]
pub async fn walk(binary: &str) {
    let shop = start(binary, &CHECK_EVERY_TIME).await;
    let browser = Browser::new(&shop);
    let page = browser.home().await;
    assert!(page.contains("Log in"), "{page}");
    // A first visit sent no cookie, and the page made the CSRF token.
    assert!(page.contains("Session diagnostics"), "{page}");
    assert!(page.contains("<code>Changed</code>"), "{binary}: {page}");
    assert_eq!(cookie_bytes(&page), None, "{page}");
    let token = csrf(&page);

    let (status, _) = browser
        .post("/login", &[("name", "mallory"), ("csrf", "x")])
        .await;
    assert_eq!(status, 403, "{binary}");

    let (_, page) = browser
        .post("/login", &[("name", "ada"), ("csrf", &token)])
        .await;
    assert!(page.contains("Signed in as <b>ada</b>"), "{binary}: {page}");
    assert!(page.contains("Welcome, ada."), "{page}");
    let token = csrf(&page);
    for item in ["gin", "lime"] {
        let (status, _) = browser
            .post("/cart", &[("item", item), ("csrf", &token)])
            .await;
        assert_eq!(status, 200);
    }
    let page = browser.home().await;
    assert!(page.contains("<li>gin<li>lime"), "{binary}: {page}");
    assert!(page.contains("<code>Read</code>"), "{binary}: {page}");
    assert!(cookie_bytes(&page).unwrap() > 100, "{binary}: {page}");
    // With a check on every request, that check's load also serves the cart.
    assert!(
        page.contains(
            "2 backend round trips: 1 for the check that this session was not ended, \
             1 to list your devices."
        ),
        "{binary}: {page}"
    );
    assert!(
        page.contains("<td><code>user_id</code></td><td>who you are</td><td>cookie, transient</td><td>set</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td><code>cart_items</code></td><td>what is in the cart</td><td>backend, permanent</td><td>set</td>"),
        "{page}"
    );
    // Someone copies the session's cookies before the user logs out.
    let url: reqwest::Url = shop.base.parse().unwrap();
    let copied = reqwest::cookie::CookieStore::cookies(&*browser.jar, &url).unwrap();

    let (_, page) = browser.post("/logout", &[("csrf", &token)]).await;
    assert!(
        page.contains("Log in") && page.contains("Goodbye."),
        "{binary}: {page}"
    );
    assert!(!page.contains("<h2>Cart</h2>"), "{page}");

    // The copy is worth nothing after the logout.
    let replay = reqwest::Client::new()
        .get(&shop.base)
        .header("Cookie", copied)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!replay.contains("Signed in as"), "{binary}: {replay}");
    assert!(!replay.contains("<li>gin"), "{binary}: {replay}");
}

/// With the default revalidation window, the footer tells what each page
/// cost: nothing for a returning guest, one call per server-side need.
#[doc(hidden)]
pub async fn footer(binary: &str) {
    let shop = start(binary, &[]).await;
    let browser = Browser::new(&shop);
    browser.home().await;
    let page = browser.home().await;
    assert!(
        page.contains(
            "0 backend round trips: everything this page needed was in the signed cookie."
        ),
        "{binary}: {page}"
    );
    assert!(page.contains("<code>Read</code>"), "{binary}: {page}");
    assert!(cookie_bytes(&page).unwrap() > 50, "{binary}: {page}");
    assert!(
        page.contains("this panel's listing</td><td><code>0</code>"),
        "{page}"
    );

    browser.log_in("ada").await;
    let page = browser.home().await;
    assert!(
        page.contains("1 backend round trip: 1 to list your devices."),
        "{binary}: {page}"
    );
    assert!(
        page.contains("<td>backend</td><td>not read by this page</td>"),
        "{page}"
    );
    let (status, _) = browser
        .post("/cart", &[("item", "gin"), ("csrf", &csrf(&page))])
        .await;
    assert_eq!(status, 200);
    let page = browser.home().await;
    assert!(
        page.contains(
            "2 backend round trips: 1 to load the cart's contents, 1 to list your devices."
        ),
        "{binary}: {page}"
    );
    assert!(
        page.contains("this panel's listing</td><td><code>0</code>"),
        "{page}"
    );
}

/// Two browsers of one user: each lists both; one logs out everywhere, and
/// both are logged out; a new login works; "log out other devices" keeps
/// only the browser that asks.
#[doc(hidden)]
pub async fn two_browsers(binary: &str) {
    let shop = start(binary, &CHECK_EVERY_TIME).await;
    let (a, b) = (Browser::new(&shop), Browser::new(&shop));
    a.log_in("ada").await;
    b.log_in("ada").await;
    let page = a.home().await;
    assert_eq!(devices(&page), 2, "{binary}: {page}");
    assert_eq!(page.matches("this browser").count(), 1, "{page}");
    assert!(page.contains("Log out other devices"), "{page}");
    assert_eq!(devices(&b.home().await), 2, "{binary}");

    let (status, _) = a.post("/logout-everywhere", &[("csrf", "x")]).await;
    assert_eq!(status, 403, "{binary}");
    assert!(
        b.home().await.contains("Signed in as <b>ada</b>"),
        "{binary}"
    );

    let (status, page) = a
        .post("/logout-everywhere", &[("csrf", &csrf(&page))])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Logged out everywhere: 2 sessions ended."),
        "{binary}: {page}"
    );
    assert!(
        page.contains("Log in") && !page.contains("Signed in as"),
        "{page}"
    );
    let page = b.home().await;
    assert!(page.contains("Log in"), "{binary}: {page}");
    assert!(
        !page.contains("Signed in as") && devices(&page) == 0,
        "{binary}: {page}"
    );
    let page = a.home().await;
    assert!(!page.contains("Signed in as"), "{binary}: {page}");

    let page = a.log_in("ada").await;
    assert!(page.contains("Signed in as <b>ada</b>"), "{binary}: {page}");
    assert_eq!(devices(&page), 1, "{binary}: {page}");
    assert!(!page.contains("Log out other devices"), "{page}");

    b.log_in("ada").await;
    let page = b.home().await;
    assert_eq!(devices(&page), 2, "{binary}: {page}");
    let (_, page) = b.post("/logout-others", &[("csrf", &csrf(&page))]).await;
    assert!(
        page.contains("Logged out 1 other session."),
        "{binary}: {page}"
    );
    assert!(page.contains("Signed in as <b>ada</b>"), "{page}");
    assert_eq!(devices(&page), 1, "{binary}: {page}");
    let page = a.home().await;
    assert!(!page.contains("Signed in as"), "{binary}: {page}");
}

/// The shop's scenarios as tests of the binary at `$binary` (its
/// `CARGO_BIN_EXE_…` path), in a test crate that depends on tokio.
#[macro_export]
macro_rules! scenarios {
    ($binary:expr) => {
        #[tokio::test]
        async fn walk() {
            $crate::e2e::scenarios::walk($binary).await;
        }

        #[tokio::test]
        async fn footer() {
            $crate::e2e::scenarios::footer($binary).await;
        }

        #[tokio::test]
        async fn two_browsers() {
            $crate::e2e::scenarios::two_browsers($binary).await;
        }

        #[tokio::test]
        async fn in_a_real_browser() {
            $crate::e2e::in_browser::in_a_real_browser($binary).await;
        }
    };
}
