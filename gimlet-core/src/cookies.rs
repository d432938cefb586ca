//! `Set-Cookie` header values: names, attributes and the size limit.

use cookie::time::{Duration, OffsetDateTime};
use cookie::{Cookie, CookieBuilder};

use crate::config::{CookieConfig, SameSite};
use crate::placement::Lifetime;

/// Writes the two channels' `Set-Cookie` values with the configured
/// attributes. Adapters get finished strings, so their own `cookie` crate
/// version does not matter.
#[derive(Debug)]
pub(crate) struct CookieWriter {
    names: [String; 2],
    config: CookieConfig,
    /// Bytes of a `Set-Cookie` value besides the cookie value, by kind.
    overhead: [usize; 2],
}

/// Whether the names carry `__Host-`: as configured, or by default whenever
/// the attributes allow it.
pub(crate) fn host_prefix(config: &CookieConfig) -> bool {
    config
        .host_prefix
        .unwrap_or(config.secure && config.path == "/" && config.domain.is_none())
}

impl CookieWriter {
    pub(crate) fn new(config: CookieConfig, permanent_lifetime: u64) -> Self {
        let prefix = if host_prefix(&config) { "__Host-" } else { "" };
        let names = [
            format!("{prefix}{}", config.permanent_name),
            format!("{prefix}{}", config.transient_name),
        ];
        let mut writer = CookieWriter {
            names,
            config,
            overhead: [0; 2],
        };
        writer.overhead = [
            writer
                .set(Lifetime::Permanent, "", Some(permanent_lifetime))
                .len(),
            writer.set(Lifetime::Transient, "", None).len(),
        ];
        writer
    }

    pub(crate) fn name(&self, kind: Lifetime) -> &str {
        &self.names[kind.index()]
    }

    pub(crate) fn kind_of(&self, name: &str) -> Option<Lifetime> {
        Lifetime::BOTH.into_iter().find(|&k| self.name(k) == name)
    }

    /// Gimlet's cookies in `Cookie` header text, by channel, in the order
    /// sent: `name=value` pairs separated by `;`, with the spaces around
    /// names and values dropped. Other cookies and malformed pairs are
    /// skipped.
    pub(crate) fn scan<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (Lifetime, &'a str)> {
        text.split(';').filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((self.kind_of(name.trim())?, value.trim()))
        })
    }

    /// The most bytes a `Set-Cookie` value with a cookie value of
    /// `value_len` bytes can take.
    pub(crate) fn size(&self, kind: Lifetime, value_len: usize) -> usize {
        self.overhead[kind.index()] + value_len
    }

    pub(crate) fn max_size(&self) -> usize {
        self.config.max_size
    }

    fn builder<'c>(&self, kind: Lifetime, value: &'c str) -> CookieBuilder<'c> {
        let c = &self.config;
        let mut builder = Cookie::build((self.name(kind).to_owned(), value))
            .path(c.path.clone())
            .http_only(c.http_only)
            .secure(c.secure)
            .same_site(match c.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            });
        if let Some(domain) = &c.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }

    /// A cookie carrying `value`; `max_age` in seconds, or a browser-session
    /// cookie with `None`.
    pub(crate) fn set(&self, kind: Lifetime, value: &str, max_age: Option<u64>) -> String {
        let mut builder = self.builder(kind, value);
        if let Some(age) = max_age {
            let age = i64::try_from(age).unwrap_or(i64::MAX);
            builder = builder.max_age(Duration::seconds(age));
        }
        builder.build().to_string()
    }

    /// A cookie that makes the browser drop the channel's cookie. It carries
    /// the same attributes, or the browser would not match it.
    pub(crate) fn removal(&self, kind: Lifetime) -> String {
        self.builder(kind, "")
            .max_age(Duration::ZERO)
            .expires(OffsetDateTime::UNIX_EPOCH)
            .build()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning_finds_gimlet_s_cookies_in_order_and_skips_the_rest() {
        let config = CookieConfig {
            secure: false,
            ..CookieConfig::default()
        };
        let writer = CookieWriter::new(config, 60);
        let (p, n) = (
            writer.name(Lifetime::Permanent),
            writer.name(Lifetime::Transient),
        );
        let text =
            format!("theme=dark; {n}=one;{p} = two ;junk; ={n}; {n}=three=3;other={p};{n}=\"q\"");
        let found: Vec<(Lifetime, &str)> = writer.scan(&text).collect();
        assert_eq!(
            found,
            [
                (Lifetime::Transient, "one"),
                (Lifetime::Permanent, "two"),
                (Lifetime::Transient, "three=3"),
                (Lifetime::Transient, "\"q\""),
            ]
        );
        assert_eq!(writer.scan("").count(), 0);
        assert_eq!(writer.scan(";;; = ;").count(), 0);
    }
}
