//! The configuration: plain data that serde, the environment and the builder
//! all fill in the same way.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::{ConfigError, EncryptionKey, Secret};

/// The `SameSite` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`, the default.
    #[default]
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

/// Cookie names and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CookieConfig {
    /// Name of the permanent channel's cookie. Default `gimlet-p`.
    pub permanent_name: String,
    /// Name of the non-permanent channel's cookie. Default `gimlet-n`.
    pub transient_name: String,
    /// The `Secure` attribute. Default `true`.
    pub secure: bool,
    /// The `HttpOnly` attribute. Default `true`.
    pub http_only: bool,
    /// The `SameSite` attribute. Default `Lax`.
    pub same_site: SameSite,
    /// The `Path` attribute. Default `/`.
    pub path: String,
    /// The `Domain` attribute. Default none (host-only).
    pub domain: Option<String>,
    /// Prefix both names with `__Host-`, which makes browsers insist on
    /// `Secure`, `Path=/` and no `Domain`. Unset (the default) means on
    /// whenever those three hold, which they do by default; `Some(true)`
    /// insists on it (the builder refuses other attributes), `Some(false)`
    /// keeps the plain names.
    pub host_prefix: Option<bool>,
    /// The largest complete `Set-Cookie` value Gimlet will send. Default 4096.
    pub max_size: usize,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            permanent_name: "gimlet-p".into(),
            transient_name: "gimlet-n".into(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            path: "/".into(),
            domain: None,
            host_prefix: None,
            max_size: 4096,
        }
    }
}

/// Everything Gimlet can be told, except the backend and the clock.
///
/// Fill it with [`GimletBuilder`](crate::GimletBuilder)'s setters, from a
/// config file through serde (a `[gimlet]` table, or Rocket's figment), or
/// from `GIMLET_*` environment variables with [`Config::from_env`]. Durations
/// are whole seconds in serde and in the environment.
///
/// `Debug` prints no secret material.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gimlet_core::Config;
///
/// let config = Config::from_lookup(|name| match name {
///     "GIMLET_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
///     "GIMLET_CLIENTSIDE_KEYS" => Some("user_id, cart_id".into()),
///     _ => None,
/// })?;
/// assert!(config.clientside_keys.contains("cart_id"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The signing secret (required, at least 32 bytes).
    pub secret: Option<Secret>,
    /// Older secrets that still verify, for key rotation.
    pub previous_secrets: Vec<Secret>,
    /// Setting it turns encryption on.
    pub encryption_key: Option<EncryptionKey>,
    /// Older encryption keys that still decrypt.
    pub previous_encryption_keys: Vec<EncryptionKey>,
    /// Cookie names and attributes.
    pub cookie: CookieConfig,
    /// Keys that always live in the cookie.
    pub clientside_keys: BTreeSet<String>,
    /// Keys that go to the permanent channel unless a call says otherwise.
    pub permanent_keys: BTreeSet<String>,
    /// Where keys go when neither the call nor a whitelist decides. Unset
    /// means clientside with no backend and server-side with one.
    pub default_clientside: Option<bool>,
    /// Whether keys are permanent when neither the call nor a whitelist
    /// decides. Default `false`.
    pub default_permanent: bool,
    /// Lifetime of the permanent channel, renewed by refreshes: the cookie's
    /// `Max-Age` and the record's TTL. Default 30 days.
    #[serde(deserialize_with = "seconds")]
    pub permanent_lifetime: Duration,
    /// Idle lifetime of the non-permanent channel, whose cookie lasts for the
    /// browser session. Default 1 day.
    #[serde(deserialize_with = "seconds")]
    pub transient_lifetime: Duration,
    /// A limit counted from a channel's creation that refreshes cannot
    /// extend, for both channels: when set, it overrides the two settings
    /// below. Default unset.
    #[serde(deserialize_with = "optional_seconds")]
    pub absolute_lifetime: Option<Duration>,
    /// The permanent channel's absolute lifetime, counted from its creation.
    /// Default 90 days.
    #[serde(deserialize_with = "seconds")]
    pub permanent_absolute_lifetime: Duration,
    /// The non-permanent channel's absolute lifetime, counted from its
    /// creation. Default 12 hours.
    #[serde(deserialize_with = "seconds")]
    pub transient_absolute_lifetime: Duration,
    /// With a backend: how long a cookie is trusted after its record was
    /// last seen to exist. Once it is older, the first use of the session
    /// checks the record again (one round trip, or none if a load happens
    /// anyway), so a session ended on the server stops working in every
    /// copy of its cookies within this window. Zero checks on every request
    /// that uses the session. Default 300 seconds.
    #[serde(deserialize_with = "seconds")]
    pub revalidate_after: Duration,
    /// With a backend: every channel gets a record when it is created, even
    /// one that holds only clientside keys, so that its cookie can be
    /// revoked. `false` saves that one write per new channel, and leaves
    /// cookies without a record valid until they expire. Default `true`.
    pub revocable: bool,
    /// Commit the changes of requests whose response is a server error
    /// (5xx). Default `false`: a failed request leaves the session as it
    /// was.
    pub commit_failed_requests: bool,
    /// How far into its lifetime a channel is refreshed, between 0 and 1.
    /// Default 0.5.
    pub refresh_fraction: f64,
    /// The largest serialized server-side value, in bytes. Default 1 MiB.
    pub max_value_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secret: None,
            previous_secrets: Vec::new(),
            encryption_key: None,
            previous_encryption_keys: Vec::new(),
            cookie: CookieConfig::default(),
            clientside_keys: BTreeSet::new(),
            permanent_keys: BTreeSet::new(),
            default_clientside: None,
            default_permanent: false,
            permanent_lifetime: Duration::from_secs(30 * 24 * 3600),
            transient_lifetime: Duration::from_secs(24 * 3600),
            absolute_lifetime: None,
            permanent_absolute_lifetime: Duration::from_secs(90 * 24 * 3600),
            transient_absolute_lifetime: Duration::from_secs(12 * 3600),
            revalidate_after: Duration::from_secs(300),
            revocable: true,
            commit_failed_requests: false,
            refresh_fraction: 0.5,
            max_value_size: 1 << 20,
        }
    }
}

fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

fn optional_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<u64>::deserialize(d).map(|s| s.map(Duration::from_secs))
}

impl Config {
    /// The defaults, overridden by whatever `GIMLET_*` variables are set.
    /// `docs/configuration.md` lists them.
    ///
    /// # Errors
    ///
    /// A variable that does not parse. A missing secret is only reported by
    /// [`GimletBuilder::build`](crate::GimletBuilder::build).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], reading variables through `lookup`.
    ///
    /// # Errors
    ///
    /// A variable that does not parse.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        config.apply_env(lookup)?;
        Ok(config)
    }

    /// Overrides these settings with whatever `GIMLET_*` variables `lookup`
    /// knows.
    ///
    /// # Errors
    ///
    /// A variable that does not parse.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("GIMLET_SECRET") {
            self.secret = Some(Secret::from(v));
        }
        if let Some(v) = get("GIMLET_PREVIOUS_SECRETS") {
            self.previous_secrets = list(&v).map(Secret::from).collect();
        }
        if let Some(v) = get("GIMLET_ENCRYPTION_KEY") {
            self.encryption_key = Some(EncryptionKey::from_hex(&v)?);
        }
        if let Some(v) = get("GIMLET_PREVIOUS_ENCRYPTION_KEYS") {
            self.previous_encryption_keys = list(&v)
                .map(EncryptionKey::from_hex)
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("GIMLET_CLIENTSIDE_KEYS") {
            self.clientside_keys = list(&v).map(str::to_owned).collect();
        }
        if let Some(v) = get("GIMLET_PERMANENT_KEYS") {
            self.permanent_keys = list(&v).map(str::to_owned).collect();
        }
        if let Some(v) = get("GIMLET_DEFAULT_CLIENTSIDE") {
            self.default_clientside = Some(flag("GIMLET_DEFAULT_CLIENTSIDE", &v)?);
        }
        if let Some(v) = get("GIMLET_DEFAULT_PERMANENT") {
            self.default_permanent = flag("GIMLET_DEFAULT_PERMANENT", &v)?;
        }
        let cookie = &mut self.cookie;
        if let Some(v) = get("GIMLET_PERMANENT_COOKIE") {
            cookie.permanent_name = v;
        }
        if let Some(v) = get("GIMLET_TRANSIENT_COOKIE") {
            cookie.transient_name = v;
        }
        if let Some(v) = get("GIMLET_SECURE") {
            cookie.secure = flag("GIMLET_SECURE", &v)?;
        }
        if let Some(v) = get("GIMLET_HTTP_ONLY") {
            cookie.http_only = flag("GIMLET_HTTP_ONLY", &v)?;
        }
        if let Some(v) = get("GIMLET_SAME_SITE") {
            cookie.same_site = match v.trim().to_ascii_lowercase().as_str() {
                "strict" => SameSite::Strict,
                "lax" => SameSite::Lax,
                "none" => SameSite::None,
                _ => return Err(ConfigError::new("GIMLET_SAME_SITE is strict, lax or none")),
            };
        }
        if let Some(v) = get("GIMLET_COOKIE_PATH") {
            cookie.path = v;
        }
        if let Some(v) = get("GIMLET_COOKIE_DOMAIN") {
            cookie.domain = Some(v);
        }
        if let Some(v) = get("GIMLET_HOST_PREFIX") {
            cookie.host_prefix = Some(flag("GIMLET_HOST_PREFIX", &v)?);
        }
        if let Some(v) = get("GIMLET_COOKIE_MAX_SIZE") {
            cookie.max_size = number("GIMLET_COOKIE_MAX_SIZE", &v)?;
        }
        if let Some(v) = get("GIMLET_PERMANENT_LIFETIME") {
            self.permanent_lifetime = Duration::from_secs(number("GIMLET_PERMANENT_LIFETIME", &v)?);
        }
        if let Some(v) = get("GIMLET_TRANSIENT_LIFETIME") {
            self.transient_lifetime = Duration::from_secs(number("GIMLET_TRANSIENT_LIFETIME", &v)?);
        }
        if let Some(v) = get("GIMLET_ABSOLUTE_LIFETIME") {
            self.absolute_lifetime =
                Some(Duration::from_secs(number("GIMLET_ABSOLUTE_LIFETIME", &v)?));
        }
        if let Some(v) = get("GIMLET_PERMANENT_ABSOLUTE_LIFETIME") {
            self.permanent_absolute_lifetime =
                Duration::from_secs(number("GIMLET_PERMANENT_ABSOLUTE_LIFETIME", &v)?);
        }
        if let Some(v) = get("GIMLET_TRANSIENT_ABSOLUTE_LIFETIME") {
            self.transient_absolute_lifetime =
                Duration::from_secs(number("GIMLET_TRANSIENT_ABSOLUTE_LIFETIME", &v)?);
        }
        if let Some(v) = get("GIMLET_REVALIDATE_AFTER") {
            self.revalidate_after = Duration::from_secs(number("GIMLET_REVALIDATE_AFTER", &v)?);
        }
        if let Some(v) = get("GIMLET_REVOCABLE") {
            self.revocable = flag("GIMLET_REVOCABLE", &v)?;
        }
        if let Some(v) = get("GIMLET_COMMIT_FAILED_REQUESTS") {
            self.commit_failed_requests = flag("GIMLET_COMMIT_FAILED_REQUESTS", &v)?;
        }
        if let Some(v) = get("GIMLET_REFRESH_FRACTION") {
            self.refresh_fraction = v
                .trim()
                .parse()
                .map_err(|_| ConfigError::new("GIMLET_REFRESH_FRACTION is a number"))?;
        }
        if let Some(v) = get("GIMLET_MAX_VALUE_SIZE") {
            self.max_value_size = number("GIMLET_MAX_VALUE_SIZE", &v)?;
        }
        Ok(())
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn flag(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(format!("{name} is 0 or 1"))),
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(format!("{name} is a whole number")))
}
