//! The suite's cases for compare-and-set writes ([`Write::expect`]): what
//! a read-modify-write of one key relies on, on every store.

use super::suite::{
    SharedBackend, all_tasks, at_once, commit, commit_ok, id, load_one, map, write,
};
use crate::backend::{Op, Write, WriteMode};

/// `write` expecting `key` to hold `value` (`None`: to be absent).
fn expecting(mut write: Write, key: &str, value: Option<&[u8]>) -> Op {
    write
        .expect
        .push((key.to_owned(), value.map(<[u8]>::to_vec)));
    Op::Write(write)
}

/// A write whose expected values still hold applies. One whose do not
/// applies nothing of its batch, other records included, and the batch
/// fails as `Changed`. An expected absence holds only while the key is
/// absent, and a removed key is absent.
pub async fn a_write_applies_only_while_what_it_read_still_holds(backend: SharedBackend) {
    let (rid, other) = (id(), id());
    let created = write(rid, WriteMode::Create, &[("a", b"1"), ("b", b"1")]);
    commit_ok(&backend, vec![Op::Write(created)]).await;

    let holds = write(rid, WriteMode::Update, &[("a", b"2")]);
    commit_ok(&backend, vec![expecting(holds, "a", Some(b"1"))]).await;

    let stale = write(rid, WriteMode::Update, &[("a", b"3"), ("b", b"3")]);
    let beside = write(other, WriteMode::Create, &[("x", b"1")]);
    let refused = commit(
        &backend,
        vec![Op::Write(beside), expecting(stale, "a", Some(b"1"))],
    )
    .await
    .expect_err("a stale expectation must refuse the batch");
    assert!(refused.is_changed(), "{refused:?}");
    assert_eq!(
        load_one(&backend, rid).await,
        Some(map(&[("a", b"2"), ("b", b"1")]))
    );
    assert_eq!(
        load_one(&backend, other).await,
        None,
        "nothing of the batch"
    );

    let absent = write(rid, WriteMode::Update, &[("c", b"1")]);
    commit_ok(&backend, vec![expecting(absent.clone(), "c", None)]).await;
    let refused = commit(&backend, vec![expecting(absent, "c", None)]).await;
    assert!(refused.is_err_and(|e| e.is_changed()), "c is there now");

    let mut removal = write(rid, WriteMode::Update, &[]);
    removal.remove.push("c".into());
    commit_ok(&backend, vec![expecting(removal, "c", Some(b"1"))]).await;
    let again = write(rid, WriteMode::Update, &[("c", b"2")]);
    commit_ok(&backend, vec![expecting(again, "c", None)]).await;
    assert_eq!(
        load_one(&backend, rid).await,
        Some(map(&[("a", b"2"), ("b", b"1"), ("c", b"2")]))
    );
}

/// 20 concurrent read-modify-writes of one key, each loading the list,
/// appending its own item and committing with the list it read expected
/// (and trying again when it changed): all 20 items are there afterwards.
pub async fn concurrent_compare_and_sets_of_one_key_lose_nothing(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("list", b"")]))],
    )
    .await;
    let tasks = (0..20)
        .map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                for _ in 0..1000 {
                    let record = load_one(&backend, rid).await.expect("the record");
                    let read = record.get("list").expect("the list").clone();
                    let mut next = read.clone();
                    if !next.is_empty() {
                        next.push(b',');
                    }
                    next.extend(i.to_string().bytes());
                    let op = write(rid, WriteMode::Update, &[("list", &next)]);
                    match commit(&backend, vec![expecting(op, "list", Some(&read))]).await {
                        Ok(()) => return,
                        Err(e) if e.is_changed() => {}
                        Err(e) => panic!("commit: {e:?}"),
                    }
                }
                panic!("item {i}: a thousand conflicts in a row");
            })
        })
        .collect();
    all_tasks(tasks).await;
    let record = load_one(&backend, rid).await.expect("the record");
    let list = String::from_utf8(record["list"].clone()).expect("text");
    let mut items: Vec<u32> = list
        .split(',')
        .map(|i| i.parse().expect("an item"))
        .collect();
    items.sort_unstable();
    assert_eq!(items, (0..20).collect::<Vec<u32>>(), "{list}");
}

/// 30 concurrent requests of one session, each appending its item to one
/// server-side list with `Session::update`: all 30 items are there after,
/// and each request's commit succeeded.
pub async fn concurrent_updates_of_one_key_lose_nothing(backend: SharedBackend) {
    let gimlet = super::suite::gimlet(backend, 300);
    let session = gimlet.open_from_headers([]);
    session
        .insert("list", &Vec::<u32>::new())
        .await
        .expect("insert");
    let set_cookies = gimlet.commit(&session).await.expect("commit");
    let mut browser = super::suite::Browser::default();
    browser.take(&set_cookies);
    let header = browser.header();
    at_once(&gimlet, &header, 30, |session, i| async move {
        session
            .update("list", move |list: &mut Option<Vec<u32>>| {
                list.get_or_insert_with(Vec::new).push(i);
            })
            .await
            .expect("update");
    })
    .await;
    let session = gimlet.open_from_headers([header.as_str()]);
    let mut list: Vec<u32> = session.get("list").await.expect("get").expect("the list");
    list.sort_unstable();
    assert_eq!(list, (0..30).collect::<Vec<u32>>());
}

