//! The suite's cases for endings that race other requests: whatever the
//! interleaving, an ended session never comes back, not its ids, not its
//! server data, not its clientside data, not its place in its owner's
//! index.

use super::suite::{Browser, SharedBackend, gimlet, without_feed};
use crate::SessionId;
use crate::key::Placement;

/// A name no other case uses.
fn owner_name() -> String {
    format!("user-{}", SessionId::generate().expect("system random"))
}

/// Logs a browser in as `user` (owned, with an owner index), with a
/// clientside user id and a server key.
async fn logged_in(gimlet: &crate::Gimlet, user: &str) -> Browser {
    let mut browser = Browser::default();
    browser
        .request(gimlet, |s| async move {
            s.login(user).await.expect("login");
            s.insert("user_id", &7).await.expect("insert");
            s.insert("cart", &["gin"]).await.expect("insert");
        })
        .await;
    browser
}

/// What a browser's cookies yield: the clientside user id and the server
/// cart.
async fn what_it_reads(gimlet: &crate::Gimlet, browser: &Browser) -> (Option<u32>, bool) {
    let session = gimlet.open_from_headers([browser.header().as_str()]);
    let user = session.get::<u32>("user_id").await.expect("get");
    let cart = session.contains_key("cart").await.expect("contains_key");
    (user, cart)
}

/// A cycle (`cycle_id`, or a login) that loaded the session before it was
/// ended elsewhere, and commits after: the commit succeeds, but nothing
/// of the ended session moves to the new ids. They hold only what the
/// request itself wrote, in no owner's index.
async fn a_cycle_racing_an_ending(backend: SharedBackend, end: Ending) {
    // A long window: only the commit's own check can catch the ending.
    let gimlet = gimlet(backend.clone(), 3600);
    let user = &owner_name();
    let browser = logged_in(&gimlet, user).await;
    let header = browser.header();

    let racing = gimlet.open_from_headers([header.as_str()]);
    racing.cycle_id().await.expect("cycle_id loads");
    racing.insert("late", &1).await.expect("insert");
    match end {
        Ending::Logout => {
            let logout = gimlet.open_from_headers([header.as_str()]);
            logout.invalidate().expect("invalidate");
            gimlet.commit(&logout).await.expect("logout");
        }
        Ending::EndSessionsOf => {
            let ended = gimlet.end_sessions_of(user, None).await.expect("end");
            assert_eq!(ended, 1, "the browser's one channel");
        }
    }
    let set_cookies = gimlet
        .commit(&racing)
        .await
        .expect("the racing request succeeds");
    let mut after = browser.clone();
    after.take(&set_cookies);

    assert_eq!(
        what_it_reads(&gimlet, &after).await,
        (None, false),
        "the cycle brought the ended session back"
    );
    let session = gimlet.open_from_headers([after.header().as_str()]);
    assert_eq!(session.keys().await.expect("keys"), ["late"]);
    if backend.owner_index() {
        let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
        assert!(listed.is_empty(), "still in the owner's index: {listed:?}");
    }
}

enum Ending {
    Logout,
    EndSessionsOf,
}

/// A cycle that loaded the session before a logout ended it, and commits
/// after: the commit succeeds, but nothing of the ended session moves to
/// the new ids.
pub async fn a_cycle_racing_a_logout_does_not_resurrect_the_session(backend: SharedBackend) {
    a_cycle_racing_an_ending(backend, Ending::Logout).await;
}

/// A cycle that loaded the session before log out everywhere ended it, and
/// commits after: as with a logout, nothing of the ended session moves,
/// and the new ids are in no owner's index.
pub async fn a_cycle_racing_log_out_everywhere_does_not_resurrect_the_session(
    backend: SharedBackend,
) {
    a_cycle_racing_an_ending(backend, Ending::EndSessionsOf).await;
}

/// A session ended (by log out everywhere, or a logout from another copy
/// without an owner index) while a copy of its cookie is still inside its
/// revalidation window: a request of the copy reads the clientside user id
/// (no I/O, as designed) and moves it into a new permanent channel, a
/// "remember me". The new channel must not carry the identity past the
/// ending: the commit is refused for the ended sibling, and the new
/// channel's writes are dropped with it.
pub async fn a_channel_created_beside_an_ended_one_carries_nothing_of_it(backend: SharedBackend) {
    // Without the store's feed, so that only the window protects the copy.
    let index = backend.owner_index();
    // Another app server ends it: this one hears nothing of it.
    let elsewhere = gimlet(without_feed(backend.clone()), 3600);
    let gimlet = gimlet(without_feed(backend), 3600);
    let user = &owner_name();
    let browser = logged_in(&gimlet, user).await;
    if index {
        assert_eq!(elsewhere.end_sessions_of(user, None).await.expect("end"), 1);
    } else {
        let mut other = browser.clone();
        other
            .request(
                &elsewhere,
                |s| async move { s.logout().await.expect("logout") },
            )
            .await;
    }

    let mut copy = browser.clone();
    let read = copy
        .request(&gimlet, |s| async move {
            let user_id = s.get::<u32>("user_id").await.expect("get");
            if let Some(id) = user_id {
                let remember = Placement::new().clientside(true).permanent(true);
                s.insert_with("user_id", &id, remember)
                    .await
                    .expect("insert");
            }
            user_id
        })
        .await;
    assert_eq!(read, Some(7), "inside the window the cookie is trusted");
    assert_eq!(
        what_it_reads(&gimlet, &copy).await,
        (None, false),
        "the identity outlived the ending in a new cookie"
    );
    if index {
        let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
        assert!(listed.is_empty(), "{listed:?}");
    }
}

/// A cycle's commit and a log out everywhere, started together, many
/// times: whichever lands first, the session does not survive. (Were the
/// ending a read of the index and a later delete, a cycle committing in
/// between would move the session to ids the delete does not know.)
pub async fn a_cycle_committing_during_log_out_everywhere_never_survives_it(
    backend: SharedBackend,
) {
    let gimlet = gimlet(backend, 3600);
    for attempt in 0..30 {
        let user = &owner_name();
        let browser = logged_in(&gimlet, user).await;
        let racing = gimlet.open_from_headers([browser.header().as_str()]);
        racing.cycle_id().await.expect("cycle_id loads");
        // Either one sends its first command first.
        let (committed, ended) = if attempt % 2 == 0 {
            tokio::join!(gimlet.commit(&racing), gimlet.end_sessions_of(user, None))
        } else {
            let (ended, committed) =
                tokio::join!(gimlet.end_sessions_of(user, None), gimlet.commit(&racing));
            (committed, ended)
        };
        let set_cookies = committed.expect("the cycle's commit succeeds");
        ended.expect("end_sessions_of");
        let mut after = browser.clone();
        after.take(&set_cookies);
        assert!(
            !what_it_reads(&gimlet, &after).await.1,
            "attempt {attempt}: the session survived its ending"
        );
        let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
        assert!(listed.is_empty(), "attempt {attempt}: {listed:?}");
    }
}
