//! The app's settings, from the environment: `GIMLET_ADDR`,
//! `GIMLET_BACKEND`, and the `GIMLET_*` variables of `gimlet_core::Config`.

use std::net::SocketAddr;
use std::sync::Arc;

use gimlet_core::backend::Backend;
use gimlet_core::{Config, Gimlet};

/// The secret used when `GIMLET_SECRET` is not set. Fine on a laptop,
/// never in production: anyone who reads this file can forge cookies.
pub const DEVELOPMENT_SECRET: &str = "gimlet development secret: never use it in production";

/// Everything the environment says.
#[derive(Debug)]
pub struct Settings {
    /// `GIMLET_ADDR`, default `127.0.0.1:8000`.
    pub addr: SocketAddr,
    /// `GIMLET_BACKEND`: `none`, `memory` (the default), or a
    /// `redis://`, `rediss://`, `redis+cluster://`, `redis+sentinel://`,
    /// `postgres://`, `mysql://` or `sqlite://` URL.
    pub backend: String,
    /// The session configuration.
    pub config: Config,
}

/// Reads the settings. `GIMLET_COOKIE_SECURE` defaults to off here, since the app
/// is served over plain HTTP on loopback.
///
/// # Errors
///
/// A variable that does not parse.
pub fn from_env() -> Result<Settings, Box<dyn std::error::Error>> {
    from_lookup(|name| std::env::var(name).ok())
}

/// [`from_env`] through `lookup`.
///
/// # Errors
///
/// A variable that does not parse.
pub fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Settings, Box<dyn std::error::Error>> {
    let addr = lookup("GIMLET_ADDR")
        .unwrap_or_else(|| "127.0.0.1:8000".into())
        .parse()?;
    let backend = lookup("GIMLET_BACKEND").unwrap_or_else(|| "memory".into());
    let mut config = Config::default();
    config.cookie.secure = false;
    config.apply_env(&lookup)?;
    if config.secret.is_none() {
        tracing::warn!("GIMLET_SECRET is not set: using the development secret");
        config.secret = Some(DEVELOPMENT_SECRET.into());
    }
    Ok(Settings {
        addr,
        backend,
        config,
    })
}

/// The one registry of stores by URL: the conformance app, its tests and
/// the shop all open their backend there.
pub use gimlet_example_stores::{backend, backend_in};

/// How long an app waits at start for its store's log of endings.
pub const FEED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The engine for `config` and `backend`, with the Prometheus recorder
/// behind `/metrics` installed first.
///
/// # Errors
///
/// A configuration the builder refuses.
pub fn gimlet(
    config: Config,
    backend: Option<Arc<dyn Backend>>,
) -> Result<Gimlet, gimlet_core::ConfigError> {
    gimlet_example_stores::prometheus::install();
    let builder = Gimlet::builder().config(config);
    match backend {
        Some(backend) => builder.shared_backend(backend),
        None => builder,
    }
    .build()
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