/// 24 concurrent requests of one session, each adding one to one of four
/// server-side counters with `Session::update`: each counter ends at 6.
/// Updates of different keys never make each other retry for nothing, and
/// updates of one key lose nothing.
pub async fn concurrent_updates_of_different_keys_lose_nothing(backend: SharedBackend) {
    let gimlet = super::suite::gimlet(backend, 300);
    let header = holding(&gimlet, "other", 0).await.header();
    at_once(&gimlet, &header, 24, |session, i| async move {
        let key = format!("counter-{}", i % 4);
        session
            .update(key.as_str(), |n: &mut Option<u32>| {
                *n = Some(n.unwrap_or(0) + 1);
            })
            .await
            .expect("update");
    })
    .await;
    let session = gimlet.open_from_headers([header.as_str()]);
    for key in ["counter-0", "counter-1", "counter-2", "counter-3"] {
        assert_eq!(
            session.get::<u32>(key).await.expect("get"),
            Some(6),
            "{key}"
        );
    }
    assert_eq!(session.get::<u32>("other").await.expect("get"), Some(0));
}

/// An update whose key another tab changes before every one of its
/// commits: the update runs again after each, up to the bound (16 rounds),
/// then the commit fails as `Changed` (a 409 through the adapters) and the
/// other tab's value stands.
pub async fn an_update_that_always_loses_is_a_409_after_the_bound(backend: SharedBackend) {
    let rival = std::sync::Arc::new(crate::testing::Rival::new(backend));
    let gimlet = super::suite::gimlet(rival.clone(), 300);
    let header = holding(&gimlet, "n", 1).await.header();
    rival.reset();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("n", move |n: &mut Option<u32>| {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *n = Some(2);
        })
        .await
        .expect("update");
    let error = gimlet.commit(&session).await.expect_err("the rival wins");
    assert!(
        matches!(&error, crate::Error::Backend(e) if e.is_changed()),
        "{error:?}"
    );
    assert_eq!(error.status_code(), 409);
    // The first run, and one per round: sixteen rounds, seventeen commits.
    assert_eq!(runs.load(std::sync::atomic::Ordering::Relaxed), 17);
    assert_eq!(rival.commits(), 17);
    let after = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(
        after.get::<u32>("n").await.expect("get"),
        Some(1016),
        "the rival's last value, not overwritten"
    );
}

/// A browser whose session holds, server-side, `key` = `value`, on
/// `gimlet`.
async fn holding(gimlet: &crate::Gimlet, key: &'static str, value: u32) -> super::suite::Browser {
    let mut browser = super::suite::Browser::default();
    browser
        .request(gimlet, |s| async move {
            s.insert(key, &value).await.expect("insert");
        })
        .await;
    browser
}

/// A request that read a list, then saw its session logged out by another
/// before it committed: its update does not bring the ended session's data
/// back; it lands, alone, in a fresh session.
pub async fn an_update_racing_a_logout_does_not_resurrect(backend: SharedBackend) {
    let gimlet = super::suite::gimlet(backend.clone(), 300);
    let mut browser = super::suite::Browser::default();
    browser
        .request(&gimlet, |s| async move {
            s.insert("list", &vec!["secret".to_owned()])
                .await
                .expect("insert");
        })
        .await;
    let header = browser.header();
    let slow = gimlet.open_from_headers([header.as_str()]);
    slow.update("list", |list: &mut Option<Vec<String>>| {
        list.get_or_insert_with(Vec::new).push("late".into());
    })
    .await
    .expect("update");
    let logout = gimlet.open_from_headers([header.as_str()]);
    logout.invalidate().expect("invalidate");
    gimlet.commit(&logout).await.expect("logout");
    let set_cookies = gimlet.commit(&slow).await.expect("the slow commit");
    let mut fresh = super::suite::Browser::default();
    fresh.take(&set_cookies);
    assert!(
        fresh.ids().iter().all(|id| !browser.ids().contains(id)),
        "a fresh session"
    );
    let session = gimlet.open_from_headers([fresh.header().as_str()]);
    let list: Option<Vec<String>> = session.get("list").await.expect("get");
    assert_eq!(
        list,
        Some(vec!["late".to_owned()]),
        "nothing of the ended one"
    );
    let old = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(old.get::<Vec<String>>("list").await.expect("get"), None);
}

/// An uncontended update is one load and one commit, as any read and write.
pub async fn an_uncontended_update_is_one_load_and_one_commit(backend: SharedBackend) {
    let counting = std::sync::Arc::new(crate::testing::CountingBackend::new(backend));
    let gimlet = super::suite::gimlet(counting.clone(), 300);
    let mut browser = holding(&gimlet, "n", 1).await;
    counting.reset();
    browser
        .request(&gimlet, |s| async move {
            s.update("n", |n: &mut Option<u32>| *n = n.map(|n| n + 1))
                .await
                .expect("update");
        })
        .await;
    let counts = counting.counts();
    assert_eq!((counts.loads, counts.commits), (1, 1), "{counts:?}");
}
