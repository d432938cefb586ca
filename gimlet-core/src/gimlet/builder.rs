//! The one builder every adapter is configured with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::checks;
use super::layers::{self, Environment, Setter};
use crate::backend::{Backend, Revocations};
use crate::config::SameSite;
use crate::cookie::{CookieJar, TransportWatch, VerifiedCookies};
use crate::engine::Engine;
use crate::import::Import;
use crate::key::KeySet;
use crate::{
    Clock, Config, ConfigError, EncryptionKey, Gimlet, Key, Placement, Secret, SystemClock,
};

/// Builds a [`Gimlet`]. Its only required input is a secret.
///
/// Every setting of [`Config`] has a setter here. Settings come from three
/// layers, and the rule is the same for each setting:
///
/// 1. **the setters** win, whatever the order of the calls;
/// 2. then the **`GIMLET_*` environment variables** fill what the setters
///    left open (read by [`build`](Self::build): an app picks them up
///    without asking; [`without_env`](Self::without_env) turns this off);
/// 3. then [`config`](Self::config)'s `Config` (from a file, say), or the
///    defaults.
///
/// `build` logs which variables it used, and warns of each one a setter
/// overrides, so that neither layer is ever ignored in silence.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use gimlet_core::{Gimlet, MemoryBackend};
///
/// # fn main() -> Result<(), gimlet_core::ConfigError> {
/// let gimlet = Gimlet::builder()
///     .secret("read this from a secret store, not the source")
///     .backend(MemoryBackend::new())
///     .clientside_keys(["user_id", "cart_id"])
///     .permanent_keys(["remember_me"])
///     .permanent_lifetime(Duration::from_secs(90 * 24 * 3600))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct GimletBuilder {
    /// The lowest layer: the defaults, or [`GimletBuilder::config`]'s.
    config: Config,
    /// Where `GIMLET_*` variables come from.
    environment: Environment,
    /// The setters called, in order: the top layer.
    code: Vec<Setter>,
    backend: Option<Arc<dyn Backend>>,
    clock: Arc<dyn Clock>,
    /// Keys declared with [`GimletBuilder::key`], added to the whitelists
    /// at build time.
    declared: Vec<(&'static str, Placement)>,
    /// Another library's sessions, imported on first use.
    import: Option<Import>,
}

impl fmt::Debug for GimletBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let environment = self.environment.name();
        let code: Vec<&str> = self.code.iter().map(|s| s.setting).collect();
        f.debug_struct("GimletBuilder")
            .field("config", &self.config)
            .field("environment", &environment)
            .field("code", &code)
            .field("backend", &self.backend)
            .field("clock", &self.clock)
            .field("declared", &self.declared)
            .field("import", &self.import)
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
        pub fn $name(self, value: $ty) -> Self {
            let value = value.into();
            self.set(concat!("cookie.", stringify!($name)), move |c| {
            c.cookie.$name = value;
        })
        }
    };
}

impl GimletBuilder {
    /// The defaults of [`Config`], no backend, the system clock.
    pub fn new() -> Self {
        GimletBuilder {
            config: Config::default(),
            environment: Environment::Process,
            code: Vec::new(),
            backend: None,
            clock: Arc::new(SystemClock),
            declared: Vec::new(),
            import: None,
        }
    }

