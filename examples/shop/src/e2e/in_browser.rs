//! The shop in a real browser (headless Chromium): remember me across a
//! browser restart, log out everywhere across two browsers, the page an
//! expired form gets, the cookies as Chromium keeps them (on
//! http://localhost and over HTTPS, `__Host-` included), and the layout at
//! phone width.

use super::browser::{Browser, Driver, Profile, Tls, available};
use super::harness::start;

const SIGNED_IN_AS: &str = "Signed in as <b>";

/// Every browser scenario against the shop at `binary`.
pub async fn in_a_real_browser(binary: &str) {
    if !available("in_a_real_browser") {
        return;
    }
    let driver = Driver::start().await;
    remember_me_survives_a_restart(&driver, binary).await;
    log_out_everywhere_across_two_browsers(&driver, binary).await;
    cookies_as_chromium_keeps_them(&driver, binary).await;
    the_page_fits_a_phone(&driver, binary).await;
}

/// Logs in as `name` from the home page at `base`; the page it leads to.
async fn log_in(browser: &Browser<'_>, base: &str, name: &str, remember: bool) -> String {
    browser.open(&format!("{base}/")).await;
    browser.type_into("form.login input[name=name]", name).await;
    if remember {
        browser.click("form.login input[name=remember]").await;
    }
    browser.follow("form.login button").await
}

/// `http://localhost:PORT`, where Chromium treats the page as a secure
/// context.
fn localhost(base: &str) -> String {
    base.replace("127.0.0.1", "localhost")
}

async fn remember_me_survives_a_restart(driver: &Driver, binary: &str) {
    let shop = start(binary, &[]).await;
    let base = localhost(&shop.base);
    for remember in [true, false] {
        let profile = Profile::new();
        let browser = driver.browser(&profile.0, 1100).await;
        let page = log_in(&browser, &base, "ada", remember).await;
        assert!(page.contains("Signed in as <b>ada</b>"), "{binary}: {page}");
        let kept = browser.cookies().await;
        assert_eq!(
            kept.iter().any(|c| c.expiry.is_some()),
            remember,
            "{binary}: a persistent cookie only with remember me: {kept:?}"
        );
        browser.quit().await;

        // A restart: the same profile, a new Chromium.
        let browser = driver.browser(&profile.0, 1100).await;
        let page = browser.open(&format!("{base}/")).await;
        assert_eq!(
            page.contains("Signed in as <b>ada</b>"),
            remember,
            "{binary}: {page}"
        );
        if !remember {
            assert!(page.contains("<h2>Sign in</h2>"), "{binary}: {page}");
        }
        browser.quit().await;
    }
}

async fn log_out_everywhere_across_two_browsers(driver: &Driver, binary: &str) {
    let shop = start(binary, &[]).await;
    let base = localhost(&shop.base);
    let (pa, pb) = (Profile::new(), Profile::new());
    let a = driver.browser(&pa.0, 1100).await;
    let b = driver.browser(&pb.0, 1100).await;
    log_in(&a, &base, "bob", false).await;
    let page = log_in(&b, &base, "bob", false).await;
    assert!(page.contains("2 in all"), "{binary}: {page}");

    let page = a.follow("form[action='/logout-everywhere'] button").await;
    assert!(
        page.contains("Logged out everywhere: 2 sessions ended."),
        "{binary}: {page}"
    );
    assert!(!page.contains(SIGNED_IN_AS), "{binary}: {page}");

    // B's page still shows its forms: the first one it sends gets the
    // expired-form page, with the way back, and nothing says signed in.
    let page = b.follow("form[action='/cart'] button").await;
    assert!(page.contains("This form has expired"), "{binary}: {page}");
    assert!(!page.contains(SIGNED_IN_AS), "{binary}: {page}");
    let page = b.follow("a.button").await;
    assert!(!page.contains(SIGNED_IN_AS), "{binary}: {page}");
    assert!(page.contains("<h2>Sign in</h2>"), "{binary}: {page}");
    a.quit().await;
    b.quit().await;
}

async fn cookies_as_chromium_keeps_them(driver: &Driver, binary: &str) {
    // The shop's own default on plain HTTP: not Secure, so no `__Host-`.
    let shop = start(binary, &[]).await;
    let profile = Profile::new();
    let browser = driver.browser(&profile.0, 1100).await;
    log_in(&browser, &localhost(&shop.base), "cy", true).await;
    let cookies = browser.cookies().await;
    let session: Vec<_> = cookies
        .iter()
        .filter(|c| c.name.starts_with("gimlet-"))
        .collect();
    assert!(!session.is_empty(), "{binary}: {cookies:?}");
    for cookie in session {
        assert!(cookie.http_only && !cookie.secure, "{binary}: {cookie:?}");
        assert_eq!(
            (cookie.same_site.as_str(), cookie.path.as_str()),
            ("Lax", "/"),
            "{cookie:?}"
        );
    }
    browser.quit().await;

    // Secure, as in production: `__Host-` names, which Chromium keeps only
    // from a secure origin. http://localhost is one; so is HTTPS.
    let shop = start(binary, &[("GIMLET_COOKIE_SECURE", "1")]).await;
    let target = shop.base.trim_start_matches("http://").to_owned();
    let tls = Tls::front(&target).await;
    for base in [localhost(&shop.base), tls.base.clone()] {
        let profile = Profile::new();
        let browser = driver.browser(&profile.0, 1100).await;
        let page = log_in(&browser, &base, "dee", true).await;
        assert!(
            page.contains("Signed in as <b>dee</b>"),
            "{binary} on {base}: {page}"
        );
        let cookies = browser.cookies().await;
        let hosted: Vec<_> = cookies
            .iter()
            .filter(|c| c.name.starts_with("__Host-gimlet-"))
            .collect();
        assert!(!hosted.is_empty(), "{binary} on {base}: {cookies:?}");
        for cookie in hosted {
            assert!(
                cookie.secure && cookie.http_only,
                "{binary} on {base}: {cookie:?}"
            );
        }
        browser.quit().await;
        // And the login outlives a restart there too.
        let browser = driver.browser(&profile.0, 1100).await;
        let page = browser.open(&format!("{base}/")).await;
        assert!(
            page.contains("Signed in as <b>dee</b>"),
            "{binary} on {base}: {page}"
        );
        browser.quit().await;
    }
}

async fn the_page_fits_a_phone(driver: &Driver, binary: &str) {
    let shop = start(binary, &[]).await;
    let base = localhost(&shop.base);
    for width in [360, 390] {
        let profile = Profile::new();
        let browser = driver.browser(&profile.0, width).await;
        log_in(&browser, &base, "eve", false).await;
        browser.follow("form[action='/cart'] button").await;
        let fits = browser
            .run(
                "return [document.documentElement.scrollWidth, \
                 document.documentElement.clientWidth];",
            )
            .await;
        let (scroll, client) = (fits[0].as_u64().unwrap(), fits[1].as_u64().unwrap());
        assert!(
            scroll <= client,
            "{binary} at {width} px: {scroll} px wide in {client}"
        );
        browser.quit().await;
    }
}
