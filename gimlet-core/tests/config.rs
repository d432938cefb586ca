//! Configuration: environment variables, serde, and the builder's checks.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use gimlet_core::{Config, ConfigErrorKind, Gimlet, MemoryBackend, SameSite};

#[test]
fn environment_variables_fill_the_configuration() {
    let vars = [
        ("GIMLET_SECRET", "0123456789abcdef0123456789abcdef"),
        ("GIMLET_CLIENTSIDE_KEYS", "user_id, cart_id,"),
        ("GIMLET_PERMANENT_KEYS", "remember"),
        ("GIMLET_SECURE", "0"),
        ("GIMLET_SAME_SITE", "Strict"),
        ("GIMLET_PERMANENT_LIFETIME", "600"),
        ("GIMLET_REFRESH_FRACTION", "0.25"),
        ("GIMLET_PERMANENT_COOKIE", "keep"),
        ("GIMLET_ENCRYPTION_KEY", ""),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    assert!(config.secret.is_some());
    assert_eq!(
        config.clientside_keys.iter().collect::<Vec<_>>(),
        ["cart_id", "user_id"]
    );
    assert!(config.permanent_keys.contains("remember"));
    assert!(!config.cookie.secure);
    assert_eq!(config.cookie.same_site, SameSite::Strict);
    assert_eq!(config.permanent_lifetime, Duration::from_secs(600));
    assert_eq!(config.refresh_fraction, 0.25);
    assert_eq!(config.cookie.permanent_name, "keep");
    assert!(
        config.encryption_key.is_none(),
        "an empty variable is unset"
    );
    assert!(Gimlet::builder().config(config).build().is_ok());
}

#[test]
fn bad_environment_values_are_errors_that_name_the_variable() {
    for (name, value) in [
        ("GIMLET_SECURE", "maybe"),
        ("GIMLET_COOKIE_SECURE", "maybe"),
        ("GIMLET_PERMANENT_LIFETIME", "a week"),
        ("GIMLET_ENCRYPTION_KEY", "short"),
        ("GIMLET_PREVIOUS_ENCRYPTION_KEYS", "00, short"),
        ("GIMLET_SAME_SITE", "sometimes"),
        ("GIMLET_REFRESH_FRACTION", "half"),
        ("GIMLET_COOKIE_MAX_SIZE", "-1"),
    ] {
        let error = Config::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
        assert_eq!(error.kind(), ConfigErrorKind::Environment, "{name}");
        assert_eq!(error.env_var(), Some(name));
        assert!(error.to_string().contains(name), "{error}");
        assert!(
            !error.to_string().contains(value),
            "the value is not repeated: {error}"
        );
    }
}

#[test]
fn cookie_settings_have_gimlet_cookie_names_and_keep_the_old_ones() {
    let lookup = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let new = Config::from_lookup(lookup(&[
        ("GIMLET_COOKIE_SECURE", "0"),
        ("GIMLET_COOKIE_SAME_SITE", "strict"),
        ("GIMLET_COOKIE_PERMANENT_NAME", "keep"),
        ("GIMLET_COOKIE_TRANSIENT_NAME", "visit"),
        ("GIMLET_COOKIE_HTTP_ONLY", "0"),
        ("GIMLET_COOKIE_HOST_PREFIX", "0"),
    ]))
    .unwrap();
    let old = Config::from_lookup(lookup(&[
        ("GIMLET_SECURE", "0"),
        ("GIMLET_SAME_SITE", "strict"),
        ("GIMLET_PERMANENT_COOKIE", "keep"),
        ("GIMLET_TRANSIENT_COOKIE", "visit"),
        ("GIMLET_HTTP_ONLY", "0"),
        ("GIMLET_HOST_PREFIX", "0"),
    ]))
    .unwrap();
    for config in [&new, &old] {
        assert!(!config.cookie.secure);
        assert_eq!(config.cookie.same_site, SameSite::Strict);
        assert_eq!(config.cookie.permanent_name, "keep");
        assert_eq!(config.cookie.transient_name, "visit");
        assert!(!config.cookie.http_only);
        assert_eq!(config.cookie.host_prefix, Some(false));
    }
    for (text, same_site) in [
        ("Strict", SameSite::Strict),
        ("lax", SameSite::Lax),
        ("NONE", SameSite::None),
    ] {
        let config =
            Config::from_lookup(|n| (n == "GIMLET_COOKIE_SAME_SITE").then(|| text.to_owned()));
        assert_eq!(config.unwrap().cookie.same_site, same_site, "{text}");
    }
    // The current name wins over the old one.
    let both = Config::from_lookup(lookup(&[
        ("GIMLET_COOKIE_SECURE", "1"),
        ("GIMLET_SECURE", "0"),
    ]));
    assert!(both.unwrap().cookie.secure);
}

/// docs/configuration.md lists exactly the variables `Config::from_env`
/// reads, old names included.
#[test]
fn the_documentation_lists_every_environment_variable() {
    let page = include_str!("../../docs/configuration.md");
    let documented: BTreeSet<&str> = page
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|w| w.starts_with("GIMLET_") && !w.ends_with('_'))
        .collect();
    let read: BTreeSet<&str> = Config::env_vars()
        .flat_map(|(name, aliases)| std::iter::once(name).chain(aliases.iter().copied()))
        .collect();
    assert_eq!(documented, read);
}

