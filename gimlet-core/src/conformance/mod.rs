//! The backend conformance suite: one set of tests that every [`Backend`]
//! must pass, run by MemoryBackend's tests here and by the Redis and SQL
//! backends' tests in their crates.
//!
//! Each case is a public async function that panics on failure.
//! [`backend_conformance!`](crate::backend_conformance) turns all of them
//! into `#[tokio::test]`s:
//!
//! ```ignore
//! gimlet_core::backend_conformance!(async {
//!     // None skips every case (say why on stderr).
//!     Some(std::sync::Arc::new(MyBackend::connect().await) as _)
//! });
//! ```
//!
//! Every case uses fresh random ids, so cases can run in parallel against
//! one shared store. Expiry is tested with expiry times in the past, which
//! every store can do without sleeping; MemoryBackend's own tests move a
//! manual clock as well.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Backend, Batch, Op, Record, Write, WriteMode};
use crate::{Clock, SessionId, SystemClock};

/// A backend shared by the tasks of a case.
pub type SharedBackend = Arc<dyn Backend>;

/// Turns every case of the suite into a `#[tokio::test]` in the calling
/// crate, which needs `tokio` (with `macros` and `rt-multi-thread`) as a
/// dev-dependency. `$make` is an expression of a future that yields
/// `Option<Arc<dyn Backend>>`; `None` skips the case.
#[macro_export]
macro_rules! backend_conformance {
    ($make:expr) => {
        $crate::backend_conformance!(@cases $make;
            load_of_unknown_ids_is_none,
            create_then_load_both_channels_in_one_call,
            create_of_a_live_id_is_a_collision,
            update_of_a_missing_record_is_gone,
            upsert_creates_then_merges,
            keys_are_set_removed_and_cleared,
            a_cleared_record_still_exists,
            delete_removes_a_record,
            a_failing_batch_applies_nothing,
            expired_records_are_absent,
            delete_expired_keeps_live_records,
            values_round_trip_byte_for_byte,
            concurrent_updates_of_different_keys_all_survive,
            concurrent_upserts_of_a_new_record_all_survive,
            no_resurrection_after_delete,
            session_round_trips_are_one_load_and_one_commit,
            concurrent_requests_of_one_session_all_survive,
            a_request_that_outlives_a_logout_does_not_resurrect,
            a_request_that_outlives_a_cycle_does_not_resurrect_the_old_id,
            a_lost_record_heals_on_the_next_write,
            a_key_with_nul_is_a_usage_error,
            keys_that_differ_only_by_trailing_spaces_are_distinct,
            owned_records_are_listed_and_ended,
            an_owned_record_leaves_the_index_with_its_record,
            log_out_everywhere_ends_every_other_session,
            a_channel_created_later_joins_its_owner,
            an_ended_session_cannot_rejoin_its_owner,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[allow(clippy::print_stderr)]
            async fn $case() {
                match $make.await {
                    Some(backend) => $crate::conformance::$case(backend).await,
                    None => eprintln!(
                        "skipped {}: this backend's server is not configured",
                        stringify!($case)
                    ),
                }
            }
        )*
    };
}

/// The variable that forbids skipping: with it set to `1`, a test whose
/// server is not configured fails instead.
pub const REQUIRE_SERVERS: &str = "GIMLET_TEST_REQUIRE_SERVERS";

/// The URL of a test server from the environment variable `var`, for the
/// test named `test`. Unset, the test is skipped, and says so on stderr;
/// but with [`REQUIRE_SERVERS`] set to `1` (as CI sets it), it fails,
/// naming the variable.
///
/// # Panics
///
/// When `var` is unset and servers are required.
#[allow(clippy::print_stderr)]
pub fn server_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var(REQUIRE_SERVERS).is_ok_and(|v| v.trim() == "1") => {
            panic!("{test} needs a server: {var} is not set, and {REQUIRE_SERVERS}=1")
        }
        _ => {
            eprintln!("skipped {test}: {var} is not set");
            None
        }
    }
}

/// A new id. The ids of one test share a group, as the ids of one session
/// do, since a test may commit several of them in one batch (a backend may
/// rely on the group: see [`SessionId::generate_beside`]); each test thread
/// gets a group of its own.
fn id() -> SessionId {
    thread_local! {
        static ANCHOR: SessionId = SessionId::generate().expect("system random");
    }
    ANCHOR.with(|anchor| SessionId::generate_beside(anchor).expect("system random"))
}

fn now() -> u64 {
    SystemClock.now()
}

fn later() -> u64 {
    now() + 3600
}

fn write(id: SessionId, mode: WriteMode, set: &[(&str, &[u8])]) -> Write {
    Write {
        id,
        mode,
        clear: false,
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        remove: Vec::new(),
        expires_at: later(),
        owner: None,
    }
}

async fn commit(backend: &SharedBackend, ops: Vec<Op>) -> Result<(), crate::backend::BackendError> {
    backend.commit(&Batch { ops }).await
}

async fn commit_ok(backend: &SharedBackend, ops: Vec<Op>) {
    commit(backend, ops).await.expect("commit");
}

async fn load_one(backend: &SharedBackend, id: SessionId) -> Option<BTreeMap<String, Vec<u8>>> {
    let mut records = backend.load(&[id]).await.expect("load");
    assert_eq!(records.len(), 1, "load answers one entry per id");
    records.pop().flatten().map(sorted)
}

fn sorted(record: Record) -> BTreeMap<String, Vec<u8>> {
    record.into_iter().collect()
}

fn map(entries: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect()
}

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

async fn all_tasks(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        task.await.expect("task");
    }
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

mod owners;
mod sessions;

pub use owners::{
    a_channel_created_later_joins_its_owner, an_ended_session_cannot_rejoin_its_owner,
    an_owned_record_leaves_the_index_with_its_record, log_out_everywhere_ends_every_other_session,
    owned_records_are_listed_and_ended,
};

pub use sessions::{
    SilentServer, a_key_with_nul_is_a_usage_error, a_lost_record_heals_on_the_next_write,
    a_request_that_outlives_a_cycle_does_not_resurrect_the_old_id,
    a_request_that_outlives_a_logout_does_not_resurrect,
    concurrent_requests_of_one_session_all_survive,
    session_round_trips_are_one_load_and_one_commit, unreachable_backend_fails_promptly,
};
