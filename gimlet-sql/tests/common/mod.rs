//! Backends for the tests: SQLite in a file and in memory, and the servers
//! named by `GIMLET_TEST_POSTGRES_URL` and `GIMLET_TEST_MYSQL_URL`.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::sync::Arc;

use gimlet_core::SessionId;
use gimlet_core::backend::Backend;
use gimlet_sql::{SqlBackend, SqlBackendBuilder, Tables};

pub const POSTGRES: &str = "GIMLET_TEST_POSTGRES_URL";
pub const MYSQL: &str = "GIMLET_TEST_MYSQL_URL";

/// The server's URL, or `None` after saying on stderr that the test is
/// skipped (a failure when servers are required).
pub fn server_url(var: &str, test: &str) -> Option<String> {
    gimlet_core::conformance::server_url(var, test)
}

fn unique() -> String {
    SessionId::generate().expect("rng").to_string()[..12].to_owned()
}

/// Tables of this test's own, so parallel tests never share rows.
pub fn own_tables() -> Tables {
    let tag = unique();
    Tables::new(
        &format!("gimlet_t{tag}_sessions"),
        &format!("gimlet_t{tag}_keys"),
    )
    .expect("valid")
}

/// A fresh SQLite file in the temporary directory.
pub fn sqlite_file_url() -> String {
    let path = std::env::temp_dir().join(format!("gimlet-test-{}.db", unique()));
    format!("sqlite://{}?mode=rwc", path.display())
}

pub async fn connect(builder: SqlBackendBuilder) -> SqlBackend {
    builder
        .tables(own_tables())
        .connect()
        .await
        .expect("connect")
}

pub async fn shared(builder: SqlBackendBuilder) -> Arc<dyn Backend> {
    Arc::new(connect(builder).await)
}

/// An app server of its own on `url` and `tables` (its own pool, as
/// another process would have).
pub async fn app_server(url: &str, tables: &Tables) -> gimlet_core::conformance::SharedBackend {
    let backend = SqlBackend::builder(url)
        .tables(tables.clone())
        .timeout(std::time::Duration::from_secs(2))
        .connect()
        .await
        .expect("connect");
    Arc::new(backend)
}
