//! `Config::apply_env` and the builder over arbitrary `GIMLET_*` values:
//! every input is either a configuration or a `ConfigError`, never a
//! panic.

#![no_main]

use std::collections::HashMap;

use gimlet_core::{Config, Gimlet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines of `NAME=value`; a bare name stands for a `GIMLET_` suffix.
    let vars: HashMap<String, String> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let name = if name.starts_with("GIMLET_") {
                name.to_owned()
            } else {
                format!("GIMLET_{name}")
            };
            (name, value.to_owned())
        })
        .collect();
    let mut config = Config::default();
    if config.apply_env(|name| vars.get(name).cloned()).is_ok() {
        let _ = Gimlet::builder().config(config).build();
    }
});
