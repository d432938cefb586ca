//! The one builder every adapter is configured with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, NearCache, Revocations};
use crate::config::SameSite;
use crate::cookie::CookieCodec;
use crate::cookie::{CookieJar, VerifiedCookies};
use crate::engine::Engine;
use crate::error::ConfigErrorKind;
use crate::key::KeySet;
use crate::{
    Clock, Config, ConfigError, EncryptionKey, Gimlet, Key, Placement, Secret, SystemClock,
};

/// Builds a [`Gimlet`]. Its only required input is a secret.
///
/// Every setting of [`Config`] has a setter here; [`GimletBuilder::config`]
/// takes a whole `Config` (from serde or the environment) at once.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use gimlet_core::{Config, Gimlet, MemoryBackend};
///
/// # fn main() -> Result<(), gimlet_core::ConfigError> {
/// let gimlet = Gimlet::builder()
///     .config(Config::from_env()?)
///     .secret("read this from a secret store, not the source")
///     .backend(MemoryBackend::new())
///     .clientside_keys(["user_id", "cart_id"])
///     .permanent_keys(["remember_me"])
///     .permanent_lifetime(Duration::from_secs(90 * 24 * 3600))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct GimletBuilder {
    config: Config,
    backend: Option<Arc<dyn Backend>>,
    clock: Arc<dyn Clock>,
    /// Keys declared with [`GimletBuilder::key`], added to the whitelists
    /// at build time.
    declared: Vec<(&'static str, Placement)>,
}

impl fmt::Debug for GimletBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GimletBuilder")
            .field("config", &self.config)
            .field("backend", &self.backend)
            .field("clock", &self.clock)
            .field("declared", &self.declared)
            .finish()
    }
}

impl Default for GimletBuilder {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! cookie_setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.cookie.$name = value.into();
            self
        }
    };
}

impl GimletBuilder {
    /// The defaults of [`Config`], no backend, the system clock.
    pub fn new() -> Self {
        GimletBuilder {
            config: Config::default(),
            backend: None,
            clock: Arc::new(SystemClock),
            declared: Vec::new(),
        }
    }

    /// Replaces every setting with `config`'s.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The signing secret, at least 32 bytes.
    #[must_use]
    pub fn secret(mut self, secret: impl Into<Secret>) -> Self {
        self.config.secret = Some(secret.into());
        self
    }

    /// Older secrets that still verify cookies, which are then issued again
    /// under [`secret`](Self::secret).
    #[must_use]
    pub fn previous_secrets<S: Into<Secret>>(
        mut self,
        secrets: impl IntoIterator<Item = S>,
    ) -> Self {
        self.config.previous_secrets = secrets.into_iter().map(Into::into).collect();
        self
    }

    /// Encrypts cookies with AES-256-GCM under this key. Without it cookies
    /// are signed, so their clientside values are readable by the client.
    #[must_use]
    pub fn encryption_key(mut self, key: EncryptionKey) -> Self {
        self.config.encryption_key = Some(key);
        self
    }

    /// Older encryption keys that still decrypt.
    #[must_use]
    pub fn previous_encryption_keys(
        mut self,
        keys: impl IntoIterator<Item = EncryptionKey>,
    ) -> Self {
        self.config.previous_encryption_keys = keys.into_iter().collect();
        self
    }

    /// The session store. Without one, every key lives in the cookie.
    #[must_use]
    pub fn backend(mut self, backend: impl Backend) -> Self {
        self.backend = Some(Arc::new(backend));
        self
    }

    /// The session store, shared.
    #[must_use]
    pub fn shared_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The clock; tests use a [`ManualClock`](crate::testing::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Keys that always live in the cookie.
    #[must_use]
    pub fn clientside_keys<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.config.clientside_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Declares a typed key: a clientside one joins the clientside
    /// whitelist, a permanent one the permanent whitelist (at build time, so
    /// whatever the order of the other settings). Calls with the key use its
    /// place anyway; the whitelists make calls that name it by its string
    /// agree.
    #[must_use]
    pub fn key<T: ?Sized>(mut self, key: Key<T>) -> Self {
        self.declared.push((key.name(), key.placement()));
        self
    }

    /// Keys that go to the permanent channel unless a call says otherwise.
    #[must_use]
    pub fn permanent_keys<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.config.permanent_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Where keys go when neither the call nor the whitelist decides.
    #[must_use]
    pub fn default_clientside(mut self, clientside: bool) -> Self {
        self.config.default_clientside = Some(clientside);
        self
    }

    /// Whether keys are permanent when neither the call nor the whitelist
    /// decides.
    #[must_use]
    pub fn default_permanent(mut self, permanent: bool) -> Self {
        self.config.default_permanent = permanent;
        self
    }

    /// ChannelKind of the permanent channel.
    #[must_use]
    pub fn permanent_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.permanent_lifetime = lifetime;
        self
    }

