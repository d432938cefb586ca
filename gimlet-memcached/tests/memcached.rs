//! The core's backend conformance suite, against real memcached: one
//! server, and a ring of three.

macro_rules! on {
    ($($module:ident => $var:expr;)*) => {
        $(
            mod $module {
                use gimlet_core::backend::Backend;
                use gimlet_core::conformance::server_url;
                use gimlet_memcached::MemcachedBackend;
                use std::sync::Arc;

                gimlet_core::backend_conformance!(without_owner_index: async {
                    server_url($var, "the memcached conformance suite").map(|url| {
                        let backend = MemcachedBackend::from_url(&url).expect("a memcache:// URL");
                        Arc::new(backend) as Arc<dyn Backend>
                    })
                });
            }
        )*
    };
}

on! {
    server => "GIMLET_TEST_MEMCACHED_URL";
    ring => "GIMLET_TEST_MEMCACHED_RING_URL";
}
