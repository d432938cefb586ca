//! How the three layers of settings compose: the builder's setters win,
//! whatever the order of the calls; the `GIMLET_*` variables fill what
//! they left open; `config(…)` or the defaults lie under both. And the
//! errors and logs that keep either layer from being ignored in silence.

#![allow(clippy::unwrap_used)]

mod common;

use common::env;
use gimlet_core::{Config, ConfigErrorKind, Gimlet, GimletBuilder, Key};

/// The `Set-Cookie` a first visit that stores a clientside value gets.
async fn set_cookie(builder: GimletBuilder) -> String {
    let gimlet = builder.build().unwrap();
    let session = gimlet.open_from_headers([]);
    session.insert("visits", &1).await.unwrap();
    gimlet.commit(&session).await.unwrap().remove(0)
}

fn secure(cookie: &str) -> bool {
    cookie.split("; ").any(|a| a == "Secure")
}

#[tokio::test]
async fn the_environment_fills_what_the_code_left_open() {
    let builder = Gimlet::builder().env_lookup(env(&[("GIMLET_COOKIE_SECURE", "0")]));
    let cookie = set_cookie(builder).await;
    assert!(!secure(&cookie), "{cookie}");
    assert!(
        cookie.starts_with("gimlet-n="),
        "no __Host- without Secure: {cookie}"
    );
    // And the secret came from it too: the builder was given none.
}

#[tokio::test]
async fn the_code_wins_over_the_environment_whatever_the_order() {
    let lookup = || {
        env(&[
            ("GIMLET_COOKIE_SECURE", "1"),
            ("GIMLET_COOKIE_TRANSIENT_NAME", "from-env"),
        ])
    };
    let before = Gimlet::builder().secure(false).env_lookup(lookup());
    let after = Gimlet::builder().env_lookup(lookup()).secure(false);
    for builder in [before, after] {
        let cookie = set_cookie(builder).await;
        assert!(!secure(&cookie), "{cookie}");
        assert!(
            cookie.starts_with("from-env="),
            "a variable the code does not set still applies: {cookie}"
        );
    }
}

#[tokio::test]
async fn a_config_lies_under_the_setters_and_the_environment() {
    // `config(…)` after a setter no longer undoes it.
    let builder = Gimlet::builder()
        .secure(false)
        .config(Config::default())
        .env_lookup(env(&[]));
    assert!(!secure(&set_cookie(builder).await));

    // The environment fills over a config's settings.
    let mut config = Config::default();
    config.cookie.secure = false;
    config.cookie.transient_name = "from-config".into();
    let builder = Gimlet::builder()
        .config(config.clone())
        .env_lookup(env(&[("GIMLET_COOKIE_TRANSIENT_NAME", "from-env")]));
    let cookie = set_cookie(builder).await;
    assert!(cookie.starts_with("from-env="), "{cookie}");
    assert!(!secure(&cookie), "the config's own setting stays: {cookie}");

    // And without the variable, the config's setting holds.
    let builder = Gimlet::builder().config(config).env_lookup(env(&[]));
    assert!(set_cookie(builder).await.starts_with("from-config="));
}

#[tokio::test]
async fn without_env_reads_no_variable() {
    let builder = Gimlet::builder()
        .secret(common::SECRET)
        .env_lookup(env(&[("GIMLET_COOKIE_TRANSIENT_NAME", "from-env")]))
        .without_env();
    let cookie = set_cookie(builder).await;
    assert!(cookie.starts_with("__Host-gimlet-n="), "{cookie}");
}

#[test]
fn a_missing_or_short_secret_names_the_variable_and_the_setter() {
    let none = |_: &str| None;
    let error = Gimlet::builder().env_lookup(none).build().unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Secret);
    let message = error.to_string();
    assert!(message.contains("GIMLET_SECRET"), "{message}");
    assert!(message.contains("GimletBuilder::secret"), "{message}");

    let short = |name: &str| (name == "GIMLET_SECRET").then(|| "short".to_owned());
    let message = Gimlet::builder()
        .env_lookup(short)
        .build()
        .unwrap_err()
        .to_string();
    assert!(message.contains("GIMLET_SECRET"), "{message}");
    assert!(message.contains("5 bytes"), "{message}");

    let message = Gimlet::builder()
        .env_lookup(env(&[("GIMLET_PREVIOUS_SECRETS", "old")]))
        .build()
        .unwrap_err()
        .to_string();
    assert!(message.contains("GIMLET_PREVIOUS_SECRETS"), "{message}");
}

#[test]
fn a_key_with_no_placement_is_refused_by_key() {
    const VISITS: Key<u32> = Key::new("visits");
    let error = Gimlet::builder()
        .secret(common::SECRET)
        .key(VISITS)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Placement);
    assert!(error.to_string().contains("`visits`"), "{error}");
    let clientside = Key::<u32>::new("visits").clientside();
    assert!(
        Gimlet::builder()
            .secret(common::SECRET)
            .key(clientside)
            .build()
            .is_ok()
    );
}
