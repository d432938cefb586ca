//! What `build` refuses, and the parts it derives on the way: the codec
//! from the secrets, the lifetimes, the near cache.

use std::sync::Arc;

use crate::backend::{Backend, NearCache};
use crate::config::SameSite;
use crate::cookie::{CookieCodec, valid_domain, valid_name, valid_path};
use crate::error::ConfigErrorKind;
use crate::lifetime::Lifetimes;
use crate::{Clock, Config, ConfigError, EncryptionKey, MIN_SECRET_LEN, Secret};

/// The cookie codec of the secrets and encryption keys.
///
/// # Errors
///
/// A missing or short secret, named by its variable and setter; a key the
/// codec refuses.
pub(super) fn codec(config: &Config) -> Result<CookieCodec, ConfigError> {
    let secret = config.secret.clone().ok_or_else(|| {
        ConfigError::new(
            ConfigErrorKind::Secret,
            "no secret: set GIMLET_SECRET, or call GimletBuilder::secret, with at least \
             32 random bytes (`openssl rand -hex 32` makes one)",
        )
    })?;
    check_secrets(&secret, &config.previous_secrets)?;
    let secrets: Vec<Secret> = std::iter::once(secret)
        .chain(config.previous_secrets.iter().cloned())
        .collect();
    let keys: Vec<EncryptionKey> = config
        .encryption_key
        .iter()
        .chain(&config.previous_encryption_keys)
        .cloned()
        .collect();
    CookieCodec::new(&secrets, &keys, config.encryption_key.is_some())
}

/// Where keys can go, and how refreshes run.
///
/// # Errors
///
/// Server-side keys by default with no backend; a refresh fraction
/// outside (0, 1].
pub(super) fn placement(config: &Config, backend: bool) -> Result<(), ConfigError> {
    if config.default_clientside == Some(false) && !backend {
        return Err(ConfigError::new(
            ConfigErrorKind::Placement,
            "default_clientside = false needs a backend to keep server-side keys in",
        ));
    }
    if config.cookie_overflow && !backend {
        return Err(ConfigError::new(
            ConfigErrorKind::Placement,
            "cookie_overflow needs a backend to keep what does not fit in the cookie",
        ));
    }
    if !(config.refresh_fraction > 0.0 && config.refresh_fraction <= 1.0) {
        return Err(ConfigError::new(
            ConfigErrorKind::Lifetime,
            "refresh_fraction must be in (0, 1]",
        ));
    }
    Ok(())
}

/// Each channel's idle and absolute lifetimes, and the longest a session
/// may be given; a warning for an idle one longer than its absolute one.
///
/// # Errors
///
/// A zero lifetime.
pub(super) fn lifetimes(config: &Config) -> Result<Lifetimes, ConfigError> {
    let lifetimes = [
        config.permanent_lifetime.as_secs(),
        config.transient_lifetime.as_secs(),
    ];
    let absolute = match config.absolute_lifetime {
        Some(both) => [both.as_secs(); 2],
        None => [
            config.permanent_absolute_lifetime.as_secs(),
            config.transient_absolute_lifetime.as_secs(),
        ],
    };
    for (kind, (idle, absolute)) in ["permanent", "transient"]
        .iter()
        .zip(lifetimes.iter().zip(absolute))
    {
        if *idle > absolute {
            tracing::warn!(
                "gimlet: the {kind} channel's idle lifetime ({idle} s) is longer than its \
                 absolute lifetime ({absolute} s), which ends every such session first"
            );
        }
    }
    let max = config.max_session_lifetime.as_secs();
    if lifetimes.contains(&0) || absolute.contains(&0) || max == 0 {
        return Err(ConfigError::new(
            ConfigErrorKind::Lifetime,
            "lifetimes must be at least one second",
        ));
    }
    Ok(Lifetimes {
        idle: lifetimes,
        absolute,
        max,
    })
}

/// Secrets long enough, each named by the setting and variable it came
/// from when it is not.
fn check_secrets(secret: &Secret, previous: &[Secret]) -> Result<(), ConfigError> {
    let short = |setting: &str, len: usize| {
        ConfigError::new(
            ConfigErrorKind::Secret,
            format!(
                "the {setting} is {len} bytes, and must be at least {MIN_SECRET_LEN} \
                 (`openssl rand -hex 32` makes one)"
            ),
        )
    };
    if secret.len() < MIN_SECRET_LEN {
        return Err(short(
            "secret (GIMLET_SECRET, GimletBuilder::secret)",
            secret.len(),
        ));
    }
    match previous.iter().find(|s| s.len() < MIN_SECRET_LEN) {
        Some(old) => Err(short(
            "previous secret (GIMLET_PREVIOUS_SECRETS, GimletBuilder::previous_secrets)",
            old.len(),
        )),
        None => Ok(()),
    }
}

/// The near cache the configuration asks for, following the store's
/// changes: none without a store, or with 0 bytes.
pub(super) fn near_cache(
    config: &Config,
    backend: Option<&dyn Backend>,
    clock: &Arc<dyn Clock>,
) -> Result<Option<Arc<NearCache>>, ConfigError> {
    if config.near_cache_bytes == 0 {
        return Ok(None);
    }
    let Some(backend) = backend else {
        return Err(ConfigError::new(
            ConfigErrorKind::Placement,
            "near_cache_bytes needs a backend whose records it keeps",
        ));
    };
    if config.near_cache_ttl.as_secs() == 0 {
        return Err(ConfigError::new(
            ConfigErrorKind::Placement,
            "near_cache_ttl must be at least one second",
        ));
    }
    let cache = Arc::new(NearCache::new(
        usize::MAX,
        config.near_cache_bytes,
        config.near_cache_ttl.as_secs(),
        clock.clone(),
    ));
    if !backend.follow_changes(&cache) {
        return Err(ConfigError::new(
            ConfigErrorKind::Placement,
            format!(
                "the {} store does not tell app servers what changes: a near cache over it \
                 could serve stale data (set near_cache_bytes to 0)",
                backend.name()
            ),
        ));
    }
    Ok(Some(cache))
}

pub(super) fn cookie(config: &Config) -> Result<(), ConfigError> {
    let c = &config.cookie;
    for name in [&c.permanent_name, &c.transient_name, &c.token_name] {
        if !valid_name(name) {
            return Err(cookie_error(format!("`{name}` is not a valid cookie name")));
        }
    }
    if c.permanent_name == c.transient_name
        || c.token_name == c.permanent_name
        || c.token_name == c.transient_name
    {
        return Err(cookie_error("the cookie names must differ"));
    }
    if c.host_prefix == Some(true) && (!c.secure || c.path != "/" || c.domain.is_some()) {
        return Err(cookie_error(
            "the __Host- prefix needs Secure, Path=/ and no Domain",
        ));
    }
    if c.same_site == SameSite::None && !c.secure {
        return Err(cookie_error("SameSite=None needs Secure"));
    }
    if !valid_path(&c.path) {
        return Err(cookie_error(
            "the cookie path must start with / and hold no ;",
        ));
    }
    if let Some(domain) = &c.domain
        && !valid_domain(domain)
    {
        return Err(cookie_error(format!(
            "`{domain}` is not a valid cookie domain"
        )));
    }
    if c.max_size < 256 {
        return Err(cookie_error(
            "the cookie size limit must be at least 256 bytes",
        ));
    }
    Ok(())
}

fn cookie_error(message: impl Into<String>) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Cookie, message)
}
