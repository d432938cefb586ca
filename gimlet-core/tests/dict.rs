//! The rest of the dict API: `get_or`, `take`, `get_or_insert_with`,
//! `extend`, `created_time`, each with the I/O it makes.

#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

use common::browser;
use gimlet_core::{Error, Key};

const VISITS: Key<u32> = Key::new("visits");

#[tokio::test]
async fn get_or_answers_the_default_only_when_the_key_is_not_set() {
    let mut b = browser(|g| g);
    let s = b.open();
    assert_eq!(s.get_or(VISITS, 0).await.unwrap(), 0);
    s.insert(VISITS, &3).await.unwrap();
    assert_eq!(s.get_or(VISITS, 0).await.unwrap(), 3);
    s.insert("visits", "three").await.unwrap();
    assert!(
        matches!(s.get_or(VISITS, 0).await, Err(Error::Decode { .. })),
        "another type is an error, not the default"
    );
    b.commit(&s).await;
}

#[tokio::test]
async fn take_answers_the_old_value_and_removes_it_with_one_load_and_one_commit() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert(VISITS, &7).await.unwrap();
    b.commit(&s).await;

    b.reset_counts();
    let s = b.open();
    assert_eq!(s.take(VISITS).await.unwrap(), Some(7));
    assert_eq!(b.counts().loads, 1, "a server-side key is read first");
    assert_eq!(s.get(VISITS).await.unwrap(), None);
    assert_eq!(s.take(VISITS).await.unwrap(), None);
    assert_eq!(b.counts().loads, 1, "one load for the request");
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 1);
    let s = b.open();
    assert_eq!(s.get(VISITS).await.unwrap(), None, "removed for good");

    // A value of another type is not taken: nothing is removed.
    s.insert("visits", "seven").await.unwrap();
    assert!(s.take(VISITS).await.is_err());
    assert!(s.contains_key("visits").await.unwrap());
}

#[tokio::test]
async fn get_or_insert_with_sets_the_default_once_and_calls_f_only_then() {
    let mut b = browser(|g| g);
    let s = b.open();
    let calls = Cell::new(0);
    let make = || {
        calls.set(calls.get() + 1);
        5
    };
    assert_eq!(s.get_or_insert_with(VISITS, make).await.unwrap(), 5);
    assert_eq!(s.get_or_insert_with(VISITS, || 9).await.unwrap(), 5);
    assert_eq!(calls.get(), 1);
    b.commit(&s).await;
    let s = b.open();
    assert_eq!(s.get(VISITS).await.unwrap(), Some(5), "it was stored");
}

#[tokio::test]
async fn extend_sets_every_pair_with_no_io_until_the_commit() {
    let mut b = browser(|g| g.clientside_keys(["theme"]));
    let s = b.open();
    s.extend([("theme", "dark"), ("locale", "fr")])
        .await
        .unwrap();
    assert_eq!(b.counts().round_trips(), 0);
    assert!(s.is_clientside("theme").await.unwrap());
    assert_eq!(s.get::<String>("locale").await.unwrap().unwrap(), "fr");
    b.commit(&s).await;
    assert_eq!(b.counts().round_trips(), 1, "one commit for both");

    // The first refused pair stops it: the pairs before it are set.
    let s = b.open();
    let pairs = [("a", 1), ("", 2), ("c", 3)];
    assert!(matches!(s.extend(pairs).await, Err(Error::InvalidKey)));
    assert!(s.contains_key("a").await.unwrap());
    assert!(!s.contains_key("c").await.unwrap());
}

#[tokio::test]
async fn created_time_is_created_at_as_a_system_time() {
    let b = browser(|g| g);
    let s = b.open();
    let seconds = s.created_at().unwrap();
    assert_eq!(
        s.created_time().unwrap(),
        UNIX_EPOCH + Duration::from_secs(seconds)
    );
}

#[tokio::test]
async fn entries_and_values_decode_every_key_with_one_load() {
    let mut b = browser(|g| g.clientside_keys(["a"]));
    let s = b.open();
    s.extend([("b", 2_u32), ("a", 1), ("c", 3)]).await.unwrap();
    b.commit(&s).await;

    b.reset_counts();
    let s = b.open();
    let entries = s.entries::<u32>().await.unwrap();
    let expected = [
        ("a".to_owned(), 1),
        ("b".to_owned(), 2),
        ("c".to_owned(), 3),
    ];
    assert_eq!(entries, expected, "sorted by key, both places");
    assert_eq!(s.values::<u32>().await.unwrap(), [1, 2, 3]);
    assert_eq!(b.counts().loads, 1, "one load for everything");

    s.insert("d", "four").await.unwrap();
    assert!(matches!(
        s.entries::<u32>().await,
        Err(Error::Decode { key, .. }) if key == "d"
    ));
}
