//! Pushed revocation in SQL: an ending on one app server reaches every
//! other through the log of endings, with no round trip per read, on a
//! SQLite file that two pools share, PostgreSQL and MySQL; a server that
//! starts reads the log first.

mod common;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_core::testing::CutProxy;

/// A function that opens such app servers, on tables of this test's.
fn servers(url: String) -> impl AsyncFn() -> SharedBackend {
    let tables = common::own_tables();
    async move || common::app_server(&url, &tables).await
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_reaches_every_app_server_on_one_sqlite_file() {
    let url = common::sqlite_file_url();
    conformance::an_ending_reaches_every_app_server(servers(url)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_reaches_every_app_server_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "pushed revocation on PostgreSQL") {
        conformance::an_ending_reaches_every_app_server(servers(url)).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_reaches_every_app_server_on_mysql() {
    if let Some(url) = common::server_url(common::MYSQL, "pushed revocation on MySQL") {
        conformance::an_ending_reaches_every_app_server(servers(url)).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_feed_trusts_no_copy_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "a cut feed on PostgreSQL") {
        let (proxy, through) = CutProxy::in_front_of(&url).await.expect("proxy");
        let tables = common::own_tables();
        let (first, second) = (
            common::app_server(&url, &tables).await,
            common::app_server(&through, &tables).await,
        );
        conformance::a_cut_feed_trusts_no_copy(first, second, &proxy).await;
    }
}
