//! The suite's machinery: the macro that turns every case into a test,
//! the server URLs, and the helpers the cases share.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Backend, Batch, Op, Record, Write, WriteMode};
use crate::{Clock, Gimlet, SessionId, SystemClock};

/// A backend shared by the tasks of a case.
pub type SharedBackend = Arc<dyn Backend>;

/// Turns every case of the suite into a `#[tokio::test]` in the calling
/// crate, which needs `tokio` (with `macros` and `rt-multi-thread`) as a
/// dev-dependency. `$make` is an expression of a future that yields
/// `Option<Arc<dyn Backend>>`; `None` skips the case.
///
/// `backend_conformance!(without_owner_index: $make)` is the suite of a
/// store that keeps no owner index
/// ([`Backend::owner_index`](crate::backend::Backend::owner_index) is
/// `false`): the owner index's cases give way to one that checks the
/// documented answers without it.
#[macro_export]
macro_rules! backend_conformance {
    (without_owner_index: $make:expr) => {
        $crate::backend_conformance!(@common $make);
        $crate::backend_conformance!(@cases $make;
            without_an_owner_index_a_login_moves_the_ids_and_log_out_everywhere_is_refused,
        );
    };
    (@common $make:expr) => {
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
            a_write_moves_the_expiry_either_way,
            delete_expired_keeps_live_records,
            values_round_trip_byte_for_byte,
            concurrent_updates_of_different_keys_all_survive,
            concurrent_upserts_of_a_new_record_all_survive,
            no_resurrection_after_delete,
            a_write_applies_only_while_what_it_read_still_holds,
            concurrent_compare_and_sets_of_one_key_lose_nothing,
            concurrent_updates_of_one_key_lose_nothing,
            concurrent_updates_of_different_keys_lose_nothing,
            an_update_that_always_loses_is_a_409_after_the_bound,
            an_update_racing_a_logout_does_not_resurrect,
            an_uncontended_update_is_one_load_and_one_commit,
            session_round_trips_are_one_load_and_one_commit,
            concurrent_requests_of_one_session_all_survive,
            a_request_that_outlives_a_logout_does_not_resurrect,
            a_request_that_outlives_a_cycle_does_not_resurrect_the_old_id,
            a_lost_record_heals_on_the_next_write,
            a_key_with_nul_is_a_usage_error,
            keys_that_differ_only_by_trailing_spaces_are_distinct,
            a_cycle_racing_a_logout_does_not_resurrect_the_session,
            a_channel_created_beside_an_ended_one_carries_nothing_of_it,
            random_lifecycles_never_show_an_ended_session,
            an_insert_past_the_session_byte_cap_is_refused,
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
    ($make:expr) => {
        $crate::backend_conformance!(@common $make);
        $crate::backend_conformance!(@cases $make;
            owned_records_are_listed_and_ended,
            an_owned_record_leaves_the_index_with_its_record,
            log_out_everywhere_ends_every_other_session,
            a_channel_created_later_joins_its_owner,
            an_ended_session_cannot_rejoin_its_owner,
            a_cycle_racing_log_out_everywhere_does_not_resurrect_the_session,
            a_cycle_committing_during_log_out_everywhere_never_survives_it,
            a_login_past_the_owner_cap_is_refused,
        );
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

/// The key every case's Gimlet signs with.
pub(super) const SECRET: &str = "conformance suite secret, 32+ bytes long";

/// A Gimlet on `backend` with `user_id` clientside, whose cookies are
/// trusted for `revalidate_after` seconds after their record was seen.
pub(super) fn gimlet(backend: SharedBackend, revalidate_after: u64) -> Gimlet {
    // Without the store's revocation feed: what these cases count and see
    // must not depend on whether a feed has caught up yet.
    Gimlet::builder()
        .secret(SECRET)
        .shared_backend(without_feed(backend))
        .clientside_keys(["user_id"])
        .revalidate_after(std::time::Duration::from_secs(revalidate_after))
        .build()
        .expect("configuration")
}

/// One browser: a cookie jar of one pair per cookie name.
#[derive(Default, Clone)]
pub(super) struct Browser(Vec<(String, String)>);

impl Browser {
    pub(super) fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ")
    }

    /// The ids the jar's cookies carry, read with the suite's key.
    pub(super) fn ids(&self) -> Vec<SessionId> {
        let codec = codec();
        self.0
            .iter()
            .filter_map(|(name, value)| codec.decode(name, value).ok())
            .map(|cookie| cookie.id())
            .collect()
    }

    pub(super) fn take(&mut self, set_cookies: &[String]) {
        for set_cookie in set_cookies {
            let pair = set_cookie.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Runs one request: `handler` with a session opened from the jar,
    /// then the commit.
    pub(super) async fn request<F, Fut, T>(&mut self, gimlet: &Gimlet, handler: F) -> T
    where
        F: FnOnce(crate::Session) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let header = self.header();
        let session = gimlet.open_from_headers([header.as_str()]);
        let answer = handler(session.clone()).await;
        let set_cookies = gimlet.commit(&session).await.expect("commit");
        self.take(&set_cookies);
        answer
    }
}

/// The cookie codec of the suite's key.
pub(super) fn codec() -> crate::cookie::CookieCodec {
    crate::cookie::CookieCodec::new(&[crate::Secret::new(SECRET)], &[], false).expect("codec")
}

/// `backend` without its revocation feed: as a store that cannot push,
/// for the cases that test what the revalidation window alone does.
pub(super) fn without_feed(backend: SharedBackend) -> SharedBackend {
    Arc::new(crate::testing::WithoutFeed(backend))
}

/// A new id. The ids of one test share a group, as the ids of one session
/// do, since a test may commit several of them in one batch (a backend may
/// rely on the group: see [`SessionId::generate_beside`]); each test thread
/// gets a group of its own.
pub(super) fn id() -> SessionId {
    thread_local! {
        static ANCHOR: SessionId = SessionId::generate().expect("system random");
    }
    ANCHOR.with(|anchor| SessionId::generate_beside(anchor).expect("system random"))
}

pub(super) fn now() -> u64 {
    SystemClock.now()
}

pub(super) fn later() -> u64 {
    now() + 3600
}

pub(super) fn write(id: SessionId, mode: WriteMode, set: &[(&str, &[u8])]) -> Write {
    Write {
        id,
        mode,
        clear: false,
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        remove: Vec::new(),
        expect: Vec::new(),
        expires_at: later(),
        owner: None,
    }
}

pub(super) async fn commit(
    backend: &SharedBackend,
    ops: Vec<Op>,
) -> Result<(), crate::backend::BackendError> {
    backend.commit(&Batch { ops }).await
}

pub(super) async fn commit_ok(backend: &SharedBackend, ops: Vec<Op>) {
    commit(backend, ops).await.expect("commit");
}

pub(super) async fn load_one(
    backend: &SharedBackend,
    id: SessionId,
) -> Option<BTreeMap<String, Vec<u8>>> {
    let mut records = backend.load(&[id]).await.expect("load");
    assert_eq!(records.len(), 1, "load answers one entry per id");
    records.pop().flatten().map(sorted)
}

pub(super) fn sorted(record: Record) -> BTreeMap<String, Vec<u8>> {
    record.into_iter().collect()
}

pub(super) fn map(entries: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect()
}

pub(super) async fn all_tasks(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        task.await.expect("task");
    }
}

/// `n` concurrent requests with the `Cookie` header `header`, each running
/// `work` with its number, then committing; all must succeed.
pub(super) async fn at_once<F, Fut>(gimlet: &crate::Gimlet, header: &str, n: u32, work: F)
where
    F: Fn(crate::Session, u32) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks = (0..n)
        .map(|i| {
            let session = gimlet.open_from_headers([header]);
            let (gimlet, done) = (gimlet.clone(), work(session.clone(), i));
            tokio::spawn(async move {
                done.await;
                gimlet.commit(&session).await.expect("commit");
            })
        })
        .collect();
    all_tasks(tasks).await;
}
