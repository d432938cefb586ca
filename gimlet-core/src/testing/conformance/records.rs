//! The suite's cases for records: loads, the write modes, expiry,
//! atomic batches and concurrent commits.

use std::collections::BTreeMap;

use super::suite::{
    SharedBackend, all_tasks, commit, commit_ok, id, load_one, map, now, sorted, write,
};
use crate::backend::{Op, Write, WriteMode};

/// Ids that were never written load as `None`.
pub async fn load_of_unknown_ids_is_none(backend: SharedBackend) {
    let records = backend.load(&[id(), id()]).await.expect("load");
    assert_eq!(records, vec![None, None]);
}

/// A created record loads back, and one call loads two channels in order.
pub async fn create_then_load_both_channels_in_one_call(backend: SharedBackend) {
    let (p, n) = (id(), id());
    commit_ok(
        &backend,
        vec![
            Op::Write(write(p, WriteMode::Create, &[("a", b"1")])),
            Op::Write(write(n, WriteMode::Create, &[("b", b"2"), ("c", b"3")])),
        ],
    )
    .await;
    let records = backend.load(&[n, id(), p]).await.expect("load");
    let records: Vec<_> = records.into_iter().map(|r| r.map(sorted)).collect();
    assert_eq!(
        records,
        vec![
            Some(map(&[("b", b"2"), ("c", b"3")])),
            None,
            Some(map(&[("a", b"1")]))
        ]
    );
}

/// Creating a record whose id is live fails with `Collision` and leaves the
/// existing record as it was.
pub async fn create_of_a_live_id_is_a_collision(backend: SharedBackend) {
    let taken = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(
            taken,
            WriteMode::Create,
            &[("owner", b"alice")],
        ))],
    )
    .await;
    let err = commit(
        &backend,
        vec![Op::Write(write(
            taken,
            WriteMode::Create,
            &[("owner", b"mallory")],
        ))],
    )
    .await
    .expect_err("a second create of one id must fail");
    assert!(err.is_collision(), "{err:?}");
    assert_eq!(
        load_one(&backend, taken).await,
        Some(map(&[("owner", b"alice")]))
    );
}

/// An update of a record that does not exist fails with `Gone` and creates
/// nothing.
pub async fn update_of_a_missing_record_is_gone(backend: SharedBackend) {
    let missing = id();
    let err = commit(
        &backend,
        vec![Op::Write(write(missing, WriteMode::Update, &[("k", b"v")]))],
    )
    .await
    .expect_err("an update of nothing must fail");
    assert!(err.is_gone(), "{err:?}");
    assert_eq!(load_one(&backend, missing).await, None);
}

/// An upsert creates a missing record and merges into an existing one.
pub async fn upsert_creates_then_merges(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Upsert, &[("a", b"1")]))],
    )
    .await;
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Upsert, &[("b", b"2")]))],
    )
    .await;
    assert_eq!(
        load_one(&backend, rid).await,
        Some(map(&[("a", b"1"), ("b", b"2")]))
    );
}

/// Sets, removals and clears apply key by key, and only to the keys named.
pub async fn keys_are_set_removed_and_cleared(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(
            rid,
            WriteMode::Create,
            &[("a", b"1"), ("b", b"2"), ("c", b"3")],
        ))],
    )
    .await;
    let mut change = write(rid, WriteMode::Update, &[("d", b"4"), ("a", b"one")]);
    change.remove = vec!["b".into(), "never-set".into()];
    commit_ok(&backend, vec![Op::Write(change)]).await;
    assert_eq!(
        load_one(&backend, rid).await,
        Some(map(&[("a", b"one"), ("c", b"3"), ("d", b"4")]))
    );
    let mut clear = write(rid, WriteMode::Update, &[("e", b"5")]);
    clear.clear = true;
    commit_ok(&backend, vec![Op::Write(clear)]).await;
    assert_eq!(load_one(&backend, rid).await, Some(map(&[("e", b"5")])));
}