    /// Idle lifetime of the transient channel.
    #[must_use]
    pub fn transient_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.transient_lifetime = lifetime;
        self
    }

    /// A limit from creation that refreshes cannot extend, for both
    /// channels (by default 90 days for the permanent one, 12 hours for the
    /// other).
    #[must_use]
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.absolute_lifetime = Some(lifetime);
        self
    }

    /// The permanent channel's absolute lifetime (default 90 days).
    #[must_use]
    pub fn permanent_absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.permanent_absolute_lifetime = lifetime;
        self
    }

    /// The transient channel's absolute lifetime (default 12 hours).
    #[must_use]
    pub fn transient_absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.transient_absolute_lifetime = lifetime;
        self
    }

    /// How long a cookie is trusted after its record was last seen to exist
    /// (default 300 seconds; zero checks on every use). See
    /// [`Config::revalidate_after`].
    #[must_use]
    pub fn revalidate_after(mut self, window: Duration) -> Self {
        self.config.revalidate_after = window;
        self
    }

    /// Whether every new channel gets a record, so that its cookie can be
    /// revoked (default `true`). See [`Config::revocable`].
    #[must_use]
    pub fn revocable(mut self, revocable: bool) -> Self {
        self.config.revocable = revocable;
        self
    }

    /// Whether requests answered with a 5xx commit their changes (default
    /// `false`).
    #[must_use]
    pub fn commit_failed_requests(mut self, commit: bool) -> Self {
        self.config.commit_failed_requests = commit;
        self
    }

    /// How far into its lifetime a channel is refreshed (0 to 1).
    #[must_use]
    pub fn refresh_fraction(mut self, fraction: f64) -> Self {
        self.config.refresh_fraction = fraction;
        self
    }

    /// The largest serialized server-side value, in bytes.
    #[must_use]
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.config.max_value_size = bytes;
        self
    }

    /// The most server-side data one channel may hold, keys' names and
    /// values, in bytes (default: no limit). An insert past it fails with
    /// [`Error::SessionTooLarge`](crate::Error::SessionTooLarge); the
    /// check loads the session first if the request has not.
    #[must_use]
    pub fn max_session_bytes(mut self, bytes: usize) -> Self {
        self.config.max_session_bytes = Some(bytes);
        self
    }

    /// How many bytes of verified cookie values to remember by their exact
    /// bytes, so that a browser's next requests with the same cookie skip
    /// its MAC (default 4 MiB; 0 verifies every value every time).
    #[must_use]
    pub fn cookie_cache_bytes(mut self, bytes: usize) -> Self {
        self.config.cookie_cache_bytes = bytes;
        self
    }

    /// How many bytes of server records to keep on this app server, so
    /// that a browser's next reads skip the store (default 0: none). The
    /// store must tell every app server what changes
    /// ([`Backend::follow_changes`]): `build` fails otherwise. See
    /// [`Config::near_cache_bytes`].
    #[must_use]
    pub fn near_cache_bytes(mut self, bytes: usize) -> Self {
        self.config.near_cache_bytes = bytes;
        self
    }

    /// The longest a near-cached record is kept (default 30 seconds).
    #[must_use]
    pub fn near_cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.near_cache_ttl = ttl;
        self
    }

    /// The most channels one owner may have (default: no limit): a
    /// `set_owner` that would make one more fails with
    /// [`Error::TooManySessions`](crate::Error::TooManySessions), after one
    /// read of the owner's index.
    #[must_use]
    pub fn max_sessions_per_owner(mut self, channels: usize) -> Self {
        self.config.max_sessions_per_owner = Some(channels);
        self
    }

    cookie_setter!(
        /// Name of the permanent channel's cookie.
        permanent_name: impl Into<String>
    );
    cookie_setter!(
        /// Name of the transient channel's cookie.
        transient_name: impl Into<String>
    );
    cookie_setter!(
        /// Name of the write-token cookie a near cache sets.
        token_name: impl Into<String>
    );
    cookie_setter!(
        /// The `Secure` attribute (default `true`).
        secure: bool
    );
    cookie_setter!(
        /// The `HttpOnly` attribute (default `true`).
        http_only: bool
    );
    cookie_setter!(
        /// The `SameSite` attribute (default `Lax`).
        same_site: SameSite
    );
    cookie_setter!(
        /// The `Path` attribute (default `/`).
        path: impl Into<String>
    );
    cookie_setter!(
        /// Prefix the cookie names with `__Host-`.
        host_prefix: bool
    );
    cookie_setter!(
        /// The largest `Set-Cookie` value to send (default 4096).
        max_size: usize
    );

    /// The `Domain` attribute.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config.cookie.domain = Some(domain.into());
        self
    }

    /// Checks the configuration and derives the keys.
    ///
    /// # Errors
    ///
    /// A missing or short secret, an explicit `default_clientside(false)`
    /// with no backend, a bad cookie name, `__Host-` without `Secure` and
    /// `Path=/`, `SameSite=None` without `Secure`, a zero lifetime, or a
    /// refresh fraction outside (0, 1].
    pub fn build(self) -> Result<Gimlet, ConfigError> {
        let GimletBuilder {
            mut config,
            backend,
            clock,
            declared,
        } = self;
        for (name, placement) in declared {
            if placement.clientside == Some(true) {
                config.clientside_keys.insert(name.to_owned());
            }
            if placement.permanent == Some(true) {
                config.permanent_keys.insert(name.to_owned());
            }
        }
        let secret = config.secret.clone().ok_or_else(|| {
            ConfigError::new(
                ConfigErrorKind::Secret,
                "a secret is required (GIMLET_SECRET)",
            )
        })?;
        let secrets: Vec<Secret> = std::iter::once(secret)
            .chain(config.previous_secrets.iter().cloned())
            .collect();
        let keys: Vec<EncryptionKey> = config
            .encryption_key
            .iter()
            .chain(&config.previous_encryption_keys)
            .cloned()
            .collect();
        let codec = CookieCodec::new(&secrets, &keys, config.encryption_key.is_some())?;

        if config.default_clientside == Some(false) && backend.is_none() {
            return Err(ConfigError::new(
                ConfigErrorKind::Placement,
                "default_clientside = false needs a backend to keep server-side keys in",
            ));
        }
        if !(config.refresh_fraction > 0.0 && config.refresh_fraction <= 1.0) {
            return Err(ConfigError::new(
                ConfigErrorKind::ChannelKind,
                "refresh_fraction must be in (0, 1]",
            ));
        }
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
        if lifetimes.contains(&0) || absolute.contains(&0) {
            return Err(ConfigError::new(
                ConfigErrorKind::ChannelKind,
                "lifetimes must be at least one second",
            ));
        }
        check_cookie(&config)?;

        let near = config.near_cache_bytes > 0;
        let cookies = CookieJar::new(config.cookie.clone(), lifetimes[0], near);
        let default_clientside = config.default_clientside.unwrap_or(backend.is_none());
        let revocations = Arc::new(Revocations::new(
            config.revalidate_after.as_secs(),
            clock.clone(),
        ));
        if let Some(backend) = &backend {
            backend.subscribe(&revocations);
        }
        let near_cache = near_cache(&config, backend.as_deref(), &clock)?;
        let engine = Engine {
            codec,
            backend,
            clock,
            cookies,
            clientside_keys: KeySet::from(&config.clientside_keys),
            permanent_keys: KeySet::from(&config.permanent_keys),
            default_clientside,
            default_permanent: config.default_permanent,
            lifetimes,
            absolute,
            revalidate_after: config.revalidate_after.as_secs(),
            revocations,
            near_cache,
            revocable: config.revocable,
            commit_failed_requests: config.commit_failed_requests,
            refresh_fraction: config.refresh_fraction,
            max_value_size: config.max_value_size,
            max_session_bytes: config.max_session_bytes,
            verified: [(); 2].map(|()| VerifiedCookies::new(config.cookie_cache_bytes / 2)),
            max_sessions_per_owner: config.max_sessions_per_owner,
        };
        Ok(Gimlet {
            engine: Arc::new(engine),
        })
    }
}

/// The near cache the configuration asks for, following the store's
/// changes: none without a store, or with 0 bytes.
fn near_cache(
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

fn check_cookie(config: &Config) -> Result<(), ConfigError> {
    let c = &config.cookie;
    for name in [&c.permanent_name, &c.transient_name, &c.token_name] {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !token {
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
    if !c.path.starts_with('/') || c.path.contains(';') {
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

/// A host name, with an optional leading dot: dot-separated labels of 1 to
/// 63 letters, digits and inner hyphens, 253 characters at most.
fn valid_domain(domain: &str) -> bool {
    let name = domain.strip_prefix('.').unwrap_or(domain);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
