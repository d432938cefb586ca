//! The app's settings, from the environment: `GIMLET_ADDR`,
//! `GIMLET_BACKEND`, and the `GIMLET_*` variables of `gimlet_core::Config`.

use std::net::SocketAddr;
use std::sync::Arc;

use gimlet_core::backend::Backend;
use gimlet_core::import::Import;
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
    /// `GIMLET_IMPORT_FROM`: another library whose sessions are imported
    /// on first use (`tower-sessions+URL`, `actix-session+URL`,
    /// `actix-session+cookie`).
    pub import_from: Option<String>,
    /// `GIMLET_IMPORT_KEY`: that library's cookie key, 128 hex characters.
    pub import_key: Option<String>,
}

impl Settings {
    /// The import `GIMLET_IMPORT_FROM` names, if any.
    ///
    /// # Errors
    ///
    /// A spec or key that does not parse, or a peer store that cannot be
    /// reached.
    pub async fn import(&self) -> Result<Option<Import>, gimlet_core::backend::BackendError> {
        match &self.import_from {
            Some(from) => Ok(Some(
                gimlet_example_stores::import(from, self.import_key.as_deref()).await?,
            )),
            None => Ok(None),
        }
    }
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
        import_from: lookup("GIMLET_IMPORT_FROM").filter(|v| !v.is_empty()),
        import_key: lookup("GIMLET_IMPORT_KEY").filter(|v| !v.is_empty()),
    })
}

/// The one registry of stores by URL: the conformance app, its tests and
/// the shop all open their backend there.
pub use gimlet_example_stores::{backend, backend_in};

/// How long an app waits at start for its store's log of endings.
pub const FEED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The engine for `config`, `backend` and `import`, with the Prometheus
/// recorder behind `/metrics` installed first.
///
/// # Errors
///
/// A configuration the builder refuses.
pub fn gimlet(
    config: Config,
    backend: Option<Arc<dyn Backend>>,
    import: Option<Import>,
) -> Result<Gimlet, gimlet_core::ConfigError> {
    gimlet_example_stores::prometheus::install();
    let mut builder = Gimlet::builder().config(config);
    if let Some(import) = import {
        builder = builder.import(import);
    }
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
