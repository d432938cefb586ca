//! The suite's cases for compare-and-set writes ([`Write::expect`]): what
//! a read-modify-write of one key relies on, on every store.

use super::suite::{SharedBackend, all_tasks, commit, commit_ok, id, load_one, map, write};
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
