//! The core's backend conformance suite on MySQL/MariaDB.

#![cfg(feature = "mysql")]

mod common;

use gimlet_sql::SqlBackend;

gimlet_core::backend_conformance!(async {
    match common::server_url(common::MYSQL, "the MySQL/MariaDB conformance suite") {
        Some(url) => Some(common::shared(SqlBackend::builder(url)).await),
        None => None,
    }
});
