//! Pushed revocation in SQL: an ending on one app server reaches every
//! other through the log of endings, with no round trip per read, on a
//! SQLite file that two pools share, PostgreSQL and MySQL; a server that
//! starts reads the log first.

mod common;

use std::sync::Arc;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_sql::{SqlBackend, Tables};

/// A function that opens an app server of its own (its own pool, as
/// another process would have) on `url`, on tables of this test's.
fn servers(url: String) -> impl AsyncFn() -> SharedBackend {
    let tables: Tables = common::own_tables();
    async move || {
        let backend = SqlBackend::builder(url.clone())
            .tables(tables.clone())
            .connect()
            .await
            .expect("connect");
        Arc::new(backend) as SharedBackend
    }
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
