//! The `GIMLET_*` environment variables: one table, one row per setting,
//! which `Config::apply_env` reads and `docs/configuration.md` lists (a
//! test checks that the two agree).

use std::str::FromStr;
use std::time::Duration;

use crate::config::SameSite;
use crate::{Config, ConfigError, EncryptionKey, Secret};

/// One variable: its name, the older names still accepted when it is
/// unset, and how its value fills the configuration.
pub(crate) struct Var {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    /// The setting it fills: the `Config` field's path, as the builder's
    /// setters name it too.
    pub(crate) setting: &'static str,
    apply: fn(&mut Config, &Value<'_>) -> Result<(), ConfigError>,
}

/// A variable's value, with the variable's name for error messages.
struct Value<'a> {
    name: &'static str,
    text: &'a str,
}

type Applied = Result<(), ConfigError>;

fn set<T>(setting: &mut T, value: T) -> Applied {
    *setting = value;
    Ok(())
}

impl Value<'_> {
    fn text(&self) -> String {
        self.text.to_owned()
    }

    fn list(&self) -> impl Iterator<Item = &str> {
        self.text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn flag(&self) -> Result<bool, ConfigError> {
        match self.text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::variable(self.name, "is 0 or 1")),
        }
    }

    fn number<T: FromStr>(&self) -> Result<T, ConfigError> {
        let parsed = self.text.trim().parse();
        parsed.map_err(|_| ConfigError::variable(self.name, "is a whole number"))
    }

    fn seconds(&self) -> Result<Duration, ConfigError> {
        self.number().map(Duration::from_secs)
    }

    fn key(text: &str, name: &'static str) -> Result<EncryptionKey, ConfigError> {
        EncryptionKey::from_hex(text)
            .map_err(|_| ConfigError::variable(name, "is 64 hex characters"))
    }
}