/// Keys are compared byte for byte: `a` and `a ` are two keys.
pub async fn keys_that_differ_only_by_trailing_spaces_are_distinct(backend: SharedBackend) {
    let rid = id();
    let keys: [(&str, &[u8]); 3] = [("a", b"1"), ("a ", b"2"), ("a  ", b"3")];
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &keys))],
    )
    .await;
    assert_eq!(load_one(&backend, rid).await, Some(map(&keys)));
    let mut update = write(rid, WriteMode::Update, &[]);
    update.remove = vec!["a ".to_owned()];
    commit_ok(&backend, vec![Op::Write(update)]).await;
    assert_eq!(
        load_one(&backend, rid).await,
        Some(map(&[("a", b"1"), ("a  ", b"3")]))
    );
}

/// A record with every key removed still exists: it loads as empty, and
/// updates of it succeed.
pub async fn a_cleared_record_still_exists(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("a", b"1")]))],
    )
    .await;
    let mut clear = write(rid, WriteMode::Update, &[]);
    clear.clear = true;
    commit_ok(&backend, vec![Op::Write(clear)]).await;
    assert_eq!(load_one(&backend, rid).await, Some(BTreeMap::new()));
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Update, &[("b", b"2")]))],
    )
    .await;
    assert_eq!(load_one(&backend, rid).await, Some(map(&[("b", b"2")])));
}

/// A deleted record is gone; deleting a missing record is not an error.
pub async fn delete_removes_a_record(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("a", b"1")]))],
    )
    .await;
    commit_ok(&backend, vec![Op::Delete(rid)]).await;
    assert_eq!(load_one(&backend, rid).await, None);
    commit_ok(&backend, vec![Op::Delete(rid), Op::Delete(id())]).await;
}

/// A batch with one failing operation applies none of its operations.
pub async fn a_failing_batch_applies_nothing(backend: SharedBackend) {
    let (existing, fresh) = (id(), id());
    commit_ok(
        &backend,
        vec![Op::Write(write(
            existing,
            WriteMode::Create,
            &[("a", b"1")],
        ))],
    )
    .await;
    let err = commit(
        &backend,
        vec![
            Op::Write(write(fresh, WriteMode::Create, &[("x", b"1")])),
            Op::Write(write(id(), WriteMode::Update, &[("y", b"2")])),
        ],
    )
    .await
    .expect_err("an update of nothing fails the batch");
    assert!(err.is_gone(), "{err:?}");
    assert_eq!(
        load_one(&backend, fresh).await,
        None,
        "the batch's create was applied"
    );

    let err = commit(
        &backend,
        vec![
            Op::Write(write(fresh, WriteMode::Create, &[("x", b"1")])),
            Op::Delete(existing),
            Op::Write(write(existing, WriteMode::Create, &[("a", b"2")])),
        ],
    )
    .await;
    // Ids are distinct within a batch; the second op on `existing` is only
    // here to make the batch fail. Either it fails whole, or (if the store
    // orders deletes first) it succeeds whole.
    match err {
        Err(e) => {
            assert!(e.is_collision(), "{e:?}");
            assert_eq!(load_one(&backend, fresh).await, None);
            assert_eq!(
                load_one(&backend, existing).await,
                Some(map(&[("a", b"1")]))
            );
        }
        Ok(()) => {
            assert_eq!(
                load_one(&backend, existing).await,
                Some(map(&[("a", b"2")]))
            );
            assert_eq!(load_one(&backend, fresh).await, Some(map(&[("x", b"1")])));
        }
    }
}

/// Records past their expiry load as `None`, cannot be updated, and do not
/// block a create of their id.
pub async fn expired_records_are_absent(backend: SharedBackend) {
    let rid = id();
    let mut expired = write(rid, WriteMode::Create, &[("a", b"1")]);
    expired.expires_at = now() - 10;
    commit_ok(&backend, vec![Op::Write(expired)]).await;
    assert_eq!(load_one(&backend, rid).await, None);
    let err = commit(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Update, &[("b", b"2")]))],
    )
    .await
    .expect_err("an expired record cannot be updated");
    assert!(err.is_gone(), "{err:?}");
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("c", b"3")]))],
    )
    .await;
    assert_eq!(load_one(&backend, rid).await, Some(map(&[("c", b"3")])));
}

