//! Flash messages and the CSRF token.

#![allow(clippy::unwrap_used)]

mod common;

use common::browser;

#[tokio::test]
async fn flash_messages_queue_peek_and_pop() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.flash("one").await.unwrap();
    s.flash("one").await.unwrap();
    s.flash_to("errors", "bad", false).await.unwrap();
    s.flash_to("errors", "bad", false).await.unwrap();
    s.flash_to("errors", "worse", false).await.unwrap();
    b.commit(&s).await;

    let s = b.open();
    assert_eq!(s.peek_flash("").await.unwrap(), ["one", "one"]);
    assert_eq!(s.peek_flash("errors").await.unwrap(), ["bad", "worse"]);
    assert_eq!(s.pop_flash("").await.unwrap(), ["one", "one"]);
    b.commit(&s).await;

    let s = b.open();
    assert!(s.pop_flash("").await.unwrap().is_empty());
    assert_eq!(s.pop_flash("errors").await.unwrap(), ["bad", "worse"]);
    assert!(s.peek_flash("errors").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_csrf_token_is_stable_until_renewed_and_verifies_exactly() {
    let mut b = browser(|g| g);
    let s = b.open();
    let token = s.csrf_token().await.unwrap();
    assert_eq!(token.len(), 64);
    b.commit(&s).await;

    let s = b.open();
    assert_eq!(s.csrf_token().await.unwrap(), token);
    assert!(s.verify_csrf(&token).await.unwrap());
    let mut forged = token.clone().into_bytes();
    forged[63] = if forged[63] == b'0' { b'1' } else { b'0' };
    assert!(
        !s.verify_csrf(std::str::from_utf8(&forged).unwrap())
            .await
            .unwrap()
    );
    assert!(!s.verify_csrf(&token[..63]).await.unwrap());
    assert!(!s.verify_csrf("").await.unwrap());

    let renewed = s.new_csrf_token().await.unwrap();
    assert_ne!(renewed, token);
    assert!(!s.verify_csrf(&token).await.unwrap());
    assert!(s.verify_csrf(&renewed).await.unwrap());
}

#[tokio::test]
async fn a_session_without_a_token_verifies_nothing() {
    let b = browser(|g| g);
    let s = b.open();
    assert!(!s.verify_csrf("").await.unwrap());
    assert!(!s.verify_csrf("anything").await.unwrap());
}
