//! `cookie_overflow`: a clientside value too large for its cookie is kept
//! in the store, its reads stay right, and `status()` says so; without the
//! opt-in it is refused as before.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, browser, calls};
use gimlet_core::backend::Op;
use gimlet_core::{ConfigErrorKind, Error, Gimlet, Placement};

fn big() -> String {
    "x".repeat(6000)
}

/// A browser whose `prefs` is whitelisted, with overflow on, holding a
/// small clientside key and an overflowed `prefs`.
async fn overflowed() -> Browser {
    let mut b = browser(|g| g.clientside_keys(["prefs", "theme"]).cookie_overflow(true));
    let s = b.open();
    s.insert("theme", &"dark").await.unwrap();
    s.insert("prefs", &big()).await.unwrap();
    assert_eq!(s.status().overflowed, 1);
    assert!(
        !s.is_clientside("prefs").await.unwrap(),
        "kept in the store"
    );
    assert!(s.is_clientside("theme").await.unwrap());
    assert_eq!(s.get::<String>("prefs").await.unwrap(), Some(big()));
    let cookies = b.commit(&s).await;
    assert!(cookies.iter().all(|c| c.len() < 1000), "{cookies:?}");
    assert!(keys_written(&b).contains(&"prefs".to_owned()));
    b.reset_counts();
    b
}

fn keys_written(b: &Browser) -> Vec<String> {
    let batch = b.backend.last_batch().expect("a commit");
    batch
        .ops
        .iter()
        .flat_map(|op| match op {
            Op::Write(w) => w
                .set
                .iter()
                .map(|(k, _)| k.clone())
                .chain(w.remove.iter().cloned())
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[tokio::test]
async fn without_the_opt_in_an_oversized_clientside_value_is_refused() {
    let mut b = browser(|g| g.clientside_keys(["prefs"]));
    let s = b.open();
    let error = s.insert("prefs", &big()).await.unwrap_err();
    assert!(matches!(error, Error::CookieTooLarge { .. }), "{error}");
    assert_eq!(s.status().overflowed, 0);
    b.commit(&s).await;
    assert!(b.last.is_empty());
}

#[tokio::test]
async fn an_overflowed_value_reads_back_with_one_load_and_the_cookie_s_keys_with_none() {
    let b = overflowed().await;
    let s = b.open();
    assert_eq!(
        s.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    assert_eq!(b.counts(), calls(0, 0), "a cookie key costs no round trip");
    assert_eq!(s.get::<String>("prefs").await.unwrap(), Some(big()));
    assert_eq!(b.counts(), calls(1, 0));
    assert_eq!(s.keys().await.unwrap(), ["prefs", "theme"]);
    assert_eq!(
        s.status().overflowed,
        0,
        "this request kept nothing in the store"
    );
}

#[tokio::test]
async fn a_value_that_fits_again_goes_back_to_the_cookie_and_leaves_the_store() {
    let mut b = overflowed().await;
    let s = b.open();
    s.insert("prefs", &"small").await.unwrap();
    assert!(s.is_clientside("prefs").await.unwrap());
    b.commit(&s).await;
    assert!(
        keys_written(&b).contains(&"prefs".to_owned()),
        "removed there"
    );
    b.reset_counts();
    let s = b.open();
    assert_eq!(
        s.get::<String>("prefs").await.unwrap().as_deref(),
        Some("small")
    );
    assert_eq!(b.counts(), calls(0, 0));
    assert_eq!(s.keys().await.unwrap(), ["prefs", "theme"]);
}

#[tokio::test]
async fn removing_an_overflowed_key_removes_it_everywhere() {
    let mut b = overflowed().await;
    let s = b.open();
    s.remove("prefs").await.unwrap();
    assert_eq!(s.get::<String>("prefs").await.unwrap(), None);
    b.commit(&s).await;
    let s = b.open();
    assert_eq!(s.get::<String>("prefs").await.unwrap(), None);
    assert_eq!(s.keys().await.unwrap(), ["theme"]);
}

#[tokio::test]
async fn an_update_of_an_overflowed_whitelisted_key_stays_where_it_fits() {
    let mut b = overflowed().await;
    let s = b.open();
    s.update("prefs", |prefs: &mut Option<String>| {
        prefs.as_mut().expect("there").push('y');
    })
    .await
    .unwrap();
    b.commit(&s).await;
    let s = b.open();
    assert_eq!(s.get::<String>("prefs").await.unwrap(), Some(big() + "y"));
    assert!(!s.is_clientside("prefs").await.unwrap());
    s.update("prefs", |prefs: &mut Option<String>| {
        *prefs = Some("s".into());
    })
    .await
    .unwrap();
    assert!(
        s.is_clientside("prefs").await.unwrap(),
        "back in the cookie"
    );
    b.commit(&s).await;
    assert_eq!(
        b.open().get::<String>("prefs").await.unwrap().as_deref(),
        Some("s")
    );
}

#[tokio::test]
async fn an_overflowed_value_keeps_the_store_s_limits() {
    let b = browser(|g| {
        g.clientside_keys(["prefs"])
            .cookie_overflow(true)
            .max_value_size(5000)
    });
    let s = b.open();
    let error = s.insert("prefs", &big()).await.unwrap_err();
    assert!(matches!(error, Error::ValueTooLarge { .. }), "{error}");
    // A value that fits its cookie is not held to them.
    s.insert_with("note", &"n".repeat(100), Placement::new().clientside(true))
        .await
        .unwrap();
}

#[test]
fn overflow_without_a_backend_is_refused_at_build() {
    let error = Gimlet::builder()
        .secret(common::SECRET)
        .cookie_overflow(true)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Placement);
    assert!(error.to_string().contains("cookie_overflow"), "{error}");
}

/// A value that fits an empty cookie but not the request's own: the
/// overflow is sized against the cookie the browser sent, so the store's
/// value limit applies to it even when the insert is the request's first
/// use of its session.
#[tokio::test]
async fn the_first_use_sizes_the_overflow_against_the_cookie_sent() {
    let mut b = browser(|g| {
        g.clientside_keys(["a", "b"])
            .cookie_overflow(true)
            .max_value_size(1000)
    });
    let s = b.open();
    s.insert("a", &"y".repeat(2000)).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    let error = s.insert("b", &"z".repeat(1500)).await.unwrap_err();
    assert!(matches!(error, Error::ValueTooLarge { .. }), "{error}");
}
