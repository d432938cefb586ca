//! What `build` logs of the layers of settings: the variables it used,
//! and each one a setter overrode. A file of its own: `tracing` caches
//! whether a call site is wanted, and tests on other threads without a
//! subscriber could cache "no" before this one installs its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::env;
use gimlet_core::Gimlet;

/// What `build` logs, at info and above.
fn logs_of(build: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, build);
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn build_says_which_variables_it_used_and_which_the_code_overrode() {
    let logs = logs_of(|| {
        Gimlet::builder()
            .env_lookup(env(&[
                ("GIMLET_COOKIE_SECURE", "1"),
                ("GIMLET_REVALIDATE_AFTER", "0"),
            ]))
            .secure(false)
            .build()
            .unwrap();
    });
    assert!(
        logs.contains("WARN")
            && logs.contains("GIMLET_COOKIE_SECURE is set, but the code sets cookie.secure"),
        "{logs}"
    );
    assert!(
        logs.contains("settings from the environment: GIMLET_SECRET, GIMLET_REVALIDATE_AFTER"),
        "{logs}"
    );
    let quiet = logs_of(|| {
        Gimlet::builder()
            .secret(common::SECRET)
            .without_env()
            .build()
            .unwrap();
    });
    assert!(!quiet.contains("gimlet:"), "{quiet}");
}
