//! `Session::update` against a rival that always wins, beside what the
//! conformance suite checks on every store (the bound, then a 409): a
//! blind insert is not checked, and a clientside update runs once.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gimlet_core::testing::Rival;
use gimlet_core::{Gimlet, GimletBuilder, MemoryBackend};

/// A Gimlet on a rival (with `configure`), and the `Cookie` header of a
/// session whose server-side `n` is 1.
async fn against_a_rival(
    configure: impl FnOnce(GimletBuilder) -> GimletBuilder,
) -> (Arc<Rival<MemoryBackend>>, Gimlet, String) {
    let rival = Arc::new(Rival::new(MemoryBackend::new()));
    let builder = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .shared_backend(rival.clone());
    let gimlet = configure(builder).build().unwrap();
    let session = gimlet.open_from_headers([]);
    session.insert("n", &1u32).await.unwrap();
    let cookies = gimlet.commit(&session).await.unwrap();
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    rival.reset();
    (rival, gimlet, pairs.join("; "))
}

#[tokio::test]
async fn a_blind_insert_after_an_update_is_not_checked() {
    let (_, gimlet, header) = against_a_rival(|g| g).await;
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("n", |n: &mut Option<u32>| *n = Some(2))
        .await
        .unwrap();
    session.insert("n", &3u32).await.unwrap();
    gimlet.commit(&session).await.unwrap();
    let after = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(after.get::<u32>("n").await.unwrap(), Some(3));
}

/// Beside a server-side update the rival beats every time, a clientside
/// one: the server-side one is run again and again, the clientside one
/// once, and its value reaches the cookie.
#[tokio::test]
async fn a_clientside_update_is_applied_once_and_never_checked() {
    let (_, gimlet, header) = against_a_rival(|g| g.clientside_keys(["c"])).await;
    let session = gimlet.open_from_headers([header.as_str()]);
    let (server_runs, client_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = server_runs.clone();
    session
        .update("n", move |n: &mut Option<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            *n = Some(2);
        })
        .await
        .unwrap();
    let counted = client_runs.clone();
    session
        .update("c", move |c: &mut Option<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            *c = Some(c.unwrap_or(0) + 1);
        })
        .await
        .unwrap();
    assert!(session.is_clientside("c").await.unwrap());
    assert!(gimlet.commit(&session).await.is_err(), "the rival wins");
    assert_eq!(server_runs.load(Ordering::Relaxed), 17);
    assert_eq!(client_runs.load(Ordering::Relaxed), 1, "never run again");

    // Alone, it commits, once, with no expectation the rival could beat.
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("c", |c: &mut Option<u32>| *c = Some(7))
        .await
        .unwrap();
    let cookies = gimlet.commit(&session).await.unwrap();
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let after = gimlet.open_from_headers([pairs.join("; ").as_str()]);
    assert_eq!(after.get::<u32>("c").await.unwrap(), Some(7));
}
