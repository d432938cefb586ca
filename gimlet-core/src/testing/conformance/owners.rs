//! The suite's cases for the owner index: what `set_owner`,
//! `sessions_of` and `end_sessions_of` need of a store.

use std::sync::Arc;

use super::suite::{Browser, SharedBackend, commit_ok, gimlet, later, load_one, now, write};
use crate::SessionId;
use crate::backend::{Op, Owner, Ownership, WriteMode};
use crate::testing::CountingBackend;

/// A name no other case uses.
fn owner_name() -> String {
    format!("user-{}", SessionId::generate().expect("system random"))
}

/// An owner no other case uses.
fn random_owner() -> Owner {
    Owner::from_bytes(*SessionId::generate().expect("system random").as_bytes())
}

/// A new id in `owner`'s group, as `set_owner` generates them.
fn owned_id(owner: &Owner) -> SessionId {
    SessionId::generate_beside(&SessionId::in_group(owner.group())).expect("system random")
}

fn ownership(owner: Owner, permanent: bool, created: u64) -> Ownership {
    Ownership {
        owner,
        permanent,
        created,
        until: later() + 3600,
    }
}

/// Creates a record of `owner`, and answers its id.
async fn create_owned(backend: &SharedBackend, owner: Owner, permanent: bool) -> SessionId {
    let id = owned_id(&owner);
    let mut w = write(id, WriteMode::Create, &[("k", b"v")]);
    w.owner = Some(ownership(owner, permanent, now() - 10));
    commit_ok(backend, vec![Op::Write(w)]).await;
    id
}

fn listed(mut ids: Vec<SessionId>) -> Vec<SessionId> {
    ids.sort();
    ids
}

/// Records written with an owner are listed under it, with what their
/// ownership said and their expiry; `end_sessions_of` deletes all of them
/// but the ones excepted, and no other owner's.
pub async fn owned_records_are_listed_and_ended(backend: SharedBackend) {
    assert!(backend.owner_index(), "this store keeps no owner index");
    let (alice, bob) = (random_owner(), random_owner());
    let a1 = create_owned(&backend, alice, false).await;
    let a2 = create_owned(&backend, alice, true).await;
    let a3 = create_owned(&backend, alice, false).await;
    let b1 = create_owned(&backend, bob, false).await;
    let unowned = owned_id(&alice);
    commit_ok(
        &backend,
        vec![Op::Write(write(unowned, WriteMode::Create, &[("k", b"v")]))],
    )
    .await;

    let records = backend
        .sessions_of(&alice, now())
        .await
        .expect("sessions_of");
    assert_eq!(
        listed(records.iter().map(|r| r.id).collect()),
        listed(vec![a1, a2, a3])
    );
    let second = records.iter().find(|r| r.id == a2).expect("listed");
    assert!(second.permanent);
    // Within a second: the clock may tick between the write and here.
    assert!(
        second.created.abs_diff(now() - 10) <= 1,
        "created as the ownership said: {}",
        second.created
    );
    assert!(
        second.expires_at.abs_diff(later()) <= 1,
        "{}",
        second.expires_at
    );
    assert!(
        !records
            .iter()
            .find(|r| r.id == a1)
            .expect("listed")
            .permanent
    );

    let ended = backend.end_sessions_of(&alice, &[a3]).await.expect("end");
    assert_eq!(ended, 2);
    for id in [a1, a2] {
        assert_eq!(load_one(&backend, id).await, None, "an ended record lives");
    }
    for id in [a3, b1, unowned] {
        assert!(load_one(&backend, id).await.is_some(), "a kept record went");
    }
    let left = backend
        .sessions_of(&alice, now())
        .await
        .expect("sessions_of");
    assert_eq!(listed(left.iter().map(|r| r.id).collect()), vec![a3]);
    assert_eq!(
        backend
            .sessions_of(&bob, now())
            .await
            .expect("sessions_of")
            .len(),
        1
    );
    assert_eq!(backend.end_sessions_of(&bob, &[]).await.expect("end"), 1);
    assert_eq!(backend.end_sessions_of(&bob, &[]).await.expect("end"), 0);
}

