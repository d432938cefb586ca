//! The core's backend conformance suite on SQLite, in a file and in memory.

#![cfg(feature = "sqlite")]

mod common;

mod file {
    use super::common;
    use gimlet_sql::SqlBackend;

    gimlet_core::backend_conformance!(async {
        Some(common::shared(SqlBackend::builder(common::sqlite_file_url())).await)
    });
}

mod memory {
    use super::common;
    use gimlet_sql::SqlBackend;

    gimlet_core::backend_conformance!(async {
        Some(common::shared(SqlBackend::builder("sqlite::memory:")).await)
    });
}
