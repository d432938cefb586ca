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
    /// Name of the transient channel's cookie. Default `gimlet-n`.
    pub transient_name: String,
    /// Name of the write-token cookie, which a near cache
    /// (`near_cache_bytes`) sets at each server-side change. Default
    /// `gimlet-w`.
    pub token_name: String,
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
    /// Prefix the names with `__Host-`, which makes browsers insist on
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
            token_name: "gimlet-w".into(),
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
///
#[doc = include_str!("../../docs/configuration.md")]
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
    /// With a backend: a clientside value that would make its cookie too
    /// large is kept in the store instead (its cookie keeps a marker, so
    /// reads find it), rather than refused with `Error::CookieTooLarge`.
    /// `Status::overflowed` counts the values a request kept so. Default
    /// `false`.
    pub cookie_overflow: bool,
    /// Idle lifetime of the permanent channel, renewed by refreshes: the cookie's
    /// `Max-Age` and the record's TTL. Default 30 days.
    #[serde(deserialize_with = "seconds")]
    pub permanent_lifetime: Duration,
    /// Idle lifetime of the transient channel, whose cookie lasts for the
    /// browser session. Default 2 hours (within its 12-hour absolute
    /// lifetime).
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
    /// The transient channel's absolute lifetime, counted from its
    /// creation. Default 12 hours.
    #[serde(deserialize_with = "seconds")]
    pub transient_absolute_lifetime: Duration,
    /// The longest lifetime, idle or absolute, that a session may be given
    /// of its own ([`Session::set_lifetime`](crate::Session::set_lifetime)).
    /// Default 400 days, the longest `Max-Age` browsers keep.
    #[serde(deserialize_with = "seconds")]
    pub max_session_lifetime: Duration,
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
    /// The most server-side data one channel may hold (its keys' names and
    /// values, in bytes), checked at each server-side insert. Default: no
    /// limit. With a limit, the first server-side insert of a request
    /// loads the session, if the request has not: one round trip.
    pub max_session_bytes: Option<usize>,
    /// The most channels one owner's index may list, checked when
    /// `Session::set_owner` makes a session the owner's: past it, the
    /// login fails with `Error::TooManySessions`. Default: no limit. With a
    /// limit, such a login reads the index: one round trip.
    pub max_sessions_per_owner: Option<usize>,
    /// How many bytes of cookie values verified before are remembered, by
    /// their exact bytes, so that a browser's next requests with the same
    /// value skip the MAC (or the decryption). Default 4 MiB; 0 verifies
    /// every value every time.
    pub cookie_cache_bytes: usize,
    /// How many bytes of server records each app server keeps near, so that
    /// a browser's next reads skip the store (default 0: none). Needs a
    /// store that tells every app server what changes
    /// (`Backend::follow_changes`); see docs/backends.md, *The near
    /// cache*.
    pub near_cache_bytes: usize,
    /// The longest a near-cached record is kept (default 30 seconds): the
    /// bound on what the store ends without a commit (expiry, eviction, a
    /// flush) staying visible.
    pub near_cache_ttl: Duration,
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
            cookie_overflow: false,
            permanent_lifetime: Duration::from_secs(30 * 24 * 3600),
            transient_lifetime: Duration::from_secs(2 * 3600),
            absolute_lifetime: None,
            permanent_absolute_lifetime: Duration::from_secs(90 * 24 * 3600),
            transient_absolute_lifetime: Duration::from_secs(12 * 3600),
            max_session_lifetime: Duration::from_secs(400 * 24 * 3600),
            revalidate_after: Duration::from_secs(300),
            revocable: true,
            commit_failed_requests: false,
            refresh_fraction: 0.5,
            max_value_size: 1 << 20,
            max_session_bytes: None,
            max_sessions_per_owner: None,
            cookie_cache_bytes: 4 << 20,
            near_cache_bytes: 0,
            near_cache_ttl: Duration::from_secs(30),
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
    /// knows ([`Config::env_vars`] lists them). An empty variable counts as
    /// unset, and a variable's current name wins over its older ones.
    ///
    /// # Errors
    ///
    /// A variable that does not parse ([`ConfigErrorKind::Environment`](crate::ConfigErrorKind::Environment)).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        crate::config::env::apply(self, lookup).map(drop)
    }

    /// Every environment variable [`Config::from_env`] reads, each with the
    /// older names it still accepts.
    pub fn env_vars() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
        crate::config::env::VARS.iter().map(|v| (v.name, v.aliases))
    }
}
