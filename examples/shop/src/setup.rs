//! Configuration from the environment: where to listen, and which backend.

use gimlet_core::{Config, Gimlet};
use gimlet_example_stores::backend;
use std::net::SocketAddr;

/// The embedded default: SQLite in a local file, nothing to install.
pub const DEFAULT_BACKEND: &str = "sqlite://gimlet-shop.db?mode=rwc";

/// Keys that live in the cookie besides the typed ones of
/// [`pages`](crate::pages) (who you are, which cart is yours): the CSRF
/// token and the default flash queue. A returning guest's home page makes
/// no backend call at all (but one existence check every
/// `revalidate_after`); a signed-in user's makes one more, to list their
/// devices, and one to load a cart. A first visit creates the session's
/// small record, so that logging out can revoke every copy of its cookie.
pub const CLIENTSIDE_KEYS: [&str; 2] = ["_csrft_", "_f_"];

/// `GIMLET_ADDR`, default `127.0.0.1:8080`.
///
/// # Errors
///
/// An address that does not parse.
pub fn addr() -> Result<SocketAddr, std::net::AddrParseError> {
    std::env::var("GIMLET_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()
}

/// The shop's Gimlet: the backend named by `GIMLET_BACKEND` (`memory`, a
/// `sqlite://`, `postgres://` or `mysql://` URL, or a Redis one:
/// `redis://`, `rediss://`, `redis+cluster://`, `redis+sentinel://`, each
/// with its feature; SQLite in `gimlet-shop.db` by default; expired SQL
/// sessions are deleted every ten minutes), and the `GIMLET_*` settings.
///
/// # Errors
///
/// A setting that does not parse, or a backend that cannot be reached.
pub async fn gimlet() -> Result<Gimlet, Box<dyn std::error::Error>> {
    // Gimlet's meters come from the recorder installed at its first
    // request: the one behind /metrics.
    gimlet_example_stores::prometheus::install();
    let url = std::env::var("GIMLET_BACKEND").unwrap_or_else(|_| DEFAULT_BACKEND.into());
    // The same registry of stores by URL as the conformance app's.
    let backend = backend(&url).await?.ok_or("the shop needs a backend")?;
    // Under the GIMLET_* variables, which `build` reads: served over plain
    // HTTP on loopback, so not Secure unless GIMLET_COOKIE_SECURE=1 (behind
    // TLS), and a development secret unless GIMLET_SECRET is set.
    let mut base = Config::default();
    base.cookie.secure = false;
    if std::env::var_os("GIMLET_SECRET").is_none() {
        tracing::warn!("GIMLET_SECRET is not set: using a development secret");
        base.secret = Some("gimlet-shop development secret, never in production".into());
    }
    Ok(Gimlet::builder()
        .config(base)
        .clientside_keys(CLIENTSIDE_KEYS)
        .key(crate::pages::USER)
        .key(crate::pages::CART_ID)
        .shared_backend(backend)
        .build()?)
}

/// Logs Gimlet's warnings and errors (and the shop's) to stderr, at
/// `info` and above: without a subscriber they would go nowhere.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints where to point a browser.
pub fn announce(addr: SocketAddr, framework: &str) {
    println!("gimlet shop on {framework}: open http://{addr}/");
}

/// `/metrics`: Gimlet's metrics in Prometheus' text format.
pub fn metrics() -> String {
    gimlet_example_stores::prometheus::render()
}