/// Every variable, in the order `docs/configuration.md` lists them.
pub(crate) static VARS: &[Var] = &[
    Var {
        name: "GIMLET_SECRET",
        aliases: &[],
        setting: "secret",
        apply: |c, v| {
            c.secret = Some(Secret::from(v.text()));
            Ok(())
        },
    },
    Var {
        name: "GIMLET_PREVIOUS_SECRETS",
        aliases: &[],
        setting: "previous_secrets",
        apply: |c, v| {
            c.previous_secrets = v.list().map(Secret::from).collect();
            Ok(())
        },
    },
    Var {
        name: "GIMLET_ENCRYPTION_KEY",
        aliases: &[],
        setting: "encryption_key",
        apply: |c, v| {
            c.encryption_key = Some(Value::key(v.text, v.name)?);
            Ok(())
        },
    },
    Var {
        name: "GIMLET_PREVIOUS_ENCRYPTION_KEYS",
        aliases: &[],
        setting: "previous_encryption_keys",
        apply: |c, v| {
            let keys = v.list().map(|k| Value::key(k, v.name));
            c.previous_encryption_keys = keys.collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Var {
        name: "GIMLET_CLIENTSIDE_KEYS",
        aliases: &[],
        setting: "clientside_keys",
        apply: |c, v| {
            c.clientside_keys = v.list().map(str::to_owned).collect();
            Ok(())
        },
    },
    Var {
        name: "GIMLET_PERMANENT_KEYS",
        aliases: &[],
        setting: "permanent_keys",
        apply: |c, v| {
            c.permanent_keys = v.list().map(str::to_owned).collect();
            Ok(())
        },
    },
    Var {
        name: "GIMLET_DEFAULT_CLIENTSIDE",
        aliases: &[],
        setting: "default_clientside",
        apply: |c, v| set(&mut c.default_clientside, Some(v.flag()?)),
    },
    Var {
        name: "GIMLET_DEFAULT_PERMANENT",
        aliases: &[],
        setting: "default_permanent",
        apply: |c, v| set(&mut c.default_permanent, v.flag()?),
    },
    Var {
        name: "GIMLET_COOKIE_OVERFLOW",
        aliases: &[],
        setting: "cookie_overflow",
        apply: |c, v| set(&mut c.cookie_overflow, v.flag()?),
    },
    Var {
        name: "GIMLET_PERMANENT_LIFETIME",
        aliases: &[],
        setting: "permanent_lifetime",
        apply: |c, v| set(&mut c.permanent_lifetime, v.seconds()?),
    },
    Var {
        name: "GIMLET_TRANSIENT_LIFETIME",
        aliases: &[],
        setting: "transient_lifetime",
        apply: |c, v| set(&mut c.transient_lifetime, v.seconds()?),
    },
    Var {
        name: "GIMLET_ABSOLUTE_LIFETIME",
        aliases: &[],
        setting: "absolute_lifetime",
        apply: |c, v| set(&mut c.absolute_lifetime, Some(v.seconds()?)),
    },
    Var {
        name: "GIMLET_PERMANENT_ABSOLUTE_LIFETIME",
        aliases: &[],
        setting: "permanent_absolute_lifetime",
        apply: |c, v| set(&mut c.permanent_absolute_lifetime, v.seconds()?),
    },
    Var {
        name: "GIMLET_TRANSIENT_ABSOLUTE_LIFETIME",
        aliases: &[],
        setting: "transient_absolute_lifetime",
        apply: |c, v| set(&mut c.transient_absolute_lifetime, v.seconds()?),
    },
    Var {
        name: "GIMLET_MAX_SESSION_LIFETIME",
        aliases: &[],
        setting: "max_session_lifetime",
        apply: |c, v| set(&mut c.max_session_lifetime, v.seconds()?),
    },
    Var {
        name: "GIMLET_REVALIDATE_AFTER",
        aliases: &[],
        setting: "revalidate_after",
        apply: |c, v| set(&mut c.revalidate_after, v.seconds()?),
    },
    Var {
        name: "GIMLET_REVOCABLE",
        aliases: &[],
        setting: "revocable",
        apply: |c, v| set(&mut c.revocable, v.flag()?),
    },
    Var {
        name: "GIMLET_COMMIT_FAILED_REQUESTS",
        aliases: &[],
        setting: "commit_failed_requests",
        apply: |c, v| set(&mut c.commit_failed_requests, v.flag()?),
    },
    Var {
        name: "GIMLET_REFRESH_FRACTION",
        aliases: &[],
        setting: "refresh_fraction",
        apply: |c, v| {
            let fraction = v.text.trim().parse();
            c.refresh_fraction =
                fraction.map_err(|_| ConfigError::variable(v.name, "is a number"))?;
            Ok(())
        },
    },
    Var {
        name: "GIMLET_MAX_VALUE_SIZE",
        aliases: &[],
        setting: "max_value_size",
        apply: |c, v| set(&mut c.max_value_size, v.number()?),
    },
    Var {
        name: "GIMLET_MAX_SESSION_BYTES",
        aliases: &[],
        setting: "max_session_bytes",
        apply: |c, v| set(&mut c.max_session_bytes, Some(v.number()?)),
    },
    Var {
        name: "GIMLET_COOKIE_CACHE_BYTES",
        aliases: &[],
        setting: "cookie_cache_bytes",
        apply: |c, v| set(&mut c.cookie_cache_bytes, v.number()?),
    },
    Var {
        name: "GIMLET_NEAR_CACHE_BYTES",
        aliases: &[],
        setting: "near_cache_bytes",
        apply: |c, v| set(&mut c.near_cache_bytes, v.number()?),
    },
    Var {
        name: "GIMLET_NEAR_CACHE_TTL",
        aliases: &[],
        setting: "near_cache_ttl",
        apply: |c, v| set(&mut c.near_cache_ttl, v.seconds()?),
    },
    Var {
        name: "GIMLET_MAX_SESSIONS_PER_OWNER",
        aliases: &[],
        setting: "max_sessions_per_owner",
        apply: |c, v| set(&mut c.max_sessions_per_owner, Some(v.number()?)),
    },
    Var {
        name: "GIMLET_COOKIE_PERMANENT_NAME",
        aliases: &["GIMLET_PERMANENT_COOKIE"],
        setting: "cookie.permanent_name",
        apply: |c, v| set(&mut c.cookie.permanent_name, v.text()),
    },
    Var {
        name: "GIMLET_COOKIE_TRANSIENT_NAME",
        aliases: &["GIMLET_TRANSIENT_COOKIE"],
        setting: "cookie.transient_name",
        apply: |c, v| set(&mut c.cookie.transient_name, v.text()),
    },
    Var {
        name: "GIMLET_COOKIE_TOKEN_NAME",
        aliases: &[],
        setting: "cookie.token_name",
        apply: |c, v| set(&mut c.cookie.token_name, v.text()),
    },
    Var {
        name: "GIMLET_COOKIE_SECURE",
        aliases: &["GIMLET_SECURE"],
        setting: "cookie.secure",
        apply: |c, v| set(&mut c.cookie.secure, v.flag()?),
    },
    Var {
        name: "GIMLET_COOKIE_HTTP_ONLY",
        aliases: &["GIMLET_HTTP_ONLY"],
        setting: "cookie.http_only",
        apply: |c, v| set(&mut c.cookie.http_only, v.flag()?),
    },
    Var {
        name: "GIMLET_COOKIE_SAME_SITE",
        aliases: &["GIMLET_SAME_SITE"],
        setting: "cookie.same_site",
        apply: |c, v| {
            c.cookie.same_site = match v.text.trim().to_ascii_lowercase().as_str() {
                "strict" => SameSite::Strict,
                "lax" => SameSite::Lax,
                "none" => SameSite::None,
                _ => return Err(ConfigError::variable(v.name, "is strict, lax or none")),
            };
            Ok(())
        },
    },
    Var {
        name: "GIMLET_COOKIE_PATH",
        aliases: &[],
        setting: "cookie.path",
        apply: |c, v| set(&mut c.cookie.path, v.text()),
    },
    Var {
        name: "GIMLET_COOKIE_DOMAIN",
        aliases: &[],
        setting: "cookie.domain",
        apply: |c, v| set(&mut c.cookie.domain, Some(v.text())),
    },
    Var {
        name: "GIMLET_COOKIE_HOST_PREFIX",
        aliases: &["GIMLET_HOST_PREFIX"],
        setting: "cookie.host_prefix",
        apply: |c, v| set(&mut c.cookie.host_prefix, Some(v.flag()?)),
    },
    Var {
        name: "GIMLET_COOKIE_MAX_SIZE",
        aliases: &[],
        setting: "cookie.max_size",
        apply: |c, v| set(&mut c.cookie.max_size, v.number()?),
    },
];

/// Applies every variable `lookup` knows (an empty one counts as unset; a
/// variable's current name wins over its older ones), and returns them,
/// each by the name it was found under.
pub(crate) fn apply(
    config: &mut Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Found>, ConfigError> {
    let mut applied = Vec::new();
    for var in VARS {
        let mut names = std::iter::once(var.name).chain(var.aliases.iter().copied());
        let found =
            names.find_map(|name| Some((name, lookup(name).filter(|v| !v.trim().is_empty())?)));
        if let Some((name, text)) = found {
            (var.apply)(config, &Value { name, text: &text })?;
            applied.push(Found {
                name,
                setting: var.setting,
            });
        }
    }
    Ok(applied)
}

/// A variable that was set: the name it was found under, and its setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub(crate) name: &'static str,
    pub(crate) setting: &'static str,
}
