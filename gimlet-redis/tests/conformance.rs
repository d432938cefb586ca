//! The core's backend conformance suite, against a real Redis.

use std::sync::Arc;

use gimlet_core::Backend;

mod common;

gimlet_core::backend_conformance!(async {
    common::url("the Redis conformance suite")
        .map(|url| Arc::new(common::backend(&url)) as Arc<dyn Backend>)
});