#[test]
fn serde_reads_a_config_table() {
    let json = serde_json::json!({
        "secret": "0123456789abcdef0123456789abcdef",
        "encryption_key": "00".repeat(32),
        "clientside_keys": ["user_id"],
        "transient_lifetime": 3600,
        "absolute_lifetime": 86400,
        "cookie": { "secure": false, "same_site": "none", "domain": "example.com" },
    });
    let config: Config = serde_json::from_value(json).unwrap();
    assert_eq!(config.transient_lifetime, Duration::from_secs(3600));
    assert_eq!(config.absolute_lifetime, Some(Duration::from_secs(86400)));
    assert_eq!(config.cookie.domain.as_deref(), Some("example.com"));
    // SameSite=None without Secure is refused by the builder.
    assert!(Gimlet::builder().config(config).build().is_err());

    let unknown = serde_json::json!({ "secrett": "typo" });
    assert!(serde_json::from_value::<Config>(unknown).is_err());
}

#[test]
fn the_builder_refuses_what_cannot_work() {
    let ok = || Gimlet::builder().secret(common::SECRET);
    assert!(ok().build().is_ok());
    let cases = [
        ("no secret", Gimlet::builder()),
        ("short secret", Gimlet::builder().secret("too short")),
        ("short old secret", ok().previous_secrets(["short"])),
        ("same names", ok().transient_name("gimlet-p")),
        ("bad name", ok().permanent_name("a;b")),
        ("zero lifetime", ok().transient_lifetime(Duration::ZERO)),
        ("refresh 0", ok().refresh_fraction(0.0)),
        ("refresh > 1", ok().refresh_fraction(1.5)),
        ("relative path", ok().path("app")),
        ("tiny cookie", ok().max_size(100)),
        ("server default, no backend", ok().default_clientside(false)),
        (
            "zero absolute lifetime",
            ok().absolute_lifetime(Duration::ZERO),
        ),
        (
            "zero transient absolute lifetime",
            ok().transient_absolute_lifetime(Duration::ZERO),
        ),
        ("domain with a space", ok().domain("exa mple.com")),
        ("domain with a semicolon", ok().domain("example.com;x")),
        ("domain with a port", ok().domain("example.com:8080")),
        ("empty domain", ok().domain("")),
        ("domain label ending in -", ok().domain("a-.example.com")),
    ];
    for (what, builder) in cases {
        assert!(builder.build().is_err(), "{what} was accepted");
    }
    for domain in [
        "example.com",
        ".example.com",
        "a-b.example.co.uk",
        "localhost",
    ] {
        assert!(ok().domain(domain).build().is_ok(), "{domain} was refused");
    }
    assert!(
        ok().default_clientside(false)
            .backend(MemoryBackend::new())
            .build()
            .is_ok()
    );
}
