//! The calls an app makes at login and logout: `login`, `logout`,
//! `logout_everywhere`, `logout_other_devices`, each checked for what it
//! must do to every browser of the user.

#![allow(clippy::unwrap_used)]

mod common;

use common::{browser, cookie_only};
use gimlet_core::{Gimlet, Key, Placement};

const USER: Key<String> = Key::new("user").clientside();

/// `n` browsers of one app, each logged in as ada.
async fn logged_in_browsers(n: usize) -> (Gimlet, Vec<String>) {
    let mut b = browser(|g| g.key(USER));
    let mut headers = Vec::new();
    for _ in 0..n {
        b.jar.clear();
        let s = b.open();
        s.login("ada").await.unwrap();
        s.insert(USER, &"ada".to_owned()).await.unwrap();
        b.commit(&s).await;
        headers.push(b.header());
    }
    (b.gimlet.clone(), headers)
}

async fn user_of(gimlet: &Gimlet, header: &str) -> Option<String> {
    gimlet.open_from_headers([header]).get(USER).await.unwrap()
}

#[tokio::test]
async fn login_moves_the_session_under_new_ids_and_lists_it_as_the_user_s() {
    let mut b = browser(|g| g.key(USER));
    let s = b.open();
    s.insert("cart", &["gin"]).await.unwrap();
    b.commit(&s).await;
    let before = b.open().id().unwrap();
    let planted = b.header();

    let s = b.open();
    s.login("ada").await.unwrap();
    s.insert(USER, &"ada".to_owned()).await.unwrap();
    b.commit(&s).await;
    assert_ne!(b.open().id().unwrap(), before);
    assert_eq!(b.gimlet.sessions_of("ada", None).await.unwrap().len(), 1);
    let cart: Option<Vec<String>> = b.open().get("cart").await.unwrap();
    assert_eq!(cart, Some(vec!["gin".to_owned()]), "the data moved along");
    let old = b.gimlet.open_from_headers([planted.as_str()]);
    assert_eq!(
        old.get::<Vec<String>>("cart").await.unwrap(),
        None,
        "the planted id is worth nothing"
    );
}

#[tokio::test]
async fn login_without_an_owner_index_still_moves_the_ids() {
    let gimlet = cookie_only(|g| g.key(USER));
    // A jar: each cookie by its name, the newest value kept.
    let mut jar = std::collections::BTreeMap::new();
    let mut keep = |cookies: Vec<String>| {
        for cookie in cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.insert(name.to_owned(), value.to_owned());
        }
        let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ")
    };
    let s = gimlet.open_from_headers([]);
    let before = s.id().unwrap();
    let planted = keep(gimlet.commit(&s).await.unwrap());
    let s = gimlet.open_from_headers([planted.as_str()]);
    assert_eq!(s.id().unwrap(), before);
    s.login("ada").await.unwrap();
    s.insert(USER, &"ada".to_owned()).await.unwrap();
    let after = keep(gimlet.commit(&s).await.unwrap());
    let s = gimlet.open_from_headers([after.as_str()]);
    assert_ne!(
        s.id().unwrap(),
        before,
        "a new id: the planted one is worth nothing"
    );
}

#[tokio::test]
async fn remember_me_puts_the_login_in_the_permanent_cookie() {
    let gimlet = cookie_only(|g| g.key(USER));
    for remember in [true, false] {
        let s = gimlet.open_from_headers([]);
        s.login("ada").await.unwrap();
        s.insert_with(
            USER,
            &"ada".to_owned(),
            Placement::new().permanent(remember),
        )
        .await
        .unwrap();
        let cookies = gimlet.commit(&s).await.unwrap();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        assert_eq!(cookies[0].contains("Max-Age"), remember, "{cookies:?}");
    }
}

#[tokio::test]
async fn logout_ends_this_session_and_every_copy_of_its_cookies() {
    let (gimlet, headers) = logged_in_browsers(2).await;
    let s = gimlet.open_from_headers([headers[0].as_str()]);
    s.logout().await.unwrap();
    let removals = gimlet.commit(&s).await.unwrap();
    assert!(
        removals.iter().all(|c| c.contains("Max-Age=0")),
        "{removals:?}"
    );
    assert_eq!(
        user_of(&gimlet, &headers[0]).await,
        None,
        "a copy of the cookie"
    );
    assert_eq!(
        user_of(&gimlet, &headers[1]).await.as_deref(),
        Some("ada"),
        "the other browser"
    );
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user() {
    let (gimlet, headers) = logged_in_browsers(3).await;
    let s = gimlet.open_from_headers([headers[0].as_str()]);
    assert_eq!(s.logout_everywhere("ada").await.unwrap(), 2);
    gimlet.commit(&s).await.unwrap();
    for header in &headers {
        assert_eq!(user_of(&gimlet, header).await, None);
    }
    assert!(gimlet.sessions_of("ada", None).await.unwrap().is_empty());
}

#[tokio::test]
async fn logout_other_devices_keeps_this_one() {
    let (gimlet, headers) = logged_in_browsers(3).await;
    let s = gimlet.open_from_headers([headers[1].as_str()]);
    assert_eq!(s.logout_other_devices("ada").await.unwrap(), 2);
    gimlet.commit(&s).await.unwrap();
    assert_eq!(user_of(&gimlet, &headers[0]).await, None);
    assert_eq!(user_of(&gimlet, &headers[2]).await, None);
    assert_eq!(user_of(&gimlet, &headers[1]).await.as_deref(), Some("ada"));
    assert_eq!(gimlet.sessions_of("ada", None).await.unwrap().len(), 1);
}