/// A write's expiry replaces the record's, earlier as well as later: a
/// session given a shorter lifetime of its own ends when it says.
pub async fn a_write_moves_the_expiry_either_way(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("a", b"1")]))],
    )
    .await;
    let later = Write::touch(rid, now() + 7 * 24 * 3600);
    commit_ok(&backend, vec![Op::Write(later)]).await;
    assert_eq!(load_one(&backend, rid).await, Some(map(&[("a", b"1")])));
    let earlier = Write::touch(rid, now() - 10);
    commit_ok(&backend, vec![Op::Write(earlier)]).await;
    assert_eq!(
        load_one(&backend, rid).await,
        None,
        "a record whose expiry moved into the past is gone"
    );
}

/// `delete_expired` leaves live records alone.
pub async fn delete_expired_keeps_live_records(backend: SharedBackend) {
    let (dead, live) = (id(), id());
    let mut expired = write(dead, WriteMode::Create, &[("a", b"1")]);
    expired.expires_at = now() - 10;
    commit_ok(
        &backend,
        vec![
            Op::Write(expired),
            Op::Write(write(live, WriteMode::Create, &[("b", b"2")])),
        ],
    )
    .await;
    backend.delete_expired().await.expect("delete_expired");
    assert_eq!(load_one(&backend, dead).await, None);
    assert_eq!(load_one(&backend, live).await, Some(map(&[("b", b"2")])));
}

/// Binary values (every byte value, and 256 KiB of them) and non-ASCII keys
/// come back unchanged.
pub async fn values_round_trip_byte_for_byte(backend: SharedBackend) {
    let rid = id();
    let every_byte: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let set: &[(&str, &[u8])] = &[
        ("bytes", &every_byte),
        ("große Ñ 🍸", b"x"),
        ("large", &large),
        ("empty", b""),
    ];
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, set))],
    )
    .await;
    assert_eq!(load_one(&backend, rid).await, Some(map(set)));
}

/// 50 concurrent commits to one record, each setting its own key: all 50
/// keys are there afterwards.
pub async fn concurrent_updates_of_different_keys_all_survive(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("base", b"0")]))],
    )
    .await;
    let tasks = (0..50)
        .map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let key = format!("key-{i}");
                let op = write(rid, WriteMode::Update, &[(&key, key.as_bytes())]);
                commit_ok(&backend, vec![Op::Write(op)]).await;
            })
        })
        .collect();
    all_tasks(tasks).await;
    let mut expected: BTreeMap<String, Vec<u8>> = (0..50)
        .map(|i| (format!("key-{i}"), format!("key-{i}").into_bytes()))
        .collect();
    expected.insert("base".to_owned(), b"0".to_vec());
    assert_eq!(load_one(&backend, rid).await, Some(expected));
}

/// 50 concurrent upserts of a record that does not exist yet, each setting
/// its own key: one creates it, the others merge, nothing is lost.
pub async fn concurrent_upserts_of_a_new_record_all_survive(backend: SharedBackend) {
    let rid = id();
    let tasks = (0..50)
        .map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let key = format!("key-{i}");
                let op = write(rid, WriteMode::Upsert, &[(&key, b"v")]);
                commit_ok(&backend, vec![Op::Write(op)]).await;
            })
        })
        .collect();
    all_tasks(tasks).await;
    let expected: BTreeMap<String, Vec<u8>> = (0..50)
        .map(|i| (format!("key-{i}"), b"v".to_vec()))
        .collect();
    assert_eq!(load_one(&backend, rid).await, Some(expected));
}

/// Updates racing with a delete never bring the record back: whatever
/// order they land in, the record is gone at the end.
pub async fn no_resurrection_after_delete(backend: SharedBackend) {
    let rid = id();
    commit_ok(
        &backend,
        vec![Op::Write(write(rid, WriteMode::Create, &[("a", b"1")]))],
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let shared = backend.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("key-{i}");
            let op = write(rid, WriteMode::Update, &[(&key, b"v")]);
            if let Err(e) = commit(&shared, vec![Op::Write(op)]).await {
                assert!(e.is_gone(), "{e:?}");
            }
        }));
        if i == 10 {
            let backend = backend.clone();
            tasks.push(tokio::spawn(async move {
                commit_ok(&backend, vec![Op::Delete(rid)]).await;
            }));
        }
    }
    all_tasks(tasks).await;
    assert_eq!(
        load_one(&backend, rid).await,
        None,
        "a deleted record came back"
    );
}