/// An entry goes with its record: deleted, or expired, it is not listed
/// (nor counted as ended). Later writes that name no owner keep it.
pub async fn an_owned_record_leaves_the_index_with_its_record(backend: SharedBackend) {
    let owner = random_owner();
    let deleted = create_owned(&backend, owner, false).await;
    let expired = owned_id(&owner);
    let mut w = write(expired, WriteMode::Create, &[("k", b"v")]);
    w.owner = Some(ownership(owner, false, now() - 10));
    w.expires_at = now() - 1;
    commit_ok(&backend, vec![Op::Write(w)]).await;
    let kept = create_owned(&backend, owner, true).await;
    commit_ok(&backend, vec![Op::Delete(deleted)]).await;
    let mut update = write(kept, WriteMode::Update, &[("k2", b"v2")]);
    update.clear = true;
    commit_ok(&backend, vec![Op::Write(update)]).await;

    let records = backend
        .sessions_of(&owner, now())
        .await
        .expect("sessions_of");
    assert_eq!(listed(records.iter().map(|r| r.id).collect()), vec![kept]);
    assert!(records[0].permanent, "a later write changed the entry");
    assert_eq!(backend.end_sessions_of(&owner, &[]).await.expect("end"), 1);
    assert!(
        backend
            .sessions_of(&owner, now())
            .await
            .expect("sessions_of")
            .is_empty()
    );
}

/// Log out everywhere, through whole sessions: two browsers log in as one
/// user; `set_owner` costs no round trip of its own; `end_sessions_of`
/// from the first ends the second, whose clientside data stops being
/// served; the first keeps its session.
pub async fn log_out_everywhere_ends_every_other_session(backend: SharedBackend) {
    let counting = Arc::new(CountingBackend::new(backend));
    let gimlet = gimlet(counting.clone(), 0);
    let user = &owner_name();
    let (mut phone, mut laptop) = (Browser::default(), Browser::default());
    // The phone had a session before it logged in: set_owner moves its
    // record (a load, and the commit), perhaps to another shard.
    phone
        .request(&gimlet, |s| async move {
            s.insert("cart", &["ice"]).await.expect("insert");
        })
        .await;
    for (browser, round_trips) in [(&mut phone, 2), (&mut laptop, 1)] {
        counting.reset();
        browser
            .request(&gimlet, |s| async move {
                s.set_owner(user).await.expect("set_owner");
                s.insert("user_id", user).await.expect("insert");
                s.insert("cart", &["gin"]).await.expect("insert");
            })
            .await;
        assert_eq!(
            counting.counts().round_trips(),
            round_trips,
            "login's round trips"
        );
    }
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert_eq!(listed.len(), 2, "{listed:?}");

    let g = &gimlet;
    let ended = phone
        .request(g, |s| async move {
            let ended = g.end_sessions_of(user, Some(&s)).await.expect("end");
            let mine = g.sessions_of(user, Some(&s)).await.expect("sessions_of");
            assert_eq!(mine.len(), 1);
            assert!(mine[0].current);
            ended
        })
        .await;
    assert_eq!(ended, 1);

    laptop
        .request(&gimlet, |s| async move {
            assert_eq!(s.get::<String>("user_id").await.expect("get"), None);
            assert_eq!(s.get::<Vec<String>>("cart").await.expect("get"), None);
            // What the ended session writes starts a session of nobody's.
            s.insert("cart", &["lime"]).await.expect("insert");
        })
        .await;
    phone
        .request(&gimlet, |s| async move {
            assert_eq!(
                s.get::<String>("user_id").await.expect("get").as_deref(),
                Some(user.as_str())
            );
            assert!(s.get::<Vec<String>>("cart").await.expect("get").is_some());
        })
        .await;
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert_eq!(listed.len(), 1, "the ended session rejoined its owner");
}

