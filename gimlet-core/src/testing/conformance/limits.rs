//! The caps a store's sessions and owners can be held to: a channel's
//! server-side bytes (`max_session_bytes`) and an owner's channels
//! (`max_sessions_per_owner`), each refused at the call that would cross
//! it, with what is stored counted, whichever request stored it.

use super::suite::{Browser, SECRET, SharedBackend, without_feed};
use crate::testing::CountingBackend;
use crate::{Error, Gimlet, SessionId};

fn capped(
    backend: SharedBackend,
    build: impl FnOnce(crate::GimletBuilder) -> crate::GimletBuilder,
) -> Gimlet {
    build(
        Gimlet::builder()
            .secret(SECRET)
            .shared_backend(without_feed(backend)),
    )
    .build()
    .expect("configuration")
}

/// Past `max_session_bytes`, a server-side insert fails with
/// `SessionTooLarge`, counting what earlier requests stored (the check
/// loads it); a write that keeps the size, or shrinks it, still passes.
pub async fn an_insert_past_the_session_byte_cap_is_refused(backend: SharedBackend) {
    let counted = std::sync::Arc::new(CountingBackend::new(backend));
    let gimlet = capped(counted.clone(), |b| b.max_session_bytes(100));
    let forty = "x".repeat(38); // 40 bytes as MessagePack
    let mut browser = Browser::default();
    browser
        .request(&gimlet, |s| async move {
            s.insert("a", &forty).await.expect("first");
        })
        .await;
    let forty = "y".repeat(38);
    browser
        .request(&gimlet, |s| async move {
            s.insert("b", &forty).await.expect("second");
        })
        .await;
    counted.reset();
    let refused = browser
        .request(
            &gimlet,
            |s| async move { s.insert("c", &"z".repeat(38)).await },
        )
        .await;
    match refused {
        Err(Error::SessionTooLarge {
            size, limit: 100, ..
        }) => assert_eq!(size, 123),
        other => panic!("expected SessionTooLarge, got {other:?}"),
    }
    assert_eq!(
        counted.counts().loads,
        1,
        "the stored keys were loaded to count them"
    );
    let replaced = browser
        .request(
            &gimlet,
            |s| async move { s.insert("a", &"w".repeat(38)).await },
        )
        .await;
    assert!(replaced.is_ok(), "the same size again: {replaced:?}");
}

/// Past `max_sessions_per_owner`, a login (`set_owner`) fails with
/// `TooManySessions`; a second login of an owned browser is not a new
/// session, and once one is ended there is room again.
pub async fn a_login_past_the_owner_cap_is_refused(backend: SharedBackend) {
    let gimlet = capped(backend, |b| b.max_sessions_per_owner(2));
    let user = format!("user-{}", SessionId::generate().expect("rng"));
    let mut browsers = vec![Browser::default(), Browser::default()];
    for browser in &mut browsers {
        let user = user.clone();
        browser
            .request(&gimlet, |s| async move {
                s.set_owner(&user).await.expect("room");
            })
            .await;
    }
    let mut third = Browser::default();
    let refused = {
        let user = user.clone();
        third
            .request(&gimlet, |s| async move { s.set_owner(&user).await })
            .await
    };
    assert!(
        matches!(refused, Err(Error::TooManySessions { count: 2 })),
        "{refused:?}"
    );
    let again = {
        let user = user.clone();
        browsers[0]
            .request(&gimlet, |s| async move { s.set_owner(&user).await })
            .await
    };
    assert!(
        again.is_ok(),
        "a second login of an owned browser: {again:?}"
    );
    browsers[1]
        .request(&gimlet, |s| async move { s.invalidate().expect("logout") })
        .await;
    let room = third
        .request(&gimlet, |s| async move { s.set_owner(&user).await })
        .await;
    assert!(room.is_ok(), "room after a logout: {room:?}");
}