    /// Puts `config` under the other layers, in place of the defaults:
    /// the environment fills over it, and the setters win over both,
    /// whether they are called before this or after.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Reads `GIMLET_*` variables through `lookup` instead of the
    /// process's environment.
    #[must_use]
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.environment = Environment::Lookup(Box::new(lookup));
        self
    }

    /// Reads no `GIMLET_*` variables: the setters and
    /// [`config`](Self::config) are all there is (tests, or an app that
    /// keeps its settings elsewhere).
    #[must_use]
    pub fn without_env(mut self) -> Self {
        self.environment = Environment::None;
        self
    }

    /// Records a setter's change to `setting`.
    fn set(
        mut self,
        setting: &'static str,
        apply: impl FnOnce(&mut Config) + Send + Sync + 'static,
    ) -> Self {
        self.code.push(Setter {
            setting,
            apply: Box::new(apply),
        });
        self
    }

    /// The signing secret, at least 32 bytes.
    #[must_use]
    pub fn secret(self, secret: impl Into<Secret>) -> Self {
        let value = Some(secret.into());
        self.set("secret", move |c| {
            c.secret = value;
        })
    }

    /// Older secrets that still verify cookies, which are then issued again
    /// under [`secret`](Self::secret).
    #[must_use]
    pub fn previous_secrets<S: Into<Secret>>(self, secrets: impl IntoIterator<Item = S>) -> Self {
        let value = secrets.into_iter().map(Into::into).collect();
        self.set("previous_secrets", move |c| {
            c.previous_secrets = value;
        })
    }

    /// Encrypts cookies with AES-256-GCM under this key. Without it cookies
    /// are signed, so their clientside values are readable by the client.
    #[must_use]
    pub fn encryption_key(self, key: EncryptionKey) -> Self {
        let value = Some(key);
        self.set("encryption_key", move |c| {
            c.encryption_key = value;
        })
    }

    /// Older encryption keys that still decrypt.
    #[must_use]
    pub fn previous_encryption_keys(self, keys: impl IntoIterator<Item = EncryptionKey>) -> Self {
        let value = keys.into_iter().collect();
        self.set("previous_encryption_keys", move |c| {
            c.previous_encryption_keys = value;
        })
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

    /// Import another library's sessions on first use: a request with no
    /// Gimlet cookie but the peer's has the peer's session copied into a
    /// fresh Gimlet session, and the peer's cookie removed. See [`Import`].
    #[must_use]
    pub fn import(mut self, import: Import) -> Self {
        self.import = Some(import);
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
    pub fn clientside_keys<K: Into<String>>(self, keys: impl IntoIterator<Item = K>) -> Self {
        let value = keys.into_iter().map(Into::into).collect();
        self.set("clientside_keys", move |c| {
            c.clientside_keys = value;
        })
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
    pub fn permanent_keys<K: Into<String>>(self, keys: impl IntoIterator<Item = K>) -> Self {
        let value = keys.into_iter().map(Into::into).collect();
        self.set("permanent_keys", move |c| {
            c.permanent_keys = value;
        })
    }

    /// Where keys go when neither the call nor the whitelist decides.
    #[must_use]
    pub fn default_clientside(self, clientside: bool) -> Self {
        let value = Some(clientside);
        self.set("default_clientside", move |c| {
            c.default_clientside = value;
        })
    }

    /// Whether keys are permanent when neither the call nor the whitelist
    /// decides.
    #[must_use]
    pub fn default_permanent(self, permanent: bool) -> Self {
        let value = permanent;
        self.set("default_permanent", move |c| {
            c.default_permanent = value;
        })
    }

    /// Idle lifetime of the permanent channel.
    #[must_use]
    pub fn permanent_lifetime(self, lifetime: Duration) -> Self {
        let value = lifetime;
        self.set("permanent_lifetime", move |c| {
            c.permanent_lifetime = value;
        })
    }

    /// Idle lifetime of the transient channel.
    #[must_use]
    pub fn transient_lifetime(self, lifetime: Duration) -> Self {
        let value = lifetime;
        self.set("transient_lifetime", move |c| {
            c.transient_lifetime = value;
        })
    }

    /// A limit from creation that refreshes cannot extend, for both
    /// channels (by default 90 days for the permanent one, 12 hours for the
    /// other).
    #[must_use]
    pub fn absolute_lifetime(self, lifetime: Duration) -> Self {
        let value = Some(lifetime);
        self.set("absolute_lifetime", move |c| {
            c.absolute_lifetime = value;
        })
    }

    /// The permanent channel's absolute lifetime (default 90 days).
    #[must_use]
    pub fn permanent_absolute_lifetime(self, lifetime: Duration) -> Self {
        let value = lifetime;
        self.set("permanent_absolute_lifetime", move |c| {
            c.permanent_absolute_lifetime = value;
        })
    }

    /// The transient channel's absolute lifetime (default 12 hours).
    #[must_use]
    pub fn transient_absolute_lifetime(self, lifetime: Duration) -> Self {
        let value = lifetime;
        self.set("transient_absolute_lifetime", move |c| {
            c.transient_absolute_lifetime = value;
        })
    }

    /// The longest lifetime a session may be given of its own (default 400
    /// days). See [`Config::max_session_lifetime`].
    #[must_use]
    pub fn max_session_lifetime(self, lifetime: Duration) -> Self {
        let value = lifetime;
        self.set("max_session_lifetime", move |c| {
            c.max_session_lifetime = value;
        })
    }

    /// How long a cookie is trusted after its record was last seen to exist
    /// (default 300 seconds; zero checks on every use). See
    /// [`Config::revalidate_after`].
    #[must_use]
    pub fn revalidate_after(self, window: Duration) -> Self {
        let value = window;
        self.set("revalidate_after", move |c| {
            c.revalidate_after = value;
        })
    }

    /// Whether every new channel gets a record, so that its cookie can be
    /// revoked (default `true`). See [`Config::revocable`].
    #[must_use]
    pub fn revocable(self, revocable: bool) -> Self {
        let value = revocable;
        self.set("revocable", move |c| {
            c.revocable = value;
        })
    }

    /// Whether requests answered with a 5xx commit their changes (default
    /// `false`).
    #[must_use]
    pub fn commit_failed_requests(self, commit: bool) -> Self {
        let value = commit;
        self.set("commit_failed_requests", move |c| {
            c.commit_failed_requests = value;
        })
    }

    /// How far into its lifetime a channel is refreshed (0 to 1).
    #[must_use]
    pub fn refresh_fraction(self, fraction: f64) -> Self {
        let value = fraction;
        self.set("refresh_fraction", move |c| {
            c.refresh_fraction = value;
        })
    }

    /// The largest serialized server-side value, in bytes.
    #[must_use]
    pub fn max_value_size(self, bytes: usize) -> Self {
        let value = bytes;
        self.set("max_value_size", move |c| {
            c.max_value_size = value;
        })
    }

    /// The most server-side data one channel may hold, keys' names and
    /// values, in bytes (default: no limit). An insert past it fails with
    /// [`Error::SessionTooLarge`](crate::Error::SessionTooLarge); the
    /// check loads the session first if the request has not.
    #[must_use]
    pub fn max_session_bytes(self, bytes: usize) -> Self {
        let value = Some(bytes);
        self.set("max_session_bytes", move |c| {
            c.max_session_bytes = value;
        })
    }

    /// With a backend, keeps a clientside value that would make its cookie
    /// too large in the store instead of refusing it (default `false`). See
    /// [`Config::cookie_overflow`].
    #[must_use]
    pub fn cookie_overflow(self, overflow: bool) -> Self {
        let value = overflow;
        self.set("cookie_overflow", move |c| {
            c.cookie_overflow = value;
        })
    }

    /// How many bytes of verified cookie values to remember by their exact
    /// bytes, so that a browser's next requests with the same cookie skip
    /// its MAC (default 4 MiB; 0 verifies every value every time).
    #[must_use]
    pub fn cookie_cache_bytes(self, bytes: usize) -> Self {
        let value = bytes;
        self.set("cookie_cache_bytes", move |c| {
            c.cookie_cache_bytes = value;
        })
    }

    /// How many bytes of server records to keep on this app server, so
    /// that a browser's next reads skip the store (default 0: none). The
    /// store must tell every app server what changes
    /// ([`Backend::follow_changes`]): `build` fails otherwise. See
    /// [`Config::near_cache_bytes`].
    #[must_use]
    pub fn near_cache_bytes(self, bytes: usize) -> Self {
        let value = bytes;
        self.set("near_cache_bytes", move |c| {
            c.near_cache_bytes = value;
        })
    }

    /// The longest a near-cached record is kept (default 30 seconds).
    #[must_use]
    pub fn near_cache_ttl(self, ttl: Duration) -> Self {
        let value = ttl;
        self.set("near_cache_ttl", move |c| {
            c.near_cache_ttl = value;
        })
    }

    /// The most channels one owner may have (default: no limit): a
    /// `set_owner` that would make one more fails with
    /// [`Error::TooManySessions`](crate::Error::TooManySessions), after one
    /// read of the owner's index.
    #[must_use]
    pub fn max_sessions_per_owner(self, channels: usize) -> Self {
        let value = Some(channels);
        self.set("max_sessions_per_owner", move |c| {
            c.max_sessions_per_owner = value;
        })
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
    pub fn domain(self, domain: impl Into<String>) -> Self {
        let value = Some(domain.into());
        self.set("cookie.domain", move |c| {
            c.cookie.domain = value;
        })
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
            config,
            environment,
            code,
            backend,
            clock,
            declared,
            import,
        } = self;
        let config = layers::resolve(config, environment, code, declared)?;
        let codec = checks::codec(&config)?;
        checks::placement(&config, backend.is_some())?;
        let lifetimes = checks::lifetimes(&config)?;
        checks::cookie(&config)?;

        let near = config.near_cache_bytes > 0;
        let mut cookies = CookieJar::new(config.cookie.clone(), lifetimes.idle[0], near);
        let import = match import {
            Some(import) => {
                let importer = import.prepare(&cookies.names(), config.cookie.secure)?;
                cookies.peer(importer.cookie_name());
                Some(importer)
            }
            None => None,
        };
        let default_clientside = config.default_clientside.unwrap_or(backend.is_none());
        let revocations = Arc::new(Revocations::new(
            config.revalidate_after.as_secs(),
            clock.clone(),
        ));
        if let Some(backend) = &backend {
            backend.subscribe(&revocations);
        }
        let near_cache = checks::near_cache(&config, backend.as_deref(), &clock)?;
        let engine = Engine {
            codec,
            backend,
            clock,
            transport: TransportWatch::new(config.cookie.secure),
            cookies,
            clientside_keys: KeySet::from(&config.clientside_keys),
            permanent_keys: KeySet::from(&config.permanent_keys),
            default_clientside,
            default_permanent: config.default_permanent,
            cookie_overflow: config.cookie_overflow,
            lifetimes,
            revalidate_after: config.revalidate_after.as_secs(),
            revocations,
            near_cache,
            import,
            revocable: config.revocable,
            commit_failed_requests: config.commit_failed_requests,
            refresh_fraction: config.refresh_fraction,
            max_value_size: config.max_value_size,
            max_session_bytes: config.max_session_bytes,
            verified: [(); 2].map(|()| VerifiedCookies::new(config.cookie_cache_bytes / 2)),
            max_sessions_per_owner: config.max_sessions_per_owner,
            framework: std::sync::OnceLock::new(),
            meters: std::sync::OnceLock::new(),
        };
        Ok(Gimlet {
            engine: Arc::new(engine),
        })
    }
}