/// A channel created after `set_owner` (the first permanent key) joins the
/// owner, and ending the owner's sessions ends it too.
pub async fn a_channel_created_later_joins_its_owner(backend: SharedBackend) {
    let gimlet = gimlet(backend, 0);
    let user = &owner_name();
    let mut browser = Browser::default();
    browser
        .request(&gimlet, |s| async move {
            s.set_owner(user).await.expect("set_owner");
        })
        .await;
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(!listed[0].permanent, "the transient channel came first");
    browser
        .request(&gimlet, |s| async move {
            let remember = crate::Placement::new().permanent(true);
            s.insert_with("theme", &"dark", remember)
                .await
                .expect("insert");
        })
        .await;
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed.iter().filter(|s| s.permanent).count(), 1);
    assert_eq!(gimlet.end_sessions_of(user, None).await.expect("end"), 2);
    browser
        .request(&gimlet, |s| async move {
            assert_eq!(s.get::<String>("theme").await.expect("get"), None);
        })
        .await;
}

/// A session ended while a copy of its cookie still goes unchecked (a long
/// revalidation window) cannot add a channel to its owner: the commit that
/// would is refused, heals, and writes to a session of nobody's.
pub async fn an_ended_session_cannot_rejoin_its_owner(backend: SharedBackend) {
    let gimlet = gimlet(backend, 3600);
    let user = &owner_name();
    let mut browser = Browser::default();
    browser
        .request(&gimlet, |s| async move {
            s.set_owner(user).await.expect("set_owner");
            s.insert("cart", &["gin"]).await.expect("insert");
        })
        .await;
    assert_eq!(gimlet.end_sessions_of(user, None).await.expect("end"), 1);
    // Reading the id creates the permanent channel, and touches nothing
    // of the other.
    let mut copy = browser.clone();
    copy.request(&gimlet, |s| async move { s.id().expect("id") })
        .await;
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert!(listed.is_empty(), "{listed:?}");

    // Logging in again with the ended cookie, whose payload still names
    // the owner, gives a session the owner's index holds.
    browser
        .request(&gimlet, |s| async move {
            s.set_owner(user).await.expect("set_owner");
            s.insert("cart", &["lime"]).await.expect("insert");
        })
        .await;
    let listed = gimlet.sessions_of(user, None).await.expect("sessions_of");
    assert_eq!(listed.len(), 1, "{listed:?}");
}

/// A store without an owner index: a login still moves the session under
/// new ids and keeps its data, and what needs the index (`set_owner`,
/// `sessions_of`, `end_sessions_of`, `logout_everywhere`) answers
/// [`Error::NoOwnerIndex`](crate::Error::NoOwnerIndex), a 400, leaving the
/// session as it was.
pub async fn without_an_owner_index_a_login_moves_the_ids_and_log_out_everywhere_is_refused(
    backend: SharedBackend,
) {
    assert!(
        !backend.owner_index(),
        "this store keeps an owner index: its suite is the full one"
    );
    let gimlet = gimlet(backend, 300);
    let user = &owner_name();
    let mut browser = Browser::default();
    browser
        .request(&gimlet, |s| async move {
            s.insert("cart", &["gin"]).await.expect("insert");
        })
        .await;
    let before = browser.ids();
    browser
        .request(
            &gimlet,
            |s| async move { s.login(user).await.expect("login") },
        )
        .await;
    assert!(
        browser.ids().iter().all(|id| !before.contains(id)),
        "a login moves the ids"
    );
    let session = gimlet.open_from_headers([browser.header().as_str()]);
    let errors = [
        gimlet.end_sessions_of(user, None).await.map(|_| ()),
        gimlet.sessions_of(user, None).await.map(|_| ()),
        session.logout_everywhere(user).await.map(|_| ()),
        session.set_owner(user).await,
    ];
    for error in errors {
        let error = error.expect_err("no owner index");
        assert!(matches!(error, crate::Error::NoOwnerIndex), "{error:?}");
        assert_eq!(error.status_code(), 400);
    }
    let cart: Option<Vec<String>> = session.get("cart").await.expect("get");
    assert_eq!(
        cart,
        Some(vec!["gin".to_owned()]),
        "the session is as it was"
    );
}
