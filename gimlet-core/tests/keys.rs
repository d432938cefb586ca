//! Typed keys: the value type a key carries, the place it carries, the
//! whitelists built from declared keys, and strings still working.

#![allow(clippy::unwrap_used)]

mod common;

use common::browser;
use gimlet_core::{Error, Key};

const USER_ID: Key<u64> = Key::new("user_id").clientside();
const CART: Key<Vec<String>> = Key::new("cart");
const REMEMBER: Key<bool> = Key::new("remember").permanent();

#[tokio::test]
async fn a_typed_key_stores_and_reads_its_type_across_requests() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert(USER_ID, &7).await.unwrap();
    s.insert(CART, &vec!["gin".to_owned(), "lime".to_owned()])
        .await
        .unwrap();
    s.insert(REMEMBER, &true).await.unwrap();
    b.commit(&s).await;

    let s = b.open();
    // The value's type comes from the key: no annotation.
    let id = s.get(USER_ID).await.unwrap();
    assert_eq!(id, Some(7_u64));
    assert_eq!(s.get(CART).await.unwrap().unwrap(), ["gin", "lime"]);
    assert_eq!(s.get(REMEMBER).await.unwrap(), Some(true));
    // The same keys by their names, with the type given at the call.
    assert_eq!(s.get::<u64>("user_id").await.unwrap(), Some(7));
    let name = String::from("cart");
    assert_eq!(s.get::<Vec<String>>(&name).await.unwrap().unwrap().len(), 2);
}

#[tokio::test]
async fn a_stored_value_of_another_type_is_an_error_naming_the_key() {
    let b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", "not a number").await.unwrap();
    match s.get(USER_ID).await {
        Err(Error::Decode { key, .. }) => assert_eq!(key, "user_id"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    // Only that read fails; the session goes on.
    s.insert(USER_ID, &1).await.unwrap();
    assert_eq!(s.get(USER_ID).await.unwrap(), Some(1));
}

#[tokio::test]
async fn a_key_s_place_decides_where_it_is_written_and_read() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert(USER_ID, &1).await.unwrap();
    s.insert(REMEMBER, &true).await.unwrap();
    s.insert(CART, &Vec::new()).await.unwrap();
    assert!(s.is_clientside(USER_ID).await.unwrap());
    assert!(!s.is_permanent(USER_ID).await.unwrap());
    assert!(s.is_permanent(REMEMBER).await.unwrap());
    assert!(!s.is_clientside(REMEMBER).await.unwrap());
    assert!(!s.is_clientside(CART).await.unwrap());
    // An explicit placement still wins over the key's.
    let server_id: Key<u64> = Key::new("server_id").clientside();
    s.insert_with(
        server_id,
        &5,
        gimlet_core::Placement::new().clientside(false),
    )
    .await
    .unwrap();
    assert!(!s.is_clientside("server_id").await.unwrap());
    b.commit(&s).await;

    // Reads look only where the key says: a clientside key's read of a
    // missing value makes no backend call, where a string's must load.
    b.reset_counts();
    let s = b.open();
    let absent: Key<u64> = Key::new("absent").clientside();
    assert_eq!(s.get(absent).await.unwrap(), None);
    assert_eq!(b.counts().loads, 0, "no load for a clientside key");
    assert_eq!(s.get::<u64>("absent").await.unwrap(), None);
    assert_eq!(b.counts().loads, 1, "a string may live in the backend");
}

#[tokio::test]
async fn declared_keys_join_the_whitelists_whatever_the_order() {
    // `clientside_keys` replaces the list; the declared key is added at
    // build time, after it.
    let mut b = browser(|g| g.key(USER_ID).key(REMEMBER).clientside_keys(["theme"]));
    let s = b.open();
    // By their names, as a string call sees them: the whitelists decide.
    s.insert("user_id", &3).await.unwrap();
    s.insert("remember", &true).await.unwrap();
    s.insert("theme", "dark").await.unwrap();
    s.insert("cart", &Vec::<String>::new()).await.unwrap();
    assert!(s.is_clientside("user_id").await.unwrap());
    assert!(s.is_permanent("remember").await.unwrap());
    assert!(s.is_clientside("theme").await.unwrap());
    assert!(
        !s.is_clientside("cart").await.unwrap(),
        "a key with no place"
    );
    b.commit(&s).await;
}

#[test]
fn a_key_shows_its_name_type_and_place() {
    assert_eq!(USER_ID.name(), "user_id");
    assert_eq!(USER_ID.placement().clientside, Some(true));
    assert_eq!(CART.placement(), gimlet_core::Placement::new());
    let shown = format!("{USER_ID:?}");
    assert!(
        shown.contains("user_id") && shown.contains("u64"),
        "{shown}"
    );
}
