//! The core's backend conformance suite, against a real Redis in each of
//! its topologies: one server, a cluster, a primary behind Sentinel, a
//! server reached over TLS, and a cluster over TLS.

mod common;

macro_rules! on {
    ($($module:ident => $var:expr;)*) => {
        $(
            mod $module {
                use super::common;
                use gimlet_core::backend::Backend;
                use std::sync::Arc;

                gimlet_core::backend_conformance!(async {
                    common::backend_on($var, "the Redis conformance suite")
                        .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
                });
            }
        )*
    };
}

on! {
    server => common::URL_VAR;
    cluster => common::CLUSTER_VAR;
    sentinel => common::SENTINEL_VAR;
    tls => common::TLS_VAR;
    tls_cluster => common::TLS_CLUSTER_VAR;
}
