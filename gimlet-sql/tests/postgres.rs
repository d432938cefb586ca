//! The core's backend conformance suite on PostgreSQL.

#![cfg(feature = "postgres")]

mod common;

use gimlet_sql::SqlBackend;

gimlet_core::backend_conformance!(async {
    match common::server_url(common::POSTGRES, "the PostgreSQL conformance suite") {
        Some(url) => Some(common::shared(SqlBackend::builder(url)).await),
        None => None,
    }
});
