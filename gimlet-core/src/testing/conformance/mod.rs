//! The backend conformance suite: one set of tests that every [`Backend`](crate::backend::Backend)
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

mod compare_and_set;
mod endings;
mod feed;
mod lifecycle;
mod limits;
mod near_cache;
mod owners;
mod records;
mod sessions;
mod suite;

pub use compare_and_set::{
    a_write_applies_only_while_what_it_read_still_holds,
    an_uncontended_update_is_one_load_and_one_commit, an_update_racing_a_logout_does_not_resurrect,
    an_update_that_always_loses_is_a_409_after_the_bound,
    concurrent_compare_and_sets_of_one_key_lose_nothing,
    concurrent_updates_of_different_keys_lose_nothing, concurrent_updates_of_one_key_lose_nothing,
};
pub use endings::{
    a_channel_created_beside_an_ended_one_carries_nothing_of_it,
    a_cycle_committing_during_log_out_everywhere_never_survives_it,
    a_cycle_racing_a_logout_does_not_resurrect_the_session,
    a_cycle_racing_log_out_everywhere_does_not_resurrect_the_session,
};
pub use feed::{a_cut_feed_trusts_no_copy, an_ending_reaches_every_app_server};
pub use lifecycle::{SEED_VAR, SEQUENCES_VAR, random_lifecycles_never_show_an_ended_session};
pub use limits::{
    a_login_past_the_owner_cap_is_refused, an_insert_past_the_session_byte_cap_is_refused,
};
pub use near_cache::{
    a_cut_near_cache_serves_nothing_it_may_have_missed, a_near_cache_hears_every_app_servers_writes,
};
pub use owners::{
    a_channel_created_later_joins_its_owner, an_ended_session_cannot_rejoin_its_owner,
    an_owned_record_leaves_the_index_with_its_record, log_out_everywhere_ends_every_other_session,
    owned_records_are_listed_and_ended,
    without_an_owner_index_a_login_moves_the_ids_and_log_out_everywhere_is_refused,
};

pub use records::*;
pub use sessions::{
    SilentServer, a_key_with_nul_is_a_usage_error, a_lost_record_heals_on_the_next_write,
    a_request_that_outlives_a_cycle_does_not_resurrect_the_old_id,
    a_request_that_outlives_a_logout_does_not_resurrect,
    concurrent_requests_of_one_session_all_survive,
    session_round_trips_are_one_load_and_one_commit, unreachable_backend_fails_promptly,
};
pub use suite::{REQUIRE_SERVERS, SharedBackend, server_url};
